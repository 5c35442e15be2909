"""Shared fixtures: the real data folder beside the checkout and the Docker engine.

Tests that need ../shared/data skip with a clear message when it is absent (a user's checkout
has none). Tests that need Docker skip with one clear message on a machine without an engine,
but fail in CI (CI=true), where .ci/run starts one: they must never be skipped there silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real GEO/TCGA files of ../shared/data, or a skip when this checkout has none."""
    if not (SHARED_DATA / "input").is_dir():
        if IN_CI:
            pytest.fail(f"CI needs the real data folder at {SHARED_DATA}, and it is missing")
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the checkout in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_input(shared_data: Path) -> Path:
    return shared_data / "input"


@pytest.fixture(scope="session")
def task_info_path(shared_data: Path) -> Path:
    return shared_data / "metadata" / "task_info.json"


def _docker_engine_answers() -> str | None:
    """None when an engine answers, else the reason it does not."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
        return None
    except Exception as error:  # any failure to reach the engine means: no engine
        return f"{type(error).__name__}: {error}"


@pytest.fixture(scope="session")
def docker_engine():
    """A docker-py client for a running engine; skip (or fail in CI) when none answers."""
    reason = _docker_engine_answers()
    if reason is not None:
        message = f"no Docker engine answers ({reason}); start dockerd or run `bash .ci/run`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    import docker

    return docker.from_env()
