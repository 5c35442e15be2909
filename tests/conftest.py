"""Shared fixtures: the real data folder beside the checkout and the Docker engine.

Tests that need ../shared/data skip with a clear message when it is absent (a user's checkout
has none). Tests that need Docker skip with one clear message on a machine without an engine,
but fail in CI (CI=true), where .ci/run starts one: they must never be skipped there silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.prerequisites import skip_or_fail_in_ci

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real GEO/TCGA files of ../shared/data, or a skip when this checkout has none."""
    if not (SHARED_DATA / "input").is_dir():
        skip_or_fail_in_ci(f"real data folder {SHARED_DATA} is absent (it sits beside the checkout in CI)")
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
        skip_or_fail_in_ci(f"no Docker engine answers ({reason}); start dockerd or run `bash .ci/run`")
    import docker

    return docker.from_env()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that reaches the Docker engine carries the `docker` marker, so `-m "not docker"`
    really leaves Docker out; a test that forgets it stops the run here instead of hiding."""
    unmarked = [
        item.nodeid
        for item in items
        if "docker_engine" in getattr(item, "fixturenames", ()) and item.get_closest_marker("docker") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the docker_engine fixture but lack @pytest.mark.docker: " + ", ".join(unmarked)
        )
