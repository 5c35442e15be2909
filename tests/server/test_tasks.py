"""analyze_trait as an MCP task, in both protocol shapes, with real clients.

- io.modelcontextprotocol/tasks (SEP-2663, 2026-07-28): the mcp 2.x client with a ClientExtension
  that declares the extension and resolves `resultType: "task"` by polling tasks/get.
- 2025-11-25 tasks utility: the mcp 1.x SDK's own experimental task client over stdio
  (call_tool_as_task, poll_task, get_task_result, list_tasks).
The job machinery runs on the test-only step engine (real detached workers), so timing is known.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import Client

from genoteam.server.app import build_server
from tests.server.mcp_server_procs import VENVS, need_tool, step_engine_env
from tests.server.task_clients import EXTENSION, TasksClientExtension

CLIENTS = Path(__file__).resolve().parent / "clients"


def test_extension_shape_starts_analyze_trait_as_a_task_polls_and_gets_the_result(step_config, step_engine):
    step_engine(GENOTEAM_STEP_ENGINE_STEPS="4", GENOTEAM_STEP_ENGINE_STEP_S="0.4")
    tasks = TasksClientExtension()

    async def main():
        async with Client(build_server(step_config), extensions=[tasks]) as client:
            capabilities = client.server_capabilities
            result = await client.call_tool("analyze_trait", {"trait": "bile duct cancer"})
            again = await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer"})  # now complete
            refused = await client.call_tool("analyze_trait", {"trait": "No such trait"})
        async with Client(build_server(step_config)) as plain:  # declares nothing: the job tools as before
            explicit = await plain.call_tool(
                "analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 0}
            )
            return capabilities, result, again, refused, explicit, plain.protocol_version

    capabilities, result, again, refused, explicit, version = anyio.run(main)
    assert version >= "2026" and EXTENSION in (capabilities.extensions or {})
    [handle] = tasks.handles  # the first call became a task; the second found the job complete
    assert handle.status == "working" and handle.task_id.startswith("job-")
    statuses = [p.status for p in tasks.polls]
    assert statuses[-1] == "completed" and statuses[0] == "working", statuses
    assert not result.is_error and result.structured_content["job_id"] == handle.task_id
    assert result.structured_content["state"] == "complete"
    assert result.structured_content["result"]["total_genes"] == 30
    assert "Significant genes: 30" in result.content[0].text
    assert not again.is_error and again.structured_content["job_id"] == handle.task_id
    assert refused.is_error and "no trait 'No such trait'" in refused.content[0].text
    assert explicit.structured_content["job_id"] == handle.task_id and explicit.structured_content["state"]


def test_2025_shape_with_the_mcp1_task_client(shared_input, workspace):
    python = need_tool(VENVS / "mcp1" / "bin" / "python", "the mcp 1.x client")
    env = {
        **os.environ,
        **step_engine_env(
            GENOTEAM_ENGINE="steps", GENOTEAM_STEP_ENGINE_STEPS="4", GENOTEAM_STEP_ENGINE_STEP_S="0.5"
        ),
        "GENOTEAM_INPUT": str(shared_input),
        "GENOTEAM_WORKSPACE": str(workspace),
    }
    out = subprocess.run(
        [str(python), str(CLIENTS / "legacy_tasks_client.py"), sys.executable, "Bile Duct Cancer"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["protocol"] == "2025-11-25"
    assert seen["tasks_capability"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
    assert seen["task_support"] == "optional" and seen["created_status"] == "working"
    assert seen["statuses"][0] == "working" and seen["statuses"][-1] == "completed"
    assert seen["related"] == {"taskId": seen["task_id"]} and seen["listed"] == [seen["task_id"]]
    assert seen["structured"]["job_id"] == seen["task_id"] and seen["structured"]["state"] == "complete"
    assert "Significant genes: 30" in seen["result_text"]
    assert seen["bad"].startswith("no trait 'No such trait'")
    job = json.loads((workspace / "jobs" / seen["task_id"] / "job.json").read_text())
    assert job["request"]["trait"] == "Bile_Duct_Cancer"  # the task is the job, on disk
