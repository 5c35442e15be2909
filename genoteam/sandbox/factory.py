"""`open_session`: the one entry point callers use to get a sandbox session."""

from __future__ import annotations

from genoteam.sandbox.api import SessionSpec
from genoteam.sandbox.docker_backend import engine_answers, open_docker_session
from genoteam.sandbox.local_backend import open_local_session
from genoteam.sandbox.pool import SessionPool
from genoteam.sandbox.session import KernelSession
from genoteam.toolkit.errors import GenoteamError

BACKENDS = ("auto", "docker", "local")
_default_pool: SessionPool | None = None


def default_pool() -> SessionPool:
    global _default_pool
    if _default_pool is None:
        _default_pool = SessionPool()
    return _default_pool


def resolve_backend(backend: str) -> str:
    """'auto' is Docker whenever an engine answers, else the (loudly unsafe) local backend."""
    if backend not in BACKENDS:
        raise GenoteamError(f"unknown sandbox backend {backend!r}", f"choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "docker" if engine_answers() else "local"
    return backend


def open_session(
    spec: SessionSpec, backend: str = "auto", pool: SessionPool | None = None, image: str | None = None
) -> KernelSession:
    """A started session (kernel running) for `spec`; close it, or use it as a context manager.

    Waits for a free slot of `pool` (default: GENOTEAM_SANDBOX_POOL_SIZE sessions per user).
    `image` pins a Docker image (default: the one built from the current sources).
    """
    chosen = resolve_backend(backend)
    slot = (pool or default_pool()).acquire()
    try:
        if chosen == "docker":
            return open_docker_session(spec, slot=slot, image=image)
        return open_local_session(spec, slot=slot)
    except BaseException:
        slot.release()
        raise
