"""The real server process over stdio and streamable HTTP, driven by the mcp 2.x client.

Covers: workers that outlive the server process (a restarted server lists and finishes the
job), cancellation that stops the worker and its labelled containers, Host header checks and
the bearer token on HTTP.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from genoteam.sandbox import lifecycle
from genoteam.sandbox.lifecycle import LABEL_JOB
from genoteam.server.app import CATALOGUE
from genoteam.server.jobs import JobStore
from tests.server.mcp_server_procs import (
    PROJECT_ROOT,
    http_server,
    serve_argv,
    server_env,
    stdio_params,
    step_engine_env,
)

TOKEN = "t0ps3cret-t0ken-for-tests-only"


def steps_server_env(input_dir: Path, workspace: Path, steps: int, **extra: str) -> dict[str, str]:
    """The real server's environment with the step engine: `steps` steps of 0.5 s each."""
    return server_env(
        input_dir,
        workspace,
        GENOTEAM_ENGINE="steps",
        **step_engine_env(GENOTEAM_STEP_ENGINE_STEPS=str(steps), GENOTEAM_STEP_ENGINE_STEP_S="0.5", **extra),
    )


async def wait_running(client, job_id: str, timeout_s: float = 60) -> dict:
    """Poll get_job until the worker runs the engine (the machine may be busy: no fixed sleeps)."""
    with anyio.fail_after(timeout_s):
        while True:
            job = (await client.call_tool("get_job", {"job_id": job_id})).structured_content
            if job["state"] != "queued":
                return job
            await anyio.sleep(0.2)


def recorded_worker(store: JobStore, job_id: str, timeout_s: float = 60):
    """The job's status once its worker has written its pid (a busy machine starts it late)."""
    deadline = time.monotonic() + timeout_s
    while (status := store.get(job_id).status).pid is None:
        assert time.monotonic() < deadline, f"the worker never recorded its pid: {status}"
        time.sleep(0.2)
    return status


async def wait_finished(client, job_id: str, timeout_s: float = 180) -> dict:
    """Poll get_job until the job leaves queued/running (no fixed wait: the machine may be busy)."""
    with anyio.fail_after(timeout_s):
        while True:
            job = (
                await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 10})
            ).structured_content
            if job["state"] not in {"queued", "running"}:
                return job


def local_image(docker_engine) -> str:
    """A local image with `sleep` (the sandbox base), never pulled."""
    tag = subprocess.run(
        ["bash", str(PROJECT_ROOT / "sandbox_image" / "build_base.sh"), "--print-tag"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    images = [tag] + [
        t for image in docker_engine.images.list() for t in image.tags if t.startswith("genoteam-sandbox")
    ]
    for candidate in images:
        try:
            docker_engine.images.get(candidate)
            return candidate
        except Exception:
            continue
    pytest.fail("no local genoteam sandbox image: run bash scripts/setup.d/40-sandbox-image.sh")


def test_stdio_worker_outlives_the_server_and_a_new_server_finishes_serving_it(shared_input, workspace):
    env = steps_server_env(shared_input, workspace, steps=8)

    async def first_server():
        async with Client(stdio_params(env)) as client:
            started = await client.call_tool(
                "analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 1}
            )
            return started.structured_content

    job = anyio.run(first_server)  # the server process exits when the client closes
    assert job["state"] in {"queued", "running"}, job
    status = recorded_worker(JobStore(workspace), job["job_id"])
    assert lifecycle.is_alive(status.pid, status.pid_start), "the worker died with the server"

    async def second_server():
        async with Client(stdio_params(env)) as client:
            listed = await client.call_tool("list_jobs", {})
            done = await wait_finished(client, job["job_id"])
            result = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 3})
            return listed.structured_content, done, result.structured_content

    listed, done, result = anyio.run(second_server)
    assert [j["job_id"] for j in listed["jobs"]] == [job["job_id"]]
    assert (
        done["state"] == "complete" and result["selected_cohorts"] == ["CHOL"] and len(result["genes"]) == 3
    )


