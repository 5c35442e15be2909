"""Every Claude Desktop configuration in README.md, run as written (placeholders replaced by real
paths) with the mcp client: analyze_trait on Bile_Duct_Cancer completes with genes.

The variants: uvx from the checkout (`uvx --from <checkout> genoteam serve`), the pip-installed
console script (the wheel's venv first on PATH), and the server image through `docker run -i`.
One change to what is written: the image name `genoteam-server` becomes the content-hash tag of
the image built from these sources, because `:latest` on a shared machine may be another build's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.install.installed import ROOT, UV_BIN, clean_env, uv_tool

README = ROOT / "README.md"
PLACEHOLDERS = ("/path/to/genoteam-workspace", "/path/to/genotex/input", "/path/to/genoteam")


def claude_desktop_blocks() -> dict[str, dict]:
    """The JSON blocks of the README's Claude Desktop section, by command."""
    text = README.read_text()
    section = text.split("### Claude Desktop", 1)[1].split("\n### ", 1)[0]
    blocks = {}
    for raw in re.findall(r"```json\n(.*?)```", section, flags=re.S):
        server = json.loads(raw)["mcpServers"]["genoteam"]
        blocks[server["command"]] = server
    return blocks


def test_the_readme_has_the_three_variants():
    assert set(claude_desktop_blocks()) == {"uvx", "genoteam", "docker"}


def _as_written(server: dict, real: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
    def fill(value: str) -> str:
        for placeholder in PLACEHOLDERS:  # longest first: the workspace path contains the checkout's
            value = value.replace(placeholder, real[placeholder])
        return value

    return (
        server["command"],
        [fill(a) for a in server["args"]],
        {k: fill(v) for k, v in server["env"].items()},
    )


async def _analyze(params: StdioServerParameters) -> tuple[dict, dict]:
    async with Client(params, read_timeout_seconds=300) as client:
        job = (
            await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 40})
        ).structured_content
        for _ in range(30):
            if job["state"] not in {"queued", "running"}:
                break
            job = (
                await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 40})
            ).structured_content
        result = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 5})
        return job, result.structured_content or {"error": result.content[0].text}


@pytest.mark.docker
@pytest.mark.parametrize("variant", ["uvx", "genoteam", "docker"])
def test_claude_desktop_config_runs_as_written(variant, request, shared_input, sandbox_image, tmp_path):
    real = {
        "/path/to/genoteam": str(ROOT),
        "/path/to/genotex/input": str(shared_input),
        "/path/to/genoteam-workspace": str(tmp_path / "workspace"),
    }
    command, args, env = _as_written(claude_desktop_blocks()[variant], real)
    path_first: list[Path] = []
    if variant == "uvx":
        uv_tool("uvx")
        path_first = [UV_BIN]
    elif variant == "genoteam":
        path_first = [request.getfixturevalue("venv") / "bin"]
    else:
        image = request.getfixturevalue("server_image")
        assert args[-1] == "genoteam-server" and "--pull=never" in args
        args[-1] = image
    # what Claude Desktop passes: its own environment plus the block's env
    params = StdioServerParameters(
        command=command, args=args, env=clean_env(path_first, **env), cwd=str(tmp_path)
    )
    job, result = anyio.run(_analyze, params)
    assert job["state"] == "complete", job
    assert result["status"] == "complete" and len(result["selected_cohorts"]) == 1, result
    assert result["total_genes"] > 100 and result["genes"], result
    assert result["sandbox"] == "docker"
    on_host = tmp_path / "workspace" / "jobs" / job["job_id"] / "result.json"
    assert json.loads(on_host.read_text())["significant_genes"]  # the host's workspace, every variant
