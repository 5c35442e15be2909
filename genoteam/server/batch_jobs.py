"""analyze_batch, server side: the batch request, its run in a job's worker, its result page.

A batch is a job of the one job store (server/jobs.py), kind "batch": job.json carries a
BatchSpec, the job folder its own copy of the task file (task_info.json), and the worker runs
genoteam.batch's runner into <job>/batch/ (plan, task states, GenoTEX's layout, summary.json),
reporting progress per task ("7/12 cohorts, 3/20 questions"). A failed or interrupted batch
asked again resumes in the same folder: finished tasks are kept (their content keys match).

The task file comes three ways: a path inside the server's input folder (anything that resolves
outside it, links included, is refused), the file's JSON content, or a list of questions
(TRAIT or TRAIT:CONDITION, names as people type them, mapped to canonical names). With a task
file the list is a filter (genoteam.batch's, wildcards allowed). Questions without a task file
take their known genes from the server's task file when it has one (serve's engine options,
GENOTEAM_TASK_INFO; two-step questions need them), else none: such a question says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.fingerprint import code_inputs, folders_fingerprint
from genoteam.server import names
from genoteam.server.jobs import BatchSpec, JobSpec
from genoteam.toolkit.errors import GenoteamError

TASK_FILE = "task_info.json"  # the job's copy of its task file
BATCH_DIR = "batch"  # genoteam.batch's folder inside the job folder
MAX_TASK_FILE_BYTES = 8 << 20  # GenoTEX's own task file is 0.6 MB
BATCH_ENGINES = ("reference", "team")
CLUSTER_ENV = "GENOTEAM_BATCH_CLUSTER"  # pool (default), local, auto or ray://HOST:PORT
WILDCARDS = set("*?[")


@dataclass(frozen=True)
class PreparedBatch:
    """A checked batch request, ready for JobStore.submit."""

    request: AnalysisRequest  # the job's request: its first trait and the method (for listings)
    spec: BatchSpec
    content: bytes  # the task file
    depends_on: dict[str, str]


def read_task_file(task_file: str, input_dir: Path) -> tuple[bytes, str]:
    """The task file's bytes and how it was given: JSON content, or a path inside `input_dir`."""
    text = task_file.strip()
    if text.startswith("{"):
        return text.encode(), "task file content"
    root = Path(os.path.realpath(input_dir))
    try:
        given = Path(text)
        real = Path(os.path.realpath(given if given.is_absolute() else root / given))
    except (ValueError, OSError) as error:  # NUL bytes, loops
        raise GenoteamError(f"task_file {text[:80]!r} is not a path ({error})", _PATH_HINT) from None
    if real != root and root not in real.parents:
        raise GenoteamError(
            f"task_file {text[:200]!r} is outside the server's input folder: refused", _PATH_HINT
        )
    if not real.is_file():
        raise GenoteamError(
            f"task_file {text[:200]!r} is not a file in the server's input folder", _PATH_HINT
        )
    if real.stat().st_size > MAX_TASK_FILE_BYTES:
        raise GenoteamError(
            f"task_file {text[:200]!r} is larger than {MAX_TASK_FILE_BYTES >> 20} MB", "split the task file"
        )
    return real.read_bytes(), f"task file {real.relative_to(root)}"


_PATH_HINT = (
    "give a path relative to the server's input folder (e.g. task_info.json), or pass the task file's JSON "
    "content as task_file, or list the questions"
)


def task_from_questions(
    items: list[str], input_dir: Path, known_genes_file: str | None = None
) -> tuple[dict[str, Any], str]:
    """A task file for listed questions, and the filter that keeps exactly those questions."""
    known = _known_genes(known_genes_file)
    task: dict[str, dict[str, Any]] = {}
    wanted = []
    for item in items:
        trait_text, _, condition_text = item.partition(":")
        if WILDCARDS & set(item):
            raise GenoteamError(
                f"questions item {item!r} has a wildcard, which needs a task file to match against",
                "name each question (TRAIT or TRAIT:CONDITION), or pass task_file with questions as a filter",
            )
        condition_text = condition_text.strip() or None
        if condition_text is not None and condition_text.lower() == "none":
            condition_text = None
        trait, condition = names.resolve(input_dir, trait_text.strip(), condition_text)
        entry = task.setdefault(
            trait.canonical,
            {
                "related_genes": list(known.get(trait.canonical, {}).get("related_genes", [])),
                "conditions": [],
            },
        )
        if condition is not None:
            if condition.canonical not in entry["conditions"]:
                entry["conditions"].append(condition.canonical)
            if condition.canonical not in ("Age", "Gender") and condition.canonical not in task:
                task[condition.canonical] = {  # its known genes: the two-step regression reads them
                    "related_genes": list(known.get(condition.canonical, {}).get("related_genes", [])),
                    "conditions": [],
                }
        wanted.append(f"{trait.canonical}:{condition.canonical if condition else 'None'}")
    return task, ",".join(dict.fromkeys(wanted))


