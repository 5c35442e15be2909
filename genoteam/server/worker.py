"""`python -m genoteam.server.worker JOB_DIR [MAX_WORKERS]`: run one job to its end.

Why a separate process: jobs take minutes, clients disconnect and servers restart; the worker
leads its own session (started detached), so it survives the server, and `cancel_job` can stop
it and everything it started by signalling its process group. It waits for one of MAX_WORKERS
slots (file locks under <workspace>/slots/, released by the kernel even when a worker dies), so
a burst of jobs does not oversubscribe the machine.
"""

from __future__ import annotations

import errno
import fcntl
import inspect
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO

from genoteam.data.discovery import Discovery, discover_for_question, restrict_to_discovered, with_discovery
from genoteam.data.overlay import (
    AccessionNote,
    GeoFetcher,
    env_offline,
    input_with_accessions,
    series_accession,
)
from genoteam.pipeline.api import AnalysisResult, CohortOutcome, engine_keywords
from genoteam.sandbox import hostfs, lifecycle
from genoteam.server.engines import load_target
from genoteam.server.jobs import JobSpec, JobStatus, now_iso, write_json_atomic
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import OutputLayout

PROGRESS_EVERY_S = 0.25
GEO_CACHE_DIR = "geo_cache"  # under the workspace: series downloaded once serve every job
DEFAULT_DEADLINE_S = 6 * 3600.0  # a job's wall-clock limit (GENOTEAM_JOB_DEADLINE_S)
RESERVE_NAME = ".reserve"  # space held back so the worker can still record that the disk is full
RESERVE_BYTES = 256 << 10
CLOSE_WAIT_S = 30.0  # how long a deadline waits for the job's sandboxes to stop


class StatusWriter:
    """The worker's view of status.json: it is the only writer while the job runs."""

    def __init__(self, job_dir: Path) -> None:
        self.path = job_dir / "status.json"
        self.status = JobStatus.model_validate_json(self.path.read_text())
        self._last_write = 0.0
        self.lock = threading.RLock()  # the deadline watchdog takes it for good before its last word
        self.final = False

    def update(self, force: bool = True, **fields: object) -> None:
        with self.lock:
            if self.final:
                return
            for key, value in fields.items():
                setattr(self.status, key, value)
            if force or time.monotonic() - self._last_write >= PROGRESS_EVERY_S:
                self.status.updated_at = now_iso()
                self._write()
                self._last_write = time.monotonic()

    def _write(self) -> None:
        try:
            write_json_atomic(self.path, self.status.model_dump())
        except OSError as error:
            if error.errno != errno.ENOSPC or not release_reserve(self.path.parent):
                raise
            write_json_atomic(self.path, self.status.model_dump())  # the reserve's space is ours now

    def finish(self, **fields: object) -> None:
        """The last state; later updates (a thread still running) are ignored."""
        with self.lock:
            self.update(**fields)
            self.final = True


def hold_reserve(job_dir: Path) -> None:
    """A small file whose space is given back when the disk is full, so the job can say so."""
    try:
        with open(job_dir / RESERVE_NAME, "wb") as handle:
            handle.write(b"\0" * RESERVE_BYTES)
    except OSError:  # already full: the status write will say so or fail loudly
        pass


def release_reserve(job_dir: Path) -> bool:
    try:
        (job_dir / RESERVE_NAME).unlink()
        return True
    except FileNotFoundError:
        return False


