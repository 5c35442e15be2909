"""What one batch task does, in whichever process or node runs it (genoteam/batch/executor.py).

A cohort task preprocesses one cohort folder (a GEO series, or a trait's TCGA cohort) for one
entity with an engine's stage "preprocess", restricted to that cohort, in the task's own work
folder; then it publishes the cohort's tables and cohort_info record into the batch's shared
GenoTEX layout. A question task gathers the cohorts it needs from their tasks' work folders into
its own work folder, runs the engine's stage "statistics" there and publishes its regress/ files.

Why own work folders: tasks of one trait run at the same time on different nodes; each engine run
sees exactly the cohorts it is about, and a rerun starts from an empty folder.

Honesty rules (one home): a cohort whose preprocessing failed is "failed" and its record is never
published as unusable data; a question one of whose cohorts failed is "failed" when it cannot be
answered (the failed cohort might have been the usable one), and "done" but partial when it is
answered from the others (--resume runs a partial question again).
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from genoteam.batch.executor import BatchTask, TaskOutcome, TaskStatus
from genoteam.batch.folder import BatchFolder
from genoteam.pipeline.api import (
    AnalysisRequest,
    AnalysisResult,
    EngineOptions,
    engine_keywords,
)
from genoteam.pipeline.results import unusable_reasons
from genoteam.sandbox import hostfs, lifecycle
from genoteam.toolkit.cohort_info import restore_cohort_record, update_cohort_info
from genoteam.toolkit.errors import GenoteamError, describe
from genoteam.toolkit.layout import OutputLayout, atomic_write_bytes, atomic_write_json

ANSWERED = ("complete", "partial")


def run_task(task: BatchTask, node: str) -> TaskOutcome:
    """Run `task` here; any failure becomes a failed outcome that says what went wrong."""
    started = time.monotonic()
    os.environ[lifecycle.NODE_ENV] = node  # the code that starts the task's sandboxes records it
    try:
        if task.kind == "cohort":
            status, reason, detail = run_cohort(task)
        elif task.kind == "question":
            status, reason, detail = run_question(task)
        else:
            raise GenoteamError(
                f"unknown task kind {task.kind!r}", "the plan was written by another genoteam"
            )
    except Exception as error:  # one task's failure is its outcome, never the batch's crash
        status, detail = "failed", {"traceback": "".join(traceback.format_exception(error))[-3_000:]}
        reason = describe(error)
    work = BatchFolder(Path(task.payload["batch_dir"])).work_dir(task.key)
    return TaskOutcome(
        key=task.key,
        status=status,
        reason=reason,
        node=node,
        sandbox_node=_sandbox_node(work),
        seconds=round(time.monotonic() - started, 3),
        detail=detail,
    )


def _fresh(folder: Path) -> Path:
    """An empty work folder (an earlier attempt's files would mix into this one's)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _engine_run(payload: dict[str, Any], request: AnalysisRequest, work: Path, stage: str) -> AnalysisResult:
    """The payload's engine, one stage, on `request`, writing into `work`, with the engine options
    the batch was started with (pipeline.api.EngineOptions: read once by the CLI, carried here)."""
    if payload["engine"] == "reference":
        from genoteam.pipeline.reference import run_reference as engine
    elif payload["engine"] == "team":
        from genoteam.agents.engine import run_team as engine
    else:
        raise GenoteamError(f"unknown engine {payload['engine']!r}", "use --engine reference or team")
    options = EngineOptions.model_validate(payload["engine_options"])
    return engine(
        request, Path(payload["input_dir"]), work, None, stage=stage, **engine_keywords(engine, options)
    )


def _sandbox_node(work: Path) -> str:
    """The node(s) the team's sandbox sessions say they were started on (provenance.json), if any."""
    try:
        sessions = hostfs.read_json(work, work / "provenance.json")["sandbox"]["sessions"]
        nodes = sorted({str(s["node"]) for s in sessions.values() if isinstance(s, dict) and s.get("node")})
    except (OSError, ValueError, KeyError, TypeError, GenoteamError):
        return ""
    return ",".join(nodes)


# ------------------------------------------------------------------------------ files


def _place(source_root: Path, source: Path, target: Path, link: bool) -> None:
    """Put `source` at `target` atomically: a hard link when the engine is trusted (the reference
    runs no generated code), else a copy read without following links (sandbox-written files)."""
    if link:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.link")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
            os.replace(tmp, target)
            return
        except OSError:  # another file system, or links refused: copy instead
            tmp.unlink(missing_ok=True)
    atomic_write_bytes(target, hostfs.read_bytes(source_root, source))


def _cohort_files(root: Path, entity: str, cohort: str) -> list[Path]:
    layout = OutputLayout(root)
    return [
        layout.gene_data_path(entity, cohort),
        layout.clinical_data_path(entity, cohort),
        layout.linked_data_path(entity, cohort),
        layout.cohort_record_path(entity, cohort),
    ]


def _copy_cohort(work: Path, target_root: Path, entity: str, cohort: str, link: bool) -> None:
    """One cohort's tables and record from `work` into `target_root` (stale ones removed)."""
    for source, target in zip(
        _cohort_files(work, entity, cohort), _cohort_files(target_root, entity, cohort), strict=True
    ):
        if hostfs.is_regular(work, source):
            _place(work, source, target, link)
        else:
            target.unlink(missing_ok=True)
    records = _records(work, entity)
    info = OutputLayout(target_root).cohort_info_path(entity)
    if cohort in records:
        update_cohort_info(info, cohort, records[cohort])
    else:
        restore_cohort_record(info, cohort, None)


