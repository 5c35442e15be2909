"""Helpers of the server tests: the step engine's env, the client venvs, and the real server as a
subprocess (stdio parameters, or HTTP on a loopback port). Not named conftest: test modules import it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mcp import StdioServerParameters

from tests.prerequisites import skip_or_fail_in_ci

ENGINES_DIR = Path(__file__).resolve().parent / "engines"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENVS = PROJECT_ROOT / ".venvs"


def step_engine_env(**extra: str) -> dict[str, str]:
    env = {
        "GENOTEAM_ENGINES": "steps=genoteam_step_engine:run",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ENGINES_DIR), os.environ.get("PYTHONPATH", "")])),
    }
    env.update(extra)
    return env


def need_tool(path: Path, what: str) -> Path:
    """A client installed by scripts/setup.d/50-mcp-clients.sh; skip (fail in CI) without it."""
    if not path.exists():
        skip_or_fail_in_ci(f"{what} is not installed at {path}: run bash scripts/setup.d/50-mcp-clients.sh")
    return path


def server_env(input_dir: Path, workspace: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GENOTEAM_INPUT": str(input_dir), "GENOTEAM_WORKSPACE": str(workspace)})
    env.update(extra)
    return env


def serve_argv(*args: str) -> list[str]:
    """`genoteam serve ARGS` run by this interpreter, as every server test and client starts it."""
    return [sys.executable, "-m", "genoteam", "serve", *args]


def stdio_params(env: dict[str, str], *args: str) -> StdioServerParameters:
    command, *rest = serve_argv(*args)
    return StdioServerParameters(command=command, args=rest, env=env)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def http_server(env: dict[str, str], *args: str, host: str = "127.0.0.1") -> Iterator[str]:
    """Run `genoteam serve --transport http` on a free loopback port; yield its MCP URL."""
    port = free_port()
    process = subprocess.Popen(
        serve_argv("--transport", "http", "--host", host, "--port", str(port), *args),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {process.stdout.read().decode()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the HTTP server did not listen within 30 s")
        yield f"http://{host}:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
