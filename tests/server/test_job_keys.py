"""Which request gets which job: a changed input file is a new job; a job whose answer is a
failure says failed (never complete) and is re-run when asked again; force re-runs anything.
Through the mcp client against the server in memory, with real detached workers (step engine)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import pytest
from mcp import Client

from genoteam.pipeline.api import EngineOptions
from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig

CHOL = "TCGA_Bile_Duct_Cancer_(CHOL)"


@pytest.fixture
def own_input(shared_input: Path, tmp_path: Path) -> Path:
    """A copy of the CHOL cohort that the test may change."""
    root = tmp_path / "input"
    (root / "GEO").mkdir(parents=True)
    shutil.copytree(shared_input / "TCGA" / CHOL, root / "TCGA" / CHOL)
    return root


def _ask(config: ServerConfig, **arguments) -> dict:
    async def main() -> dict:
        async with Client(build_server(config)) as client:
            call = await client.call_tool(
                "analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 30, **arguments}
            )
            assert not call.is_error, call.content[0].text
            return call.structured_content

    return anyio.run(main)


def test_a_changed_input_file_is_a_new_job(own_input, workspace, step_engine):
    step_engine(GENOTEAM_STEP_ENGINE_STEPS="1", GENOTEAM_STEP_ENGINE_STEP_S="0")
    config = ServerConfig(input_dir=own_input, workspace=workspace, engine="steps").check()
    first = _ask(config)
    assert first["state"] == "complete" and first["started_now"]
    again = _ask(config)
    assert again["job_id"] == first["job_id"] and not again["started_now"]
    clinical = next((own_input / "TCGA" / CHOL).glob("*clinicalMatrix*"))
    stat = clinical.stat()
    os.utime(clinical, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the file was replaced
    changed = _ask(config)
    assert changed["job_id"] != first["job_id"] and changed["started_now"] and changed["state"] == "complete"


def test_a_failed_answer_is_failed_and_rerun_and_force_reruns_a_complete_job(
    own_input, workspace, step_engine
):
    step_engine(
        GENOTEAM_STEP_ENGINE_STEPS="1",
        GENOTEAM_STEP_ENGINE_STEP_S="0",
        GENOTEAM_STEP_ENGINE_COHORT_ERROR="no sandbox image",
    )
    config = ServerConfig(input_dir=own_input, workspace=workspace, engine="steps").check()
    failed = _ask(config)
    assert failed["state"] == "failed", failed  # never "complete" with a failed result inside
    assert "no sandbox image" in failed["error"] and "ask again" in failed["next_step"]

    step_engine(GENOTEAM_STEP_ENGINE_COHORT_ERROR="")  # the cause is fixed
    rerun = _ask(config)
    assert rerun["job_id"] == failed["job_id"] and rerun["started_now"], rerun
    assert rerun["state"] == "complete" and rerun["attempt"] == 2

    same = _ask(config)
    assert not same["started_now"] and same["attempt"] == 2
    forced = _ask(config, force=True)
    assert forced["job_id"] == failed["job_id"] and forced["started_now"] and forced["attempt"] == 3
    assert forced["state"] == "complete"


def test_a_changed_task_file_is_a_new_job_and_where_code_runs_is_not(
    own_input, workspace, step_engine, tmp_path
):
    """The task file's known genes and conditions change answers: its content is in the key."""
    step_engine(GENOTEAM_STEP_ENGINE_STEPS="1", GENOTEAM_STEP_ENGINE_STEP_S="0")
    task_file = tmp_path / "task_info.json"
    task_file.write_text('{"Bile_Duct_Cancer": {"related_genes": ["KRT7"], "conditions": ["Age"]}}')

    def config(**options: str) -> ServerConfig:
        return ServerConfig(
            input_dir=own_input,
            workspace=workspace,
            engine="steps",
            engine_options=EngineOptions(task_info=str(task_file), **options),
        ).check()

    first = _ask(config())
    assert first["state"] == "complete" and first["started_now"]
    assert _ask(config(sandbox="local"))["job_id"] == first["job_id"]  # same code, same answer
    task_file.write_text('{"Bile_Duct_Cancer": {"related_genes": ["KRT19"], "conditions": ["Age"]}}')
    changed = _ask(config())
    assert changed["job_id"] != first["job_id"] and changed["started_now"]
