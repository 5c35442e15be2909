"""State honesty of the job store: a damaged status (a disk that filled mid-write) becomes a failed
job that says so without stopping the other calls, and a result is served only for a complete job."""

from __future__ import annotations

import pytest

from genoteam.pipeline.api import AnalysisRequest
from genoteam.server.config import ServerConfig
from genoteam.server.jobs import JobSpec, JobStatus, JobStore, now_iso, write_json_atomic
from genoteam.server.service import Service
from genoteam.toolkit.errors import GenoteamError
from tests.sandbox.hostile import complete_result


def _job(store: JobStore, job_id: str, status: JobStatus | None) -> None:
    folder = store.jobs_dir / job_id
    folder.mkdir()
    spec = JobSpec(
        job_id=job_id,
        kind="analyze",
        request=AnalysisRequest(trait="Asthma"),
        engine="reference",
        engine_target="genoteam.pipeline.reference:run_reference",
        input_dir="/nowhere",
        created_at=now_iso(),
        request_hash="0" * 64,
    )
    write_json_atomic(folder / "job.json", spec.model_dump(mode="json"))
    if status is not None:
        write_json_atomic(folder / "status.json", status.model_dump())
    (folder / "result.json").write_text(complete_result("Asthma").model_dump_json())


def test_a_damaged_status_is_a_failed_job_and_the_others_are_still_served(tmp_path):
    service = Service(ServerConfig(workspace=tmp_path), sweep=False)
    store = service.store
    _job(store, "job-00000000000000a1", None)
    (store.jobs_dir / "job-00000000000000a1" / "status.json").write_text('{"state": "runn')  # cut short
    _job(store, "job-00000000000000a2", JobStatus(state="complete", result_status="complete"))
    listed = {v.job_id: v for v in service.list_jobs(None, 50, 0).jobs}
    assert listed["job-00000000000000a1"].state == "failed"
    assert "status.json is damaged" in listed["job-00000000000000a1"].error
    assert service.result("job-00000000000000a2", 5, 0).status == "complete"
    with pytest.raises(GenoteamError, match="has no result: it is failed"):
        service.result("job-00000000000000a1", 5, 0)


@pytest.mark.parametrize("state", ["interrupted", "failed", "cancelled"])
def test_a_result_left_by_an_unfinished_attempt_is_never_served(tmp_path, state):
    service = Service(ServerConfig(workspace=tmp_path), sweep=False)
    _job(service.store, "job-00000000000000b1", JobStatus(state=state, error="the worker stopped"))
    assert service.store.read_result("job-00000000000000b1") is None
    with pytest.raises(GenoteamError, match=f"has no result: it is {state}"):
        service.result("job-00000000000000b1", 5, 0)
    with pytest.raises(GenoteamError, match="has no result"):
        service.genes_csv("job-00000000000000b1", None, 0, None, None)