def is_disk_full(error: BaseException) -> bool:
    """An ENOSPC/EDQUOT anywhere in the chain of causes."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error = error.__cause__ or error.__context__
    return False


def log_line(text: str, with_traceback: bool = False) -> None:
    """A line in worker.log; a full disk must not turn logging into a second failure."""
    try:
        if with_traceback:
            traceback.print_exc()
        print(f"{now_iso()} {text}", flush=True)
    except OSError:
        pass


def deadline_s() -> float:
    try:
        return float(os.environ.get("GENOTEAM_JOB_DEADLINE_S") or DEFAULT_DEADLINE_S)
    except ValueError:
        return DEFAULT_DEADLINE_S


def start_deadline(status: StatusWriter, seconds: float) -> threading.Timer:
    """After `seconds`, record the job failed, stop its sandboxes and end the worker."""

    def expire() -> None:
        from genoteam.sandbox import lifecycle

        with status.lock:  # no other status write from here on
            try:
                log_line(f"deadline of {seconds:g} s passed: stopping")
                closer = threading.Thread(target=lifecycle.close_all, daemon=True)
                closer.start()  # the sandboxes first, so a reader of the final state finds them gone
                closer.join(CLOSE_WAIT_S)
                status.finish(
                    state="failed",
                    error=f"the job ran past its wall-clock deadline of {seconds:g} s and was stopped",
                    hint="raise the limit (serve --job-deadline / GENOTEAM_JOB_DEADLINE_S) or narrow the request "
                    "(fewer cohorts); worker.log in the job folder shows where it was",
                    finished_at=now_iso(),
                )
            finally:
                os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


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


def copy_preprocessed(workspace: Path, spec: JobSpec, output_dir: Path, notes: list[str]) -> list[str]:
    """Bring the preprocessed cohorts of finished jobs for the same traits into this job's output.

    Why: `find_significant_genes` runs statistics only, on cohorts that earlier
    preprocess/analyze jobs in this workspace prepared. Returns the job ids used; what was not
    a regular file (links, FIFOs, devices) is dropped and described in `notes`.
    """
    traits = {spec.request.trait} | ({spec.request.condition} if spec.request.condition else set())
    used = []
    for job_dir in sorted((workspace / "jobs").glob("job-*")):
        if job_dir.name == spec.job_id or not (job_dir / "result.json").is_file():
            continue
        for trait in traits:
            source = Path(OutputLayout(job_dir / "output").trait_dir(trait))
            if hostfs.is_folder(source):  # sandbox-written: regular files only, links never followed
                listing = hostfs.copy_tree(source, Path(OutputLayout(output_dir).trait_dir(trait)))
                if listing.dropped:
                    notes.append(f"{job_dir.name}/{trait}: {listing.notes()}")
                used.append(job_dir.name)
    if not used:
        raise GenoteamError(
            f"no preprocessed cohorts for {', '.join(sorted(traits))} in this workspace",
            "run preprocess_cohort (or analyze_trait) for the trait first",
        )
    return sorted(set(used))


def discovered_input(spec: JobSpec, job_dir: Path, status: StatusWriter) -> tuple[Path, JobSpec, Discovery]:
    """discover=true: the trait's cohorts found by search and downloaded into <workspace>/geo_cache
    (once per workspace), read from the cache's GenoTEX-layout folder; the request is restricted
    to them. Progress messages say what is being searched and downloaded."""
    from genoteam.agents.cohort_judge import configured_judge  # the PI's model when one is configured

    found = discover_for_question(
        spec.request.trait,
        spec.request.condition,
        judge=configured_judge(),
        cache_dir=job_dir.parent.parent / GEO_CACHE_DIR,
        offline=env_offline(),
        progress=lambda message: status.update(message=message),
    )
    request = spec.request.model_copy(update={"cohorts": restrict_to_discovered(spec.request.cohorts, found)})
    return found.input_dir, spec.model_copy(update={"request": request}), found


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
    found = None
    if spec.request.discover and spec.kind != "statistics":
        input_dir, spec, found = discovered_input(spec, job_dir, status)
        notes: list[AccessionNote] = []
    else:
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
    options = engine_keywords(engine, spec.options)  # the spec's options, as this engine takes them
    if spec.kind == "analyze":
        return with_discovery(
            with_download_notes(engine(*args, **options), notes, spec.request.trait), output_dir, found
        )
    if spec.kind == "preprocess":
        if staged:
            result = engine(*args, stage="preprocess", **options)
            return with_discovery(with_download_notes(result, notes, spec.request.trait), output_dir, found)
        result = engine(*args, **options)
        note = f"engine {spec.engine} has no preprocess-only stage: ran the whole analysis restricted to the cohort"
        result = result.model_copy(update={"message": f"{result.message} ({note})".strip()})
        return with_discovery(with_download_notes(result, notes, spec.request.trait), output_dir, found)
    dropped: list[str] = []
    used = copy_preprocessed(job_dir.parent.parent, spec, output_dir, dropped)
    if not staged:
        raise GenoteamError(
            f"engine {spec.engine} cannot run statistics alone",
            "use analyze_trait, which preprocesses and runs the statistics in one job",
        )
    result = engine(*args, stage="statistics", **options)
    note = f"statistics on cohorts preprocessed by {', '.join(used)}" + "".join(
        f"; dropped from the copy: {d}" for d in dropped
    )
    return result.model_copy(update={"message": f"{result.message} ({note})".strip()})


def result_failed(result: AnalysisResult) -> bool:
    """An answer that is a failure: the engine said failed, or every cohort failed with an error."""
    return result.status == "failed" or (bool(result.cohorts) and all(c.error for c in result.cohorts))


def run_job(job_dir: Path, max_workers: int) -> int:
    spec = JobSpec.model_validate_json((job_dir / "job.json").read_text())
    status = StatusWriter(job_dir)
    pid = os.getpid()
    status.update(pid=pid, pid_start=lifecycle.process_start_time(pid), state="queued")
    if (job_dir / "cancel.requested").exists():
        return 0
    slot = acquire_slot(job_dir.parent.parent, max_workers, status)
    hold_reserve(job_dir)
    limit = deadline_s()
    start_deadline(status, limit)
    try:
        status.update(state="running", started_at=now_iso(), message="started", progress=0.0)
        log_line(f"job {spec.job_id} ({spec.kind}) on engine {spec.engine}; deadline {limit:g} s")
        if spec.kind == "batch":
            return run_batch_kind(spec, job_dir, status, max_workers)
        try:
            result = run_engine(spec, job_dir, status)
            result = result.model_copy(update={"output_dir": "output"})
            write_json_atomic(job_dir / "result.json", result.model_dump(mode="json"))
        except Exception as error:  # any engine crash ends the job as failed, never silently
            log_line(f"job {spec.job_id} failed", with_traceback=True)
            (job_dir / "result.json").unlink(missing_ok=True)
            status.finish(state="failed", finished_at=now_iso(), **failure_fields(error, job_dir))
            return 1
        if result_failed(result):  # the result stays readable; the job says failed, never complete
            status.finish(
                state="failed",
                progress=1.0,
                message=f"finished: {result.status}",
                result_status=result.status,
                error=result.message or "every cohort failed",
                hint="get_result lists each cohort's error; fix the cause and ask again (a failed job is re-run)",
                finished_at=now_iso(),
            )
            log_line(f"job {spec.job_id} failed: {result.message[:300]}")
            return 1
        status.finish(
            state="complete",
            progress=1.0,
            message=result.message or f"finished: {result.status}",
            result_status=result.status,
            finished_at=now_iso(),
        )
        log_line(f"job {spec.job_id} finished: {result.status}")
        return 0
    finally:
        slot.close()


def run_batch_kind(spec: JobSpec, job_dir: Path, status: StatusWriter, max_workers: int) -> int:
    """A batch job (server/batch_jobs.py): its summary decides the state; no result.json."""
    from genoteam.server.batch_jobs import batch_outcome, run_batch_job

    def report(fraction: float, message: str) -> None:
        status.update(force=False, progress=max(0.0, min(1.0, fraction)), message=message[:300])

    try:
        summary = run_batch_job(spec, job_dir, max_workers, report, log_line)
    except Exception as error:  # the batch could not run: failed, with the reason
        log_line(f"job {spec.job_id} failed", with_traceback=True)
        status.finish(state="failed", finished_at=now_iso(), **failure_fields(error, job_dir))
        return 1
    state, result_status, message = batch_outcome(summary)
    failed = state == "failed"
    status.finish(
        state=state,
        progress=1.0,
        message=message,
        result_status=result_status,
        error=message if failed else None,
        hint="get_result gives each question's reason; fix the cause and ask again (what finished is kept)"
        if failed
        else None,
        finished_at=now_iso(),
    )
    log_line(f"job {spec.job_id} finished: {state} ({message})")
    return 1 if failed else 0


def failure_fields(error: Exception, job_dir: Path) -> dict[str, str | None]:
    """error and hint of a failed job; a full disk is named as such (it is not the engine's fault)."""
    if is_disk_full(error):
        try:
            disk = os.statvfs(job_dir)
            free = f" ({disk.f_bavail * disk.f_frsize} bytes free)"
        except OSError:
            free = ""
        return {
            "error": f"disk full: the disk holding the workspace has no space left{free}; the job stopped at: "
            f"{type(error).__name__}: {str(error)[:300]}",
            "hint": "free space on that disk (old jobs under <workspace>/jobs can be deleted), then submit again",
        }
    if isinstance(error, GenoteamError):
        return {"error": error.problem[:4000], "hint": error.hint or None}
    return {
        "error": f"{type(error).__name__}: {str(error)[:4000]}",
        "hint": "this is a bug or an unexpected input; worker.log in the job folder has the traceback",
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m genoteam.server.worker JOB_DIR [MAX_WORKERS]", file=sys.stderr)
        return 2
    return run_job(Path(argv[0]), int(argv[1]) if len(argv) > 1 else 2)


if __name__ == "__main__":
    sys.exit(main())
