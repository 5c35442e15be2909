"""The job store: jobs as folders under <workspace>/jobs/<job_id>/, run by detached workers.

Why on disk: a client such as Biomni starts a new server process for every call, and a server
may restart while a job runs; everything a server needs (request, state, progress, result)
is in the job's folder, so any server process finds and serves every job.

Folder of one job:
    job.json      what to do (kind, normalised request, engine target); written once
    status.json   state and progress; written by the worker, and by a server only to record
                  that the worker was cancelled or died (atomic replace, never partial)
    result.json   the AnalysisResult, with output_dir relative to the job folder
    output/       the engine's output (GenoTEX layout, report, provenance)
    worker.log    the worker's stdout and stderr
A batch job (kind "batch", server/batch_jobs.py) also holds task_info.json (its task file) and
batch/ (genoteam.batch's folder: plan, task states, summary.json), and writes no result.json.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from genoteam.pipeline.api import AnalysisRequest, AnalysisResult, EngineOptions
from genoteam.pipeline.fingerprint import answer_inputs
from genoteam.sandbox import lifecycle
from genoteam.server.params import JOB_ID_PATTERN, JobState
from genoteam.toolkit.errors import GenoteamError

JobKind = Literal["analyze", "preprocess", "statistics", "batch"]
TERMINAL: frozenset[str] = frozenset({"complete", "failed", "cancelled", "interrupted"})
RERUN: frozenset[str] = frozenset({"failed", "cancelled", "interrupted"})  # asked again: started again
RemoveContainers = Callable[[str, int | None, int | None], str]  # (job id, pid, pid start) -> note
SPAWN_GRACE_S = 30.0  # a worker that has not written its pid by then never started


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class BatchSpec(BaseModel):
    """What a batch job answers (server/batch_jobs.py): its task file and which of its questions."""

    task_sha256: str  # of the task file's JSON, keys sorted (however it was written)
    questions: str | None = None  # the filter of genoteam.batch (TRAIT or TRAIT:CONDITION items)
    n_questions: int
    traits: list[str]  # the traits asked about, in task-file order
    source: str  # how the task file was given: a path in the input folder, its content, or questions
    batch_engine: Literal["reference", "team"]


class JobSpec(BaseModel):
    job_id: str
    kind: JobKind
    request: AnalysisRequest
    engine: str
    engine_target: str
    input_dir: str
    created_at: str
    request_hash: str
    # what else the answer depends on (part of the job id): see `answer_inputs`
    depends_on: dict[str, str] = {}
    # how the engine runs it (sandbox, image, task file): the server's, at the latest submit
    options: EngineOptions = EngineOptions()
    batch: BatchSpec | None = None  # kind "batch" only


class JobStatus(BaseModel):
    state: JobState = "queued"
    progress: float = 0.0
    message: str = ""
    attempt: int = 1
    pid: int | None = None
    pid_start: int | None = None
    spawned_at: float | None = None  # time.time() when the server started the worker
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str = ""
    result_status: str | None = None
    error: str | None = None
    hint: str | None = None


class JobRecord(BaseModel):
    spec: JobSpec
    status: JobStatus

    @property
    def job_id(self) -> str:
        return self.spec.job_id


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON so a reader sees the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def normalise_request(request: AnalysisRequest) -> AnalysisRequest:
    """One spelling per request: cohorts sorted and de-duplicated (the order does not matter)."""
    cohorts = sorted(set(request.cohorts)) if request.cohorts else None
    return request.model_copy(update={"cohorts": cohorts})


def request_hash(
    kind: str, request: AnalysisRequest, engine: str, input_dir: str, depends_on: dict[str, str] | None = None
) -> str:
    payload = {
        "kind": kind,
        "request": request.model_dump(mode="json"),
        "engine": engine,
        "input": input_dir,
        "depends_on": depends_on or {},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


RECORD_LIMIT = 1 << 20  # job.json and status.json are small; anything larger is damage
RESULT_LIMIT = 256 << 20  # result.json lists every significant gene


def _read_record_file(path: Path, limit: int = RECORD_LIMIT) -> str:
    """A record the server itself writes, read without following a link, bounded in size."""
    from genoteam.sandbox import hostfs

    return hostfs.read_text(path.parent, path, limit)


def _read_files(job_dir: Path) -> JobRecord | None:
    """The job's spec and status as written, or None when the job folder is not (or no longer) there.

    A damaged status (cut short by a full disk, say) gives a `failed` record that says so, so one
    broken job never stops the server from answering about the others."""
    try:
        spec = JobSpec.model_validate_json(_read_record_file(job_dir / "job.json"))
    except FileNotFoundError:
        return None
    except (ValueError, GenoteamError) as error:
        raise GenoteamError(
            f"job {job_dir.name}'s job.json is damaged ({str(error)[:200]})",
            "delete that job folder and submit the request again",
        ) from error
    try:
        status = JobStatus.model_validate_json(_read_record_file(job_dir / "status.json"))
    except FileNotFoundError:
        return None
    except (ValueError, GenoteamError) as error:
        status = JobStatus(
            state="failed",
            error=f"the job's status.json is damaged ({str(error)[:200]}); its disk may be full",
            hint="free space on the workspace's disk, then submit the same request again",
        )
    return JobRecord(spec=spec, status=status)


def _worker_gone(status: JobStatus) -> bool:
    """A queued/running job whose worker process no longer runs; a worker just spawned gets
    SPAWN_GRACE_S to record its pid before it counts as gone."""
    if status.state in TERMINAL:
        return False
    if status.pid is None:
        return not (status.spawned_at and time.time() - status.spawned_at < SPAWN_GRACE_S)
    return not lifecycle.is_alive(status.pid, status.pid_start)


class JobStore:
    """Create, find, list and cancel jobs in one workspace."""

    def __init__(self, workspace: Path, max_workers: int = 2) -> None:
        self.workspace = workspace
        self.jobs_dir = workspace / "jobs"
        self.max_workers = max_workers
        self.jobs_dir.mkdir(parents=True, exist_ok=True)

    # ---- paths and locking -------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        """The folder of `job_id`; the id is validated first, so no path can escape jobs/."""
        if not re.fullmatch(JOB_ID_PATTERN, job_id):
            raise GenoteamError(
                f"{job_id[:80]!r} is not a job id",
                "job ids look like job-0123456789abcdef; get them from analyze_trait or list_jobs",
            )
        return self.jobs_dir / job_id

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise job creation and state changes across server processes."""
        with open(self.jobs_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---- reading -------------------------------------------------------------------------
    def _read(self, job_dir: Path) -> JobRecord | None:
        record = _read_files(job_dir)
        if record is not None:
            record.status = self._check_alive(job_dir, record.status)
        return record

    def _check_alive(self, job_dir: Path, status: JobStatus) -> JobStatus:
        """A queued/running job whose worker is gone was interrupted: record it once."""
        if not _worker_gone(status):
            return status
        with self._locked():
            record = _read_files(job_dir)
            fresh = record.status if record is not None else status
            if not _worker_gone(fresh):
                return fresh
            fresh.state = "interrupted"
            fresh.error = (
                "the worker process stopped before the job finished (machine or container restart, a kill, "
                "or a full disk)"
            )
            fresh.hint = "submit the same request again to restart it; worker.log in the job folder says more"
            fresh.finished_at = fresh.updated_at = now_iso()
            try:
                write_json_atomic(job_dir / "status.json", fresh.model_dump())
            except OSError as error:  # a full disk: answer honestly without recording it
                fresh.error += f" (not recorded: {error.strerror})"
            return fresh

    def get(self, job_id: str) -> JobRecord:
        record = self._read(self.job_dir(job_id))
        if record is None:
            raise GenoteamError(f"no job {job_id} in this workspace", "list_jobs shows the jobs there are")
        return record

    def list(self) -> list[JobRecord]:
        """Every job, newest first."""
        records = []
        for job_dir in self.jobs_dir.glob("job-*"):
            try:
                record = self._read(job_dir)
            except GenoteamError:  # a damaged job.json: get_job on it says so; the list goes on
                continue
            if record is not None:
                records.append(record)
        return sorted(records, key=lambda r: r.spec.created_at, reverse=True)

    def read_result(self, job_id: str) -> AnalysisResult | None:
        """The result of a job that completed; None for any other state (a result.json left by an
        interrupted or failed attempt is never served)."""
        record = self.get(job_id)
        if record.status.state != "complete":
            return None
        path = self.job_dir(job_id) / "result.json"
        try:
            return AnalysisResult.model_validate_json(_read_record_file(path, RESULT_LIMIT))
        except FileNotFoundError:
            return None
        except (ValueError, GenoteamError) as error:
            raise GenoteamError(
                f"job {job_id}'s result.json is damaged ({str(error)[:200]})",
                "submit the request again after freeing disk space",
            ) from error

    # ---- changing --------------------------------------------------------------------
    def submit(
        self,
        kind: JobKind,
        request: AnalysisRequest,
        engine: str,
        engine_target: str,
        input_dir: Path,
        force: bool = False,
        remove_containers: RemoveContainers | None = None,
        options: EngineOptions | None = None,
        batch: BatchSpec | None = None,
        files: dict[str, bytes] | None = None,
        depends_on: dict[str, str] | None = None,
    ) -> tuple[JobRecord, bool]:
        """The job for this request: the existing one (same key), or a new one started now.

        The key is the request, engine and input folder plus `answer_inputs` (input files'
        sizes and mtimes, genoteam version, guidelines hash), so a changed input is a new job.
        Returns (record, started). A job that ended failed/cancelled/interrupted is started
        again in the same folder (attempt + 1); a queued, running or complete one is returned,
        unless `force`: then a running one is stopped and every one is started again.
        `options` go into the spec of every attempt started; those that change an answer (the task
        file's content, a pinned image) are part of the key (`options_inputs`).
        A batch job passes its `batch` spec, the `files` it reads (its task file) and what it
        `depends_on`; started again, it keeps its batch folder (finished tasks are not redone)
        unless forced.
        """
        options = options or EngineOptions()
        request = normalise_request(request)
        depends_on = answer_inputs(request, input_dir, options) if depends_on is None else depends_on
        digest = request_hash(kind, request, engine, str(input_dir), depends_on)
        job_id = f"job-{digest[:16]}"
        job_dir = self.jobs_dir / job_id
        with self._locked():
            existing = self._read_unlocked(job_dir)
            if existing is not None and existing.status.state not in RERUN and not force:
                return existing, False
            if existing is not None and existing.status.state not in TERMINAL:  # forced: stop it first
                self._stop_worker(job_dir, existing.status, remove_containers)
            attempt = existing.status.attempt + 1 if existing is not None else 1
            if existing is None:
                job_dir.mkdir(parents=True, exist_ok=True)
                spec = JobSpec(
                    job_id=job_id,
                    kind=kind,
                    request=request,
                    engine=engine,
                    engine_target=engine_target,
                    input_dir=str(input_dir),
                    created_at=now_iso(),
                    request_hash=digest,
                    depends_on=depends_on,
                    options=options,
                    batch=batch,
                )
                write_json_atomic(job_dir / "job.json", spec.model_dump(mode="json"))
            else:
                spec = existing.spec.model_copy(update={"options": options})
                write_json_atomic(job_dir / "job.json", spec.model_dump(mode="json"))
                for stale in ("result.json", "cancel.requested"):
                    (job_dir / stale).unlink(missing_ok=True)
                shutil.rmtree(job_dir / "output", ignore_errors=True)
                if force:
                    shutil.rmtree(job_dir / "batch", ignore_errors=True)
            for name, data in (files or {}).items():
                (job_dir / name).write_bytes(data)
            status = JobStatus(
                attempt=attempt, message="waiting for a worker", spawned_at=time.time(), updated_at=now_iso()
            )
            write_json_atomic(job_dir / "status.json", status.model_dump())
            self._spawn(job_dir)
        return JobRecord(spec=spec, status=status), True

    def _read_unlocked(self, job_dir: Path) -> JobRecord | None:
        record = _read_files(job_dir)
        if record is not None and _worker_gone(record.status):
            record.status.state = "interrupted"
        return record

    def _spawn(self, job_dir: Path) -> None:
        """Start the worker detached (own session), so it outlives this server process."""
        with open(job_dir / "worker.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "genoteam.server.worker", str(job_dir), str(self.max_workers)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=job_dir,
                start_new_session=True,
                close_fds=True,
                # engines label sandboxes with the job id and keep state (code memory) in this workspace
                env={
                    **os.environ,
                    "GENOTEAM_JOB_ID": job_dir.name,
                    "GENOTEAM_WORKSPACE": str(self.workspace),
                },
            )

    def _stop_worker(
        self, job_dir: Path, status: JobStatus, remove_containers: RemoveContainers | None
    ) -> tuple[JobStatus, str]:
        """Stop a job's worker (its process group) and its sandbox containers; hold the lock."""
        stopped = bool(status.pid) and lifecycle.stop_group(status.pid, status.pid_start)
        if not stopped and status.pid is None:  # not started yet: wait briefly for its pid
            deadline = time.time() + 5
            while time.time() < deadline and status.pid is None:
                time.sleep(0.1)
                status = JobStatus.model_validate_json((job_dir / "status.json").read_text())
            if status.pid:
                stopped = lifecycle.stop_group(status.pid, status.pid_start)
        note = "worker stopped" if stopped else "worker was not running"
        if remove_containers is not None:
            note += "; " + remove_containers(job_dir.name, status.pid, status.pid_start)
        return status, note

    def cancel(self, job_id: str, remove_containers: RemoveContainers | None = None) -> tuple[JobRecord, str]:
        """Stop the job's worker (its whole process group) and its sandbox containers.

        Returns (record, note). Cancelling a finished job changes nothing and says so.
        """
        job_dir = self.job_dir(job_id)
        record = self.get(job_id)
        if record.status.state in TERMINAL:
            return record, f"job already {record.status.state}; nothing to stop"
        with self._locked():
            status = JobStatus.model_validate_json((job_dir / "status.json").read_text())
            if status.state in TERMINAL:
                return JobRecord(
                    spec=record.spec, status=status
                ), f"job already {status.state}; nothing to stop"
            (job_dir / "cancel.requested").write_text(now_iso())
            status, note = self._stop_worker(job_dir, status, remove_containers)
            status.state = "cancelled"
            status.message = "cancelled on request"
            status.finished_at = status.updated_at = now_iso()
            write_json_atomic(job_dir / "status.json", status.model_dump())
        return JobRecord(spec=record.spec, status=status), note