def _known_genes(path: str | None) -> dict[str, Any]:
    """The server's own task file (its known genes), or {} when it has none."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise GenoteamError(
            f"the server's task file (GENOTEAM_TASK_INFO) cannot be read ({type(error).__name__})",
            "fix the file or unset it",
        ) from None
    return data if isinstance(data, dict) else {}


def prepare_batch(
    input_dir: Path,
    task_file: str | None,
    questions: list[str] | None,
    method: str,
    engine: str,
    known_genes_file: str | None = None,
) -> PreparedBatch:
    """Check a batch request before any job exists: the task file's shape, the filter, the names."""
    from genoteam.batch.plan import read_questions  # the batch's own reader: one set of rules

    if engine not in BATCH_ENGINES:
        raise GenoteamError(
            f"analyze_batch runs the team or reference engine; this server runs {engine!r}",
            "start the server with --engine team or --engine reference (GENOTEAM_ENGINE)",
        )
    if task_file:
        content, source = read_task_file(task_file, input_dir)
        spec = ",".join(questions) if questions else None
    elif questions:
        task, spec = task_from_questions(questions, input_dir, known_genes_file)
        content, source = json.dumps(task, indent=1).encode(), "questions"
    else:
        raise GenoteamError("analyze_batch needs task_file or questions", _PATH_HINT)
    with tempfile.TemporaryDirectory() as folder:  # the batch reads a file: check that one
        path = Path(folder) / TASK_FILE
        path.write_bytes(content)
        try:
            task_info, chosen = read_questions(path, spec)
        except GenoteamError as error:
            raise GenoteamError(error.problem.replace(str(path), "the task file"), error.hint) from None
    if not chosen:
        raise GenoteamError("the task file asks no question", "give a task file with at least one trait")
    traits = list(dict.fromkeys(t for t, _ in chosen))
    # the same task, however written (a path, its content, other spacing), is the same job
    digest = hashlib.sha256(json.dumps(task_info, sort_keys=True).encode()).hexdigest()
    batch = BatchSpec(
        task_sha256=digest,
        questions=spec,
        n_questions=len(chosen),
        traits=traits,
        source=source,
        batch_engine=engine,  # type: ignore[arg-type]  # checked above
    )
    depends_on = {
        "task_sha256": digest,
        "questions": spec or "",
        "inputs": folders_fingerprint(input_dir, [input_dir]),  # any changed input file: a new job
        **code_inputs(),
    }
    request = AnalysisRequest(trait=traits[0], method=method)  # type: ignore[arg-type]
    return PreparedBatch(request, batch, content, depends_on)


# ---------------------------------------------------------------- in the worker


def batch_progress(counts: Counter, totals: Counter, running: set[str]) -> tuple[float, str]:
    """(fraction, '7/12 cohorts, 3/20 questions done; 2 running, 1 failed')."""
    done = counts["cohort"] + counts["question"]
    total = max(1, totals["cohort"] + totals["question"])
    text = f"{counts['cohort']}/{totals['cohort']} cohorts, {counts['question']}/{totals['question']} questions done"
    extra = [f"{len(running)} running"] if running else []
    if counts["failed"]:
        extra.append(f"{counts['failed']} failed")
    return done / total, text + (f"; {', '.join(extra)}" if extra else "")


def run_batch_job(spec: JobSpec, job_dir: Path, max_parallel: int, report: Any, say: Any) -> dict[str, Any]:
    """Run (or resume) the job's batch; `report(fraction, message)` hears every task's start and end."""
    from genoteam.batch.executors import make_executor
    from genoteam.batch.folder import BatchFolder
    from genoteam.batch.plan import BatchOptions, build_plan
    from genoteam.batch.runner import run_batch, to_run

    assert spec.batch is not None
    task_info, input_dir, folder = job_dir / TASK_FILE, Path(spec.input_dir), job_dir / BATCH_DIR
    options = BatchOptions(
        engine=spec.batch.batch_engine,
        method=spec.request.method,
        sandbox=spec.options.sandbox,
        sandbox_image=spec.options.sandbox_image,
    )
    resume = (folder / "plan.json").is_file()
    plan = build_plan(task_info, input_dir, folder, options, spec.batch.questions)  # the totals to count
    pending = {t.key for t in to_run(plan, BatchFolder(folder))} if resume else {t.key for t in plan.tasks}
    totals = Counter(t.kind for t in plan.tasks)
    counts = Counter(t.kind for t in plan.tasks if t.key not in pending)  # finished by an earlier attempt
    running: set[str] = set()
    report(*batch_progress(counts, totals, running))

    def progress(_counts: Any, event: Any, task: Any) -> None:
        if event.kind == "started":
            running.add(task.key)
        else:
            running.discard(task.key)
            counts[task.kind] += 1
            counts["failed"] += event.outcome.status == "failed"
        report(*batch_progress(counts, totals, running))

    executor = make_executor(os.environ.get(CLUSTER_ENV) or "pool", max_parallel, say)
    return run_batch(
        task_info,
        input_dir,
        folder,
        executor,
        options,
        spec.batch.questions,
        resume=resume,
        progress=progress,
    )


