"""HTTP /healthz and /readyz of the real server process: liveness, and readiness that names the
failing check (no engine, unwritable workspace), answered without the bearer token and without
host paths."""

from __future__ import annotations

import httpx
import pytest

from tests.server.mcp_server_procs import http_server, server_env

TOKEN = "t" * 32


def _get(url: str, path: str) -> httpx.Response:
    return httpx.get(url.removesuffix("/mcp") + path, timeout=30)


@pytest.mark.docker
def test_ready_with_an_engine_and_the_sandbox_image(docker_engine, shared_input, workspace):
    from genoteam.sandbox.image import ensure_image

    ensure_image(docker_engine, progress=lambda line: None)
    with http_server(server_env(shared_input, workspace, GENOTEAM_TOKEN=TOKEN)) as url:
        health, ready = _get(url, "/healthz"), _get(url, "/readyz")
        unauthorised = httpx.post(url, json={}, timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 200, ready.text
    assert {name: c["ok"] for name, c in ready.json()["checks"].items()} == {
        "docker": True,
        "sandbox_image": True,
        "workspace": True,
    }
    assert str(workspace) not in ready.text and str(shared_input) not in ready.text
    assert unauthorised.status_code == 401  # the token still guards the MCP endpoint


def test_not_ready_says_which_check_failed(shared_input, workspace, tmp_path):
    workspace.chmod(0o500)  # read-only (root bypasses modes, so also no engine below)
    dead = f"unix://{tmp_path / 'no-engine.sock'}"
    try:
        with http_server(server_env(shared_input, workspace, DOCKER_HOST=dead)) as url:
            health, ready = _get(url, "/healthz"), _get(url, "/readyz")
            wrong_method = httpx.post(url.removesuffix("/mcp") + "/readyz", timeout=30)
    finally:
        workspace.chmod(0o700)
    assert health.status_code == 200
    assert ready.status_code == 503, ready.text
    checks = ready.json()["checks"]
    assert checks["docker"] == {"ok": False, "detail": "no Docker engine answers: start Docker"}
    assert not checks["sandbox_image"]["ok"] and ready.json()["ready"] is False
    assert wrong_method.status_code == 405
