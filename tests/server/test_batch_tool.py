"""analyze_batch through a real MCP client: a small synthetic GenoTEX-like batch on the reference
engine, run by a stdio server's detached worker, with per-cohort progress and a per-question
result; a task file outside the input folder (by path, by '..', by a link) is refused clearly."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import anyio
import pytest
from mcp import Client

from genoteam.evaluation.harness import task_questions
from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig
from genoteam.synthetic_corpus import CorpusConfig
from genoteam.synthetic_write import write_corpus
from tests.server.mcp_server_procs import server_env, stdio_params

N_QUESTIONS = 5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("batch") / "corpus"
    record = write_corpus(CorpusConfig(seed=8, n_questions=N_QUESTIONS), out)
    (out / "input" / "task_info.json").write_bytes((out / "task_info.json").read_bytes())  # in the root
    return out, record


async def run_batch(target, arguments: dict, progress: list[str]) -> dict:
    async def on_progress(value, total, message):
        progress.append(message or "")

    async with Client(target, read_timeout_seconds=120) as client:
        first = await client.call_tool("analyze_batch", arguments, progress_callback=on_progress)
        assert not first.is_error, first.content[0].text
        job = first.structured_content
        with anyio.fail_after(600):
            while job["state"] in {"queued", "running"}:
                reply = await client.call_tool(
                    "get_job", {"job_id": job["job_id"], "wait_seconds": 20}, progress_callback=on_progress
                )
                job = reply.structured_content
        page = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 3})
        rest = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 3, "offset": 3})
        report = await client.read_resource(f"genoteam://jobs/{job['job_id']}/report")
        genes = await client.call_tool("get_job", {"job_id": job["job_id"]})
        return {
            "first": first.structured_content,
            "job": job,
            "page": page.structured_content,
            "text": page.content[0].text,
            "rest": rest.structured_content,
            "report": report.contents[0].text,
            "again": genes.structured_content,
        }


def test_a_batch_runs_through_stdio_with_progress_per_cohort_and_a_row_per_question(corpus, tmp_path):
    out, record = corpus
    workspace = tmp_path / "ws"
    env = server_env(out / "input", workspace, GENOTEAM_ENGINE="reference")
    progress: list[str] = []
    outcome = anyio.run(
        run_batch, stdio_params(env), {"task_file": "task_info.json", "wait_seconds": 5}, progress
    )

    job, page = outcome["job"], outcome["page"]
    assert job["kind"] == "batch" and job["state"] == "complete", job
    assert job["trait"] == f"{N_QUESTIONS} questions: " + ", ".join(
        sorted(t["trait"] for t in record["traits"])
    )
    n_cohorts = sum(len(t["cohorts"]) for t in record["traits"])
    counted = [m for m in progress if re.search(r"\d+/\d+ cohorts, \d+/\d+ questions done", m)]
    assert counted, progress
    assert any(f"{n_cohorts}/{n_cohorts} cohorts" in m for m in counted) or job["progress"] == 1.0
    assert any(re.search(rf"[1-9]\d*/{n_cohorts} cohorts", m) for m in counted), counted  # seen mid-way

    batch = page["batch"]
    assert batch["questions"]["total"] == N_QUESTIONS and batch["source"] == "task file task_info.json"
    assert batch["questions"]["failed"] == 0 and batch["cohorts"]["failed"] == 0
    assert batch["cohorts"]["total"] == n_cohorts
    unusable = sum(1 for t in record["traits"] for c in t["cohorts"] if not c["expected_usable"])
    assert batch["cohorts"]["unusable"] == unusable  # the planted unusable cohorts, called unusable
    asked = task_questions(json.loads((out / "task_info.json").read_text()))  # GenoTEX's order
    assert [(r["trait"], r["condition"]) for r in batch["rows"]] == asked[:3]
    assert batch["next_offset"] == 3 and outcome["rest"]["batch"]["offset"] == 3
    answered = [r for r in batch["rows"] + outcome["rest"]["batch"]["rows"] if r["status"] == "answered"]
    assert answered and all(r["n_significant"] and r["selected_cohorts"] for r in answered)
    assert page["status"] == job["result_status"] == "complete" and page["total_genes"] == 0
    assert "Batch of 5 questions" in outcome["text"] and "More: get_result" in outcome["text"]
    assert "1." in outcome["text"] and str(workspace) not in json.dumps(outcome)  # no host path leaves
    assert outcome["report"].startswith("# Batch job-") and f"{N_QUESTIONS}." in outcome["report"]
    summary = json.loads((workspace / "jobs" / job["job_id"] / "batch" / "summary.json").read_text())
    assert summary["questions"]["answered"] == sum(
        1 for r in summary["per_question"] if r["status"] == "answered"
    )

    # asked again with the file's content (same bytes) through another server: the same job, not rerun
    again = anyio.run(
        run_batch,
        build_server(ServerConfig(input_dir=out / "input", workspace=workspace, engine="reference")),
        {"task_file": (out / "task_info.json").read_text(), "wait_seconds": 5},
        [],
    )
    assert again["job"]["job_id"] == job["job_id"] and again["first"]["started_now"] is False


def test_a_task_file_outside_the_input_folder_is_refused(corpus, tmp_path):
    out, _ = corpus
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps({"X": {"related_genes": [], "conditions": []}}))
    link = out / "input" / "linked_task.json"
    if not link.exists():
        os.symlink(outside, link)
    config = ServerConfig(input_dir=out / "input", workspace=tmp_path / "ws", engine="reference")

    async def main() -> list[str]:
        texts = []
        async with Client(build_server(config)) as client:
            for task_file in (
                "../task_info.json",
                str(outside),
                "linked_task.json",
                "../../../../etc/passwd",
            ):
                reply = await client.call_tool("analyze_batch", {"task_file": task_file, "wait_seconds": 0})
                assert reply.is_error, task_file
                texts.append(reply.content[0].text)
            listed = await client.call_tool("list_jobs", {})
            assert listed.structured_content["total"] == 0  # nothing was started
        return texts

    texts = anyio.run(main)
    for text in texts:
        assert "is outside the server's input folder: refused" in text, text
        assert "What to do: give a path relative to the server's input folder" in text
    assert str(outside) not in texts[2]  # a link's target is not revealed


def test_questions_without_a_task_file_name_exactly_those_questions(corpus, tmp_path):
    out, record = corpus
    first = record["traits"][0]["trait"]
    config = ServerConfig(input_dir=out / "input", workspace=tmp_path / "ws", engine="reference")

    async def main() -> tuple[dict, dict, str]:
        async with Client(build_server(config)) as client:
            spaced = first.replace("_", " ").lower()
            started = await client.call_tool(
                "analyze_batch", {"questions": [f"{spaced}:age", first], "wait_seconds": 0}
            )
            assert not started.is_error, started.content[0].text
            cancelled = await client.call_tool("cancel_job", {"job_id": started.structured_content["job_id"]})
            wild = await client.call_tool("analyze_batch", {"questions": ["*:Age"], "wait_seconds": 0})
            return started.structured_content, cancelled.structured_content, wild.content[0].text

    started, cancelled, wild = anyio.run(main)
    assert started["kind"] == "batch" and started["trait"] == f"2 questions: {first}"
    assert cancelled["job"]["state"] == "cancelled"
    assert "has a wildcard, which needs a task file" in wild
    task = json.loads((tmp_path / "ws" / "jobs" / started["job_id"] / "task_info.json").read_text())
    assert task == {first: {"related_genes": [], "conditions": ["Age"]}}