def test_killed_worker_is_reported_interrupted_and_restarts_on_resubmit(shared_input, workspace):
    env = steps_server_env(shared_input, workspace, steps=40)

    async def main():
        async with Client(stdio_params(env)) as client:
            job = (
                await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 1})
            ).structured_content
            await wait_running(client, job["job_id"])
            status = JobStore(workspace).get(job["job_id"]).status
            assert lifecycle.stop_group(status.pid, status.pid_start, grace_s=0)  # a crash, not a cancel
            seen = (await client.call_tool("get_job", {"job_id": job["job_id"]})).structured_content
            again = (
                await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 0})
            ).structured_content
            await client.call_tool("cancel_job", {"job_id": job["job_id"]})
            return seen, again

    seen, again = anyio.run(main)
    assert seen["state"] == "interrupted" and "worker process stopped" in seen["error"]
    assert again["started_now"] and again["attempt"] == 2


@pytest.mark.docker
def test_http_loopback_cancel_stops_worker_and_containers(shared_input, workspace, docker_engine):
    image = local_image(docker_engine)
    env = steps_server_env(shared_input, workspace, steps=200, GENOTEAM_STEP_ENGINE_IMAGE=image)

    async def main(url):
        async with Client(url) as client:
            tools = await client.list_tools()
            job = (
                await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 1})
            ).structured_content
            job = await wait_running(client, job["job_id"])
            with anyio.fail_after(60):  # the engine starts its container first
                while not (
                    labelled := docker_engine.containers.list(
                        filters={"label": f"{LABEL_JOB}={job['job_id']}"}
                    )
                ):
                    await anyio.sleep(0.2)
            cancelled = await client.call_tool("cancel_job", {"job_id": job["job_id"]})
            again = await client.call_tool("cancel_job", {"job_id": job["job_id"]})
            return tools, job, labelled, cancelled.structured_content, again.structured_content

    with http_server(env) as url:
        tools, job, labelled, cancelled, again = anyio.run(main, url)
    assert sorted(t.name for t in tools.tools) == sorted(CATALOGUE)  # every tool served
    assert job["state"] == "running" and len(labelled) == 1, (job, labelled)
    assert cancelled["job"]["state"] == "cancelled" and "removed 1 sandbox container" in cancelled["note"]
    assert "nothing to stop" in again["note"]
    assert docker_engine.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job['job_id']}"}) == []
    status = JobStore(workspace).get(job["job_id"]).status
    assert not lifecycle.is_alive(status.pid, status.pid_start)


def test_http_host_header_check_and_bearer_token(shared_input, workspace):
    env = server_env(shared_input, workspace, GENOTEAM_TOKEN=TOKEN)
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}

    async def main(url):
        async with httpx2.AsyncClient(timeout=30) as raw:
            anonymous = await raw.post(url, json=init, headers=headers)
            wrong = await raw.post(
                url, json=init, headers={**headers, "authorization": "Bearer wrong-token-123456789"}
            )
            rebinding = await raw.post(
                url,
                json=init,
                headers={**headers, "authorization": f"Bearer {TOKEN}", "host": "evil.example:80"},
            )
            oversized = await raw.post(
                url,
                content=b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_traits","arguments":{"query":"'
                + b"x" * 5_000_000
                + b'"}}}',
                headers={**headers, "authorization": f"Bearer {TOKEN}"},
            )
        async with httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}, timeout=60) as authed:
            async with Client(streamable_http_client(url, http_client=authed)) as client:
                traits = await client.call_tool("list_traits", {"query": "Bile"})
        return anonymous, wrong, rebinding, oversized, traits

    with http_server(env) as url:
        anonymous, wrong, rebinding, oversized, traits = anyio.run(main, url)
    assert anonymous.status_code == 401 and "GENOTEAM_TOKEN" in anonymous.text
    assert wrong.status_code == 401
    assert rebinding.status_code == 421  # DNS-rebinding protection stays on
    assert oversized.status_code == 413  # a 5 MB body is refused before any parsing
    assert traits.structured_content["traits"][0]["trait"] == "Bile_Duct_Cancer"


def test_non_loopback_bind_without_token_is_refused(workspace):
    out = subprocess.run(
        serve_argv("--transport", "http", "--host", "0.0.0.0", "--workspace", str(workspace)),
        capture_output=True,
        text=True,
        timeout=60,
        env={
            k: v
            for k, v in server_env(Path("/nonexistent"), workspace).items()
            if k not in {"GENOTEAM_TOKEN", "GENOTEAM_INPUT"}
        },
    )
    assert out.returncode == 1
    assert "without a bearer token" in out.stderr and "GENOTEAM_TOKEN" in out.stderr