def batch_outcome(summary: dict[str, Any]) -> tuple[str, str, str]:
    """(job state, result status, message) of a finished batch: failed when no question has an
    outcome (every one failed or did not run), partial when some failed, complete otherwise."""
    from genoteam.batch.summary import complete_without_failure

    q = summary["questions"]
    message = (
        f"{q['total']} questions: {q['answered']} answered"
        + (f" ({q['partial']} partial)" if q["partial"] else "")
        + f", {q['insufficient_data']} insufficient data, {q['failed']} failed"
        + (f", {q['not_run']} not run" if q["not_run"] else "")
        + f"; cohorts: {summary['cohorts']['usable']} usable, {summary['cohorts']['unusable']} unusable, "
        f"{summary['cohorts']['failed']} failed"
    )
    if q["answered"] + q["insufficient_data"] == 0:
        return "failed", "failed", message
    return "complete", "complete" if complete_without_failure(summary) else "partial", message


# ---------------------------------------------------------------- reading the result


def read_summary(job_dir: Path) -> dict[str, Any] | None:
    """The batch's summary.json, read without following links, or None when there is none."""
    from genoteam.sandbox import hostfs

    path = job_dir / BATCH_DIR / "summary.json"
    try:
        return json.loads(hostfs.read_text(path.parent, path, 64 << 20))
    except FileNotFoundError:
        return None
    except (ValueError, GenoteamError) as error:
        raise GenoteamError(
            f"the batch's summary.json is damaged ({str(error)[:200]})",
            "submit the batch again with force=true",
        ) from None


QUESTION_FIELDS = (
    "trait",
    "condition",
    "category",
    "status",
    "partial",
    "reason",
    "selected_cohorts",
    "n_significant",
)


def question_rows(
    summary: dict[str, Any], offset: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the per-question table, and the next offset (None on the last page)."""
    rows = summary.get("per_question", [])
    page = [{k: row.get(k) for k in QUESTION_FIELDS} for row in rows[offset : offset + limit]]
    end = offset + len(page)
    return page, end if end < len(rows) else None


def batch_page(summary: dict[str, Any], spec: BatchSpec, offset: int, limit: int) -> dict[str, Any]:
    """What get_result carries of a batch (ResultPage.batch): counts and a page of questions."""
    rows, next_offset = question_rows(summary, offset, limit)
    return {
        "source": spec.source,
        "engine": spec.batch_engine,
        "questions": summary["questions"],
        "cohorts": summary["cohorts"],
        "offset": offset,
        "next_offset": next_offset,
        "rows": rows,
    }


def batch_lines(page: dict[str, Any]) -> list[str]:
    """What get_result says of a batch, after its status line."""
    q, c = page["questions"], page["cohorts"]
    lines = [
        f"Batch of {q['total']} questions ({page['source']}, engine {page['engine']}): {q['answered']} answered"
        + (f" ({q['partial']} partial)" if q["partial"] else "")
        + f", {q['insufficient_data']} insufficient data, {q['failed']} failed"
        + (f", {q['not_run']} not run" if q["not_run"] else "")
        + ".",
        f"Cohorts: {c['total']}: {c['usable']} usable, {c['unusable']} unusable data, {c['failed']} failed.",
    ]
    for i, row in enumerate(page["rows"], start=page["offset"] + 1):
        what = f"{row['trait']} | {row['condition'] or 'None'}"
        genes = f", {row['n_significant']} genes" if row.get("n_significant") is not None else ""
        cohorts = f", cohorts {', '.join(row['selected_cohorts'])}" if row.get("selected_cohorts") else ""
        why = f": {row['reason'][:200]}" if row["status"] != "answered" and row.get("reason") else ""
        partial = " (partial)" if row.get("partial") else ""
        lines.append(f"{i}. {what}: {row['status']}{partial}{genes}{cohorts}{why}")
    return lines


def batch_label(spec: BatchSpec) -> str:
    """A batch's name in job listings: how many questions, about which traits."""
    shown = ", ".join(spec.traits[:3]) + (f" and {len(spec.traits) - 3} more" if len(spec.traits) > 3 else "")
    return f"{spec.n_questions} questions: {shown}"
