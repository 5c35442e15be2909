"""`python -m genoteam.server.worker JOB_DIR [MAX_WORKERS]`: run one job to its end.

Why a separate process: jobs take minutes, clients disconnect and servers restart; the worker
leads its own session (started detached), so it survives the server, and `cancel_job` can stop
it and everything it started by signalling its process group. It waits for one of MAX_WORKERS
slots (file locks under <workspace>/slots/, released by the kernel even when a worker dies), so
a burst of jobs does not oversubscribe the machine.
"""

from __future__ import annotations

import fcntl
import inspect
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import IO

from genoteam.data.overlay import (
    AccessionNote,
    GeoFetcher,
    env_offline,
    input_with_accessions,
    series_accession,
)
from genoteam.pipeline.api import AnalysisResult, CohortOutcome
from genoteam.server import procs
from genoteam.server.engines import load_target
from genoteam.server.jobs import JobSpec, JobStatus, now_iso, write_json_atomic
from genoteam.toolkit.errors import GenoteamError

PROGRESS_EVERY_S = 0.25
GEO_CACHE_DIR = "geo_cache"  # under the workspace: series downloaded once serve every job


class StatusWriter:
    """The worker's view of status.json: it is the only writer while the job runs."""

    def __init__(self, job_dir: Path) -> None:
        self.path = job_dir / "status.json"
        self.status = JobStatus.model_validate_json(self.path.read_text())
        self._last_write = 0.0

    def update(self, force: bool = True, **fields: object) -> None:
        for key, value in fields.items():
            setattr(self.status, key, value)
        if force or time.monotonic() - self._last_write >= PROGRESS_EVERY_S:
            self.status.updated_at = now_iso()
            write_json_atomic(self.path, self.status.model_dump())
            self._last_write = time.monotonic()


