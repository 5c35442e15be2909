"""The server image, built from the current sources and driven over stdio with `docker run -i`.

The container reaches the host's Docker engine through the mounted socket, and the workspace is
data are mounted at the same paths as on the host (the mapping the README prescribes), so the job
folder the containerised server writes is the host's.
"""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client, StdioServerParameters

from genoteam.server.app import CATALOGUE
from genoteam.server.image import build_server_image
from tests.server.mcp_server_procs import ENGINES_DIR

SOCKET = "/var/run/docker.sock"


@pytest.fixture(scope="module")
def server_image(docker_engine) -> str:
    return build_server_image(docker_engine, progress=lambda line: None)


def docker_run(image: str, shared_input, workspace, *extra: str) -> StdioServerParameters:
    args = [
        "run",
        "-i",
        "--rm",
        "--init",
        "--pull=never",
        "--network",
        "none",
        "-v",
        f"{SOCKET}:{SOCKET}",
        "-v",
        f"{shared_input}:{shared_input}:ro",
        "-e",
        f"GENOTEAM_INPUT={shared_input}",
        "-v",
        f"{workspace}:{workspace}",
        "-e",
        f"GENOTEAM_WORKSPACE={workspace}",
        *extra,
        image,
    ]
    return StdioServerParameters(command="docker", args=args)


@pytest.mark.docker
def test_server_image_over_stdio_runs_a_job_into_the_host_workspace(server_image, shared_input, workspace):
    engine = [
        "-v",
        f"{ENGINES_DIR}:/engines:ro",
        "-e",
        "PYTHONPATH=/engines",
        "-e",
        "GENOTEAM_ENGINES=steps=genoteam_step_engine:run",
        "-e",
        "GENOTEAM_ENGINE=steps",
        "-e",
        "GENOTEAM_STEP_ENGINE_STEPS=3",
        "-e",
        "GENOTEAM_STEP_ENGINE_STEP_S=0.2",
    ]

    async def main():
        async with Client(
            docker_run(server_image, shared_input, workspace, *engine), read_timeout_seconds=120
        ) as client:
            tools = await client.list_tools()
            traits = await client.call_tool("list_traits", {"query": "Kidney"})
            job = await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 40})
            result = await client.call_tool(
                "get_result", {"job_id": job.structured_content["job_id"], "top_k": 2}
            )
            return tools, traits, job.structured_content, result.structured_content

    tools, traits, job, result = anyio.run(main)
    assert sorted(t.name for t in tools.tools) == sorted(CATALOGUE)  # every tool served
    assert [t["trait"] for t in traits.structured_content["traits"]] == [
        "Kidney_Chromophobe",
        "Kidney_Clear_Cell_Carcinoma",
        "Kidney_Papillary_Cell_Carcinoma",
    ]
    assert job["state"] == "complete", job
    assert result["selected_cohorts"] == ["CHOL"] and result["cohorts"][0]["sample_size"] == 45
    on_host = workspace / "jobs" / job["job_id"] / "result.json"
    assert json.loads(on_host.read_text())["selected_cohorts"] == ["CHOL"]  # same path inside and out