def _withdraw_cohort(target_root: Path, entity: str, cohort: str) -> None:
    """A cohort that failed now: what an earlier attempt published of it is withdrawn."""
    for target in _cohort_files(target_root, entity, cohort):
        target.unlink(missing_ok=True)
    restore_cohort_record(OutputLayout(target_root).cohort_info_path(entity), cohort, None)


def _records(work: Path, entity: str) -> dict[str, dict]:
    """The entity's cohort_info.json records in `work` ({} when the engine wrote none); a damaged
    file is an error, never a silently shorter list."""
    layout = hostfs.output_layout(work)
    if not hostfs.is_regular(work, Path(layout.cohort_info_path(entity))):
        return {}
    return layout.cohort_info(entity)


# ------------------------------------------------------------------------------ cohort


def run_cohort(task: BatchTask) -> tuple[TaskStatus, str, dict[str, Any]]:
    p = task.payload
    folder = BatchFolder(Path(p["batch_dir"]))
    work = _fresh(folder.work_dir(task.key))
    entity, cohort = p["entity"], p["cohort"]
    request = AnalysisRequest(trait=entity, cohorts=[cohort], symbol_policy=p["symbol_policy"])
    result = _engine_run(p, request, work, "preprocess")
    outcomes = [o for o in result.cohorts if o.trait == entity]
    detail: dict[str, Any] = {
        "entity": entity,
        "folder": cohort,
        "result_status": result.status,
        "cohorts": [o.model_dump(mode="json") for o in outcomes],
    }
    trusted = p["engine"] == "reference"
    for outcome in outcomes:
        if outcome.error:
            _withdraw_cohort(folder.root, entity, outcome.cohort)
        else:
            _copy_cohort(work, folder.root, entity, outcome.cohort, link=trusted)
    if not outcomes:
        return "failed", f"preprocessing {entity}/{cohort} gave no cohort: {result.message}", detail
    failed = [o for o in outcomes if o.error]
    if failed:
        return "failed", "; ".join(f"{o.trait}/{o.cohort}: {o.error}" for o in failed), detail
    if result.status != "preprocessed":
        return "failed", f"preprocessing ended {result.status}: {result.message}", detail
    usable = [o.cohort for o in outcomes if o.usable]
    if usable:
        return "done", f"usable: {', '.join(usable)}", detail
    return "insufficient_data", " | ".join(unusable_reasons(outcomes)), detail


# ------------------------------------------------------------------------------ question


def run_question(task: BatchTask) -> tuple[TaskStatus, str, dict[str, Any]]:
    p = task.payload
    folder = BatchFolder(Path(p["batch_dir"]))
    work = _fresh(folder.work_dir(task.key))
    trait, condition = p["trait"], p.get("condition")
    trusted = p["engine"] == "reference"
    failed_cohorts: dict[str, str] = {}
    for key, cohort in sorted(p["cohorts"].items(), key=lambda item: (item[1]["entity"], item[1]["cohort"])):
        label = f"{cohort['entity']}/{cohort['cohort']}"
        state = folder.read_state(key)
        if state is None or state.get("status") not in ("done", "insufficient_data"):
            failed_cohorts[label] = (state or {}).get("reason") or "its preprocessing has no recorded outcome"
            continue
        source = folder.work_dir(key)
        for preprocessed in state.get("detail", {}).get("cohorts", []):
            if not preprocessed.get("error"):
                _copy_cohort(source, work, cohort["entity"], preprocessed["cohort"], link=trusted)
    for entity in p["entities"]:  # an entity without cohorts still has its (empty) record
        info = OutputLayout(work).cohort_info_path(entity)
        if not info.exists():
            atomic_write_json(info, {})
    request = AnalysisRequest(trait=trait, condition=condition, **p["request"])
    result = _engine_run(p, request, work, "statistics")
    _publish_answer(work, folder.root, trait, condition, trusted)
    detail: dict[str, Any] = {
        "trait": trait,
        "condition": condition,
        "result_status": result.status,
        "selected_cohorts": result.selected_cohorts,
        "n_significant": len(result.significant_genes),
        "failed_cohorts": failed_cohorts,
        "partial": False,
    }
    failures = "; ".join(f"{name} failed: {why}" for name, why in failed_cohorts.items())
    if result.status in ANSWERED:
        detail["partial"] = bool(failed_cohorts) or result.status == "partial"
        note = f"partial: {failures}" if failed_cohorts else result.message
        return (
            "done",
            f"answered from {', '.join(result.selected_cohorts) or 'no cohort'}"
            + (f"; {note}" if note else ""),
            detail,
        )
    if result.status == "insufficient_data" and not failed_cohorts:
        return "insufficient_data", result.message, detail
    if result.status == "insufficient_data":
        return "failed", f"not answered and not known to lack data, because {failures}", detail
    return "failed", f"statistics ended {result.status}: {result.message}", detail


def _publish_answer(work: Path, root: Path, trait: str, condition: str | None, link: bool) -> None:
    """The question's regress/ files into the shared layout; a file this run did not write is
    removed there (an earlier attempt's answer is never left standing for this one)."""
    source, target = OutputLayout(work), OutputLayout(root)
    for name in ("significant_genes_path", "association_table_path"):
        src, dst = getattr(source, name)(trait, condition), getattr(target, name)(trait, condition)
        if hostfs.is_regular(work, src):
            _place(work, src, dst, link)
        else:
            dst.unlink(missing_ok=True)
