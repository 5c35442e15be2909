"""genoteam.sandbox: run analysis code in hardened, persistent kernels (Docker, or local).

Callers use `open_session(spec, backend="auto")` and the contract in `genoteam.sandbox.api`.
"""

from genoteam.sandbox.api import CellResult, CellStatus, SandboxLimits, SandboxSession, SessionSpec
from genoteam.sandbox.factory import open_session
from genoteam.sandbox.pool import SessionPool

__all__ = [
    "CellResult",
    "CellStatus",
    "SandboxLimits",
    "SandboxSession",
    "SessionPool",
    "SessionSpec",
    "open_session",
]