def acquire_slot(workspace: Path, max_workers: int, status: StatusWriter) -> IO:
    """Block until one of `max_workers` slot locks is ours; the open file holds the lock."""
    slots = workspace / "slots"
    slots.mkdir(exist_ok=True)
    told = False
    while True:
        for index in range(max(1, max_workers)):
            handle = open(slots / f"{index}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                handle.close()
        if not told:
            status.update(message=f"queued: all {max_workers} worker slots are busy")
            told = True
        time.sleep(0.5)


def copy_preprocessed(workspace: Path, spec: JobSpec, output_dir: Path) -> list[str]:
    """Bring the preprocessed cohorts of finished jobs for the same traits into this job's output.

    Why: `find_significant_genes` runs statistics only, on cohorts that earlier
    preprocess/analyze jobs in this workspace prepared. Returns the job ids used.
    """
    traits = {spec.request.trait} | ({spec.request.condition} if spec.request.condition else set())
    used = []
    for job_dir in sorted((workspace / "jobs").glob("job-*")):
        if job_dir.name == spec.job_id or not (job_dir / "result.json").is_file():
            continue
        for trait in traits:
            source = job_dir / "output" / "preprocess" / trait
            if source.is_dir():
                shutil.copytree(source, output_dir / "preprocess" / trait, dirs_exist_ok=True)
                used.append(job_dir.name)
    if not used:
        raise GenoteamError(
            f"no preprocessed cohorts for {', '.join(sorted(traits))} in this workspace",
            "run preprocess_cohort (or analyze_trait) for the trait first",
        )
    return sorted(set(used))


def job_input(spec: JobSpec, job_dir: Path, status: StatusWriter) -> tuple[Path, list[AccessionNote]]:
    """The folder the engine reads: the input folder, or an overlay adding the GEO series the
    request names that the input lacks (fetched into <workspace>/geo_cache, once per workspace)."""
    request = spec.request
    if not request.cohorts or spec.kind == "statistics":  # statistics read earlier jobs' output only
        return Path(spec.input_dir), []
    fetch = GeoFetcher(cache_dir=job_dir.parent.parent / GEO_CACHE_DIR, offline=env_offline())
    return input_with_accessions(
        spec.input_dir,
        request.trait,
        request.cohorts,
        job_dir,
        fetch,
        also_in=[request.condition] if request.condition else [],
        progress=lambda message: status.update(message=message),
    )


def with_download_notes(result: AnalysisResult, notes: list[AccessionNote], trait: str) -> AnalysisResult:
    """Record what happened to downloaded series: failures become failed cohorts (partial result)."""
    if not notes:
        return result
    failed = [n for n in notes if n.failed]
    cohorts = result.cohorts + [
        CohortOutcome(cohort=n.accession, trait=trait, usable=False, error=n.detail) for n in failed
    ]
    status = "partial" if failed and result.status == "complete" else result.status
    message = "; ".join(filter(None, [result.message, *(str(n) for n in notes)]))
    return result.model_copy(update={"cohorts": cohorts, "status": status, "message": message})


def run_engine(spec: JobSpec, job_dir: Path, status: StatusWriter) -> AnalysisResult:
    engine = load_target(spec.engine_target)
    output_dir = job_dir / "output"
    output_dir.mkdir(exist_ok=True)
    staged = "stage" in inspect.signature(engine).parameters
    input_dir, notes = job_input(spec, job_dir, status)
    failed = {n.accession for n in notes if n.failed}
    if (
        failed and {series_accession(c) or c for c in spec.request.cohorts or []} <= failed
    ):  # nothing left to analyse
        raise GenoteamError(
            "none of the requested cohorts is available: " + "; ".join(str(n) for n in notes if n.failed),
            "check the network or GENOTEAM_GEO_BASE_URL (serve --geo-base-url), or place the series under "
            f"<input>/GEO/{spec.request.trait}/<GSE>/",
        )

    def progress(fraction: float, message: str) -> None:
        status.update(force=False, progress=max(0.0, min(1.0, float(fraction))), message=str(message)[:300])

    # series that could not be fetched are reported as failed cohorts, not asked of the engine
    kept = [c for c in spec.request.cohorts or [] if (series_accession(c) or c) not in failed]
    request = spec.request.model_copy(update={"cohorts": kept}) if failed else spec.request
    args = (request, input_dir, output_dir, progress)
    if spec.kind == "analyze":
        return with_download_notes(engine(*args), notes, spec.request.trait)
    if spec.kind == "preprocess":
        if staged:
            return with_download_notes(engine(*args, stage="preprocess"), notes, spec.request.trait)
        result = engine(*args)
        note = f"engine {spec.engine} has no preprocess-only stage: ran the whole analysis restricted to the cohort"
        result = result.model_copy(update={"message": f"{result.message} ({note})".strip()})
        return with_download_notes(result, notes, spec.request.trait)
    used = copy_preprocessed(job_dir.parent.parent, spec, output_dir)
    if not staged:
        raise GenoteamError(
            f"engine {spec.engine} cannot run statistics alone",
            "use analyze_trait, which preprocesses and runs the statistics in one job",
        )
    result = engine(*args, stage="statistics")
    note = f"statistics on cohorts preprocessed by {', '.join(used)}"
    return result.model_copy(update={"message": f"{result.message} ({note})".strip()})


def run_job(job_dir: Path, max_workers: int) -> int:
    spec = JobSpec.model_validate_json((job_dir / "job.json").read_text())
    status = StatusWriter(job_dir)
    pid = os.getpid()
    status.update(pid=pid, pid_start=procs.process_start_time(pid), state="queued")
    if (job_dir / "cancel.requested").exists():
        return 0
    slot = acquire_slot(job_dir.parent.parent, max_workers, status)
    try:
        status.update(state="running", started_at=now_iso(), message="started", progress=0.0)
        print(f"{now_iso()} job {spec.job_id} ({spec.kind}) on engine {spec.engine}", flush=True)
        try:
            result = run_engine(spec, job_dir, status)
        except GenoteamError as error:
            traceback.print_exc()
            status.update(state="failed", error=error.problem, hint=error.hint or None, finished_at=now_iso())
            return 1
        except Exception as error:  # any engine crash ends the job as failed, never silently
            traceback.print_exc()
            status.update(
                state="failed",
                error=f"{type(error).__name__}: {error}",
                hint="this is a bug or an unexpected input; worker.log in the job folder has the traceback",
                finished_at=now_iso(),
            )
            return 1
        result = result.model_copy(update={"output_dir": "output"})
        write_json_atomic(job_dir / "result.json", result.model_dump(mode="json"))
        status.update(
            state="complete",
            progress=1.0,
            message=result.message or f"finished: {result.status}",
            result_status=result.status,
            finished_at=now_iso(),
        )
        print(f"{now_iso()} job {spec.job_id} finished: {result.status}", flush=True)
        return 0
    finally:
        slot.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m genoteam.server.worker JOB_DIR [MAX_WORKERS]", file=sys.stderr)
        return 2
    return run_job(Path(argv[0]), int(argv[1]) if len(argv) > 1 else 2)


if __name__ == "__main__":
    sys.exit(main())
