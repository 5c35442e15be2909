"""genoteam.sandbox: run analysis code in hardened, persistent kernels (Docker, or local).

Callers use `open_session(spec, backend="auto")` and the contract in `genoteam.sandbox.api`.
The backends load on first use, so modules that only need the contract or `hostfs` start fast.
"""

from typing import Any

from genoteam.sandbox.api import CellResult, CellStatus, SandboxLimits, SandboxSession, SessionSpec

__all__ = [
    "CellResult",
    "CellStatus",
    "SandboxLimits",
    "SandboxSession",
    "SessionPool",
    "SessionSpec",
    "open_session",
]


def __getattr__(name: str) -> Any:
    if name == "open_session":
        from genoteam.sandbox.factory import open_session

        return open_session
    if name == "SessionPool":
        from genoteam.sandbox.pool import SessionPool

        return SessionPool
    raise AttributeError(f"module 'genoteam.sandbox' has no attribute {name!r}")
