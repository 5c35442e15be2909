"""Fixtures of the install tests: the built wheel, the venv it is installed in, the images."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.install.installed import built_dist, installed_venv


@pytest.fixture(scope="session")
def say(request):
    """Print on the terminal even while output is captured (what is built, what is reused)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    return say if reporter and capture else print


@pytest.fixture(scope="session")
def dist(say) -> tuple[Path, Path]:
    return built_dist(say)


@pytest.fixture(scope="session")
def venv(dist, say) -> Path:
    return installed_venv(dist[1], say)


@pytest.fixture(scope="session")
def sandbox_image(docker_engine, say) -> str:
    """The sandbox image of the current sources (which the installed copy computes too)."""
    from genoteam.sandbox.image import ensure_image

    image = ensure_image(docker_engine, progress=lambda line: None)
    say(f"install tests: sandbox image {image.tags[0] if image.tags else image.id} (built once, reused)")
    return image.id


@pytest.fixture(scope="session")
def server_image(docker_engine, sandbox_image, say) -> str:
    from genoteam.server.image import build_server_image

    lines: list[str] = []
    tag = build_server_image(docker_engine, progress=lines.append)
    say(f"install tests: {lines[0] if lines else tag}")
    return tag
