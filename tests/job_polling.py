"""Polling a genoteam job through an MCP client until it ends (shared by the server and sandbox tests)."""

from __future__ import annotations

import anyio
from mcp import Client


async def finish(client: Client, job: dict, limit_s: float = 300) -> dict:
    """Poll get_job until the job leaves queued/running; fail the test after `limit_s`."""
    assert job is not None, "the tool call failed"
    with anyio.fail_after(limit_s):
        while job["state"] in {"queued", "running"}:
            reply = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 10})
            job = reply.structured_content
    return job
