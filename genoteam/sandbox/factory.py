"""`open_session`: the one entry point callers use to get a sandbox session."""

from __future__ import annotations

import os

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


START_DOCKER = (
    "start Docker (Linux: `sudo systemctl start docker`, or as root `bash scripts/setup.d/20-docker-engine.sh` "
    "in a checkout; macOS/Windows: start Docker Desktop) and check that `docker info` answers"
)


def resolve_backend(backend: str, model_code: bool = False) -> str:
    """The backend that runs the code; the one home of the policy (docs/sandbox.md, "Which backend").

    docker: the Docker sandbox. auto: Docker when an engine answers, else an error saying how to
    start it: auto never runs code on the host. local: the host, not a security boundary, only
    when asked for and only for code no model wrote (`model_code` False: shipped, offline code).
    """
    if backend not in BACKENDS:
        raise GenoteamError(f"unknown sandbox backend {backend!r}", f"choose one of {', '.join(BACKENDS)}")
    if backend == "local" and model_code:
        raise GenoteamError(
            "--sandbox local would run model-written code on this machine without isolation "
            "(a model is configured for the team)",
            "use the Docker sandbox (--sandbox auto or docker); the local backend runs only the shipped "
            "offline code (no GENOTEAM_MODEL and no models in the team config)",
        )
    if backend != "auto":
        return backend
    if engine_answers():
        return "docker"
    local = (
        "model-written code never runs on the host, so --sandbox local is no option while a model is configured"
        if model_code
        else "or, to run genoteam's shipped offline code on this machine without isolation, pass --sandbox local "
        "(GENOTEAM_SANDBOX=local)"
    )
    raise GenoteamError(
        f"no Docker engine answers (DOCKER_HOST={os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'}), "
        "and --sandbox auto runs analysis code only in the Docker sandbox",
        f"{START_DOCKER}; {local}",
    )


def open_session(
    spec: SessionSpec,
    backend: str = "auto",
    pool: SessionPool | None = None,
    image: str | None = None,
    model_code: bool = False,
) -> KernelSession:
    """A started session (kernel running) for `spec`; close it, or use it as a context manager.

    Waits for a free slot of `pool` (default: GENOTEAM_SANDBOX_POOL_SIZE sessions per user).
    `image` pins a Docker image (default: the one built from the current sources). `model_code`:
    the session may run code a model wrote (then never on the host; see `resolve_backend`).
    """
    chosen = resolve_backend(backend, model_code)
    slot = (pool or default_pool()).acquire()
    try:
        if chosen == "docker":
            return open_docker_session(spec, slot=slot, image=image)
        return open_local_session(spec, slot=slot)
    except BaseException:
        slot.release()
        raise
