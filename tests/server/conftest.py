"""Fixtures of the server tests: a fresh workspace, the test-only step engine, server configs.

The step engine (tests/server/engines/genoteam_step_engine.py) is registered through
GENOTEAM_ENGINES, which the job workers inherit, so it runs in real detached worker processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genoteam.server.config import ServerConfig
from tests.data.geo_server import geo_server  # noqa: F401 (fixture: the loopback GEO server)
from tests.data.public_services import env, services  # noqa: F401 (fixtures: the loopback NCBI/GEO/Xena)
from tests.server.mcp_server_procs import ENGINES_DIR, step_engine_env


@pytest.fixture
def step_engine(monkeypatch):
    """Register the step engine for this test (workers inherit the environment)."""

    def use(**extra: str) -> None:
        for key, value in step_engine_env(**extra).items():
            monkeypatch.setenv(key, value)

    use()
    monkeypatch.syspath_prepend(str(ENGINES_DIR))  # the in-memory server resolves the engine too
    return use


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def step_config(shared_input: Path, workspace: Path, step_engine) -> ServerConfig:
    return ServerConfig(
        input_dir=shared_input, workspace=workspace, engine="steps", default_wait_s=10
    ).check()
