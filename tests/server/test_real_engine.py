"""analyze_trait on real data (TCGA CHOL from ../shared/data) with the real reference engine,
through three mcp 2.x clients at once: in memory, a stdio subprocess and HTTP on loopback.

All three share one workspace and ask the same question, so the job runs once (the real
pipeline, ~1 min) and every client polls the same job to completion: idempotence across
transports and server processes, and results served by whichever server is asked.
"""

from __future__ import annotations

import math

import anyio
import pytest
from mcp import Client

from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig
from tests.server.mcp_server_procs import http_server, server_env, stdio_params

TRAIT = "Bile_Duct_Cancer"


async def analyse(target, progress: list[str]) -> dict:
    async def on_progress(value, total, message):
        progress.append(message or "")

    async with Client(target, read_timeout_seconds=120) as client:
        first = await client.call_tool(
            "analyze_trait", {"trait": TRAIT, "wait_seconds": 15}, progress_callback=on_progress
        )
        assert not first.is_error, first.content[0].text
        job = first.structured_content
        with anyio.fail_after(900):
            while job["state"] in {"queued", "running"}:
                job = (
                    await client.call_tool(
                        "get_job",
                        {"job_id": job["job_id"], "wait_seconds": 20},
                        progress_callback=on_progress,
                    )
                ).structured_content
        result = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 10})
        csv = await client.read_resource(f"genoteam://jobs/{job['job_id']}/genes.csv")
        report = await client.read_resource(f"genoteam://jobs/{job['job_id']}/report")
        return {
            "first": first.structured_content,
            "job": job,
            "page": result.structured_content,
            "text": result.content[0].text,
            "csv": csv.contents[0].text,
            "report": report.contents[0].text,
        }


def test_reference_engine_on_real_data_through_three_transports(shared_input, workspace):
    env = server_env(shared_input, workspace, GENOTEAM_ENGINE="reference")
    memory_server = build_server(
        ServerConfig(input_dir=shared_input, workspace=workspace, engine="reference")
    )
    progress: dict[str, list[str]] = {"memory": [], "stdio": [], "http": []}
    outcomes: dict[str, dict] = {}

    async def main(url: str) -> None:
        async def one(name: str, target) -> None:
            outcomes[name] = await analyse(target, progress[name])

        async with anyio.create_task_group() as group:
            group.start_soon(one, "memory", memory_server)
            group.start_soon(one, "stdio", stdio_params(env))
            group.start_soon(one, "http", url)

    with http_server(env) as url:
        anyio.run(main, url)

    job_ids = {o["job"]["job_id"] for o in outcomes.values()}
    assert len(job_ids) == 1, "the same request must map to one job across transports"
    assert sum(o["first"]["started_now"] for o in outcomes.values()) == 1
    assert any("preprocessing" in m for messages in progress.values() for m in messages), progress
    for name, outcome in outcomes.items():
        job, page = outcome["job"], outcome["page"]
        assert job["state"] == "complete" and job["engine"] == "reference", (name, job)
        assert page["status"] == "complete" and page["method"] == "moderated-t"
        assert page["selected_cohorts"] == ["TCGA"]
        chol = page["cohorts"][0]
        assert chol["usable"] and chol["sample_size"] == 45  # 36 tumour + 9 normal
        # R limma finds ~10,000 genes at FDR < 0.05 on this cohort (FINDINGS.md): thousands expected
        assert page["total_genes"] > 5000
        q_values = [g["q_value"] for g in page["genes"]]
        assert all(q is not None and q < 1e-3 for q in q_values) and q_values == sorted(q_values)
        assert all(math.isfinite(g["coefficient"]) for g in page["genes"])
        assert len(outcome["csv"].splitlines()) == page["total_genes"] + 1
        assert page["genes"][0]["gene"] in outcome["csv"].splitlines()[1]
        assert "Bile_Duct_Cancer" in outcome["report"]
        assert f"Significant genes: {page['total_genes']}" in outcome["text"]
        for text in (outcome["text"], outcome["report"], str(page)):
            assert str(workspace) not in text and str(shared_input) not in text


@pytest.mark.docker
def test_cancelling_a_team_job_removes_its_sandbox_containers(shared_input, workspace, docker_engine):
    """The agent team (offline policies) runs its cohort work in Docker sandboxes; cancel stops them."""
    from genoteam.sandbox import lifecycle
    from genoteam.sandbox.lifecycle import LABEL_OWNER
    from genoteam.server.jobs import JobStore

    server = build_server(ServerConfig(input_dir=shared_input, workspace=workspace, engine="team"))

    def worker_containers(status) -> list:
        owner_suffix = f"/{status.pid}/{status.pid_start}"
        return [
            c
            for c in docker_engine.containers.list(all=True, filters={"label": LABEL_OWNER})
            if c.labels.get(LABEL_OWNER, "").endswith(owner_suffix)
        ]

    async def main():
        async with Client(server) as client:
            job = (
                await client.call_tool("analyze_trait", {"trait": TRAIT, "wait_seconds": 1})
            ).structured_content
            store = JobStore(workspace)
            with anyio.fail_after(300):  # until the team has a sandbox container running
                while True:
                    status = store.get(job["job_id"]).status
                    assert status.state in {"queued", "running"}, status
                    if status.pid and (running := worker_containers(status)):
                        break
                    await anyio.sleep(0.5)
            cancelled = (await client.call_tool("cancel_job", {"job_id": job["job_id"]})).structured_content
            return status, running, cancelled

    status, running, cancelled = anyio.run(main)
    assert running and cancelled["job"]["state"] == "cancelled", cancelled
    assert worker_containers(status) == [], "the job's sandbox containers outlived cancel_job"
    assert not lifecycle.is_alive(status.pid, status.pid_start)
