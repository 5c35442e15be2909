"""Fixtures of the sandbox tests: the image built from the current sources, and session openers.

The image is built once per test run when it is missing (after a toolkit edit only its last
layers are rebuilt); every session a test opens is closed at teardown even when the test fails.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from genoteam.sandbox.api import SandboxLimits, SessionSpec
from genoteam.sandbox.factory import open_session
from genoteam.sandbox.pool import SessionPool
from genoteam.sandbox.session import KernelSession

# Small limits keep the hostile-code tests fast; each test states the limit it relies on.
TEST_LIMITS = SandboxLimits(memory="256m", cpus=1.0, pids=64, cell_timeout_s=60.0, output_limit_bytes=100_000)

Opener = Callable[..., KernelSession]


@pytest.fixture(scope="session")
def small_limits() -> SandboxLimits:
    return TEST_LIMITS


@pytest.fixture(scope="session")
def sandbox_run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `genoteam sandbox run SCRIPT ARGS` in a fresh process, as a user would; output captured as text."""

    def run(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "genoteam", "sandbox", "run", str(script), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    return run


@pytest.fixture(scope="session")
def sandbox_image_id(docker_engine) -> str:
    from genoteam.sandbox.image import ensure_image

    return ensure_image(docker_engine, progress=lambda line: print(line, flush=True)).id


def _opener(backend: str, tmp_path: Path, image: str | None) -> tuple[Opener, list[KernelSession]]:
    opened: list[KernelSession] = []
    pool = SessionPool(size=16, directory=tmp_path / "slots", wait_s=30)

    def open_(
        limits: SandboxLimits = TEST_LIMITS,
        inputs: dict[str, Path] | None = None,
        task_id: str = "test",
        job_id: str = "pytest",
        work: Path | None = None,
    ) -> KernelSession:
        work_dir = work or tmp_path / f"work-{len(opened)}"
        spec = SessionSpec(
            task_id=task_id, work_dir=work_dir, input_dirs=inputs or {}, job_id=job_id, limits=limits
        )
        session = open_session(spec, backend=backend, pool=pool, image=image)
        opened.append(session)
        return session

    return open_, opened


@pytest.fixture
def open_docker(sandbox_image_id: str, tmp_path: Path) -> Iterator[Opener]:
    open_, opened = _opener("docker", tmp_path, sandbox_image_id)
    yield open_
    for session in opened:
        session.close()


@pytest.fixture
def open_local(tmp_path: Path) -> Iterator[Opener]:
    open_, opened = _opener("local", tmp_path, None)
    yield open_
    for session in opened:
        session.close()
