"""Run a batch: plan it, skip what is finished, run the rest on an executor, record every task's
state as it happens, and end with the summary (and the scores when a reference is given).

Resume rule: a task whose state says done or insufficient_data under the same content key is not
run again; a failed, running (the driver was killed) or partial one is, and so is a finished
question one of whose cohorts runs again (its inputs are being remade).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genoteam import __version__
from genoteam.batch.executor import BatchTask, Executor, TaskEvent
from genoteam.batch.folder import BatchFolder
from genoteam.batch.plan import BatchOptions, BatchPlan, build_plan, read_questions
from genoteam.batch.summary import summarize
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_bytes, atomic_write_json


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Progress:
    """Counts the runner keeps while tasks run (what a progress bar shows)."""

    total: int
    skipped: int
    to_run_by_kind: dict[str, int] = field(default_factory=dict)  # this run's tasks: cohort, question
    finished_by_kind: dict[str, int] = field(default_factory=dict)
    done: int = 0
    failed: int = 0
    running: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.done + self.failed


ProgressCallback = Callable[[Progress, TaskEvent, BatchTask], None]


def to_run(plan: BatchPlan, folder: BatchFolder) -> list[BatchTask]:
    """The tasks of the plan that are not finished (module docstring's resume rule)."""
    rerun = {t.key for t in plan.tasks if not folder.finished(t.key)}
    for task in plan.tasks:
        if task.kind == "question" and any(n in rerun for n in task.needs):
            rerun.add(task.key)
    return [t for t in plan.tasks if t.key in rerun]


def _start_folder(folder: BatchFolder, resume: bool) -> None:
    if folder.plan_path.is_file() and not resume:
        raise GenoteamError(
            f"{folder.root} already holds a batch (plan.json)",
            "pass --resume to continue it (finished tasks are kept), or choose a new --output folder",
        )
    if folder.holds_other_work():
        raise GenoteamError(
            f"{folder.root} is not empty and holds no batch",
            "choose a new --output folder (a batch writes its plan, states and GenoTEX's layout there)",
        )


def _own_task_file(folder: BatchFolder, task_info: Path) -> Path:
    """The batch's copy of the task file, in a folder of its own that every task may read (the
    team's statistician mounts the file's folder into its sandbox, whose user must read it)."""
    if not task_info.is_file():
        raise GenoteamError(
            f"task file {task_info} does not exist", "pass GenoTEX's task_info.json with --task-info"
        )
    own = folder.root / "inputs" / "task_info.json"
    own.parent.mkdir(parents=True, exist_ok=True)
    own.parent.chmod(0o755)
    atomic_write_bytes(own, task_info.read_bytes())
    return own


def run_batch(
    task_info: Path,
    input_dir: Path,
    output_dir: Path,
    executor: Executor,
    options: BatchOptions | None = None,
    questions: str | None = None,
    resume: bool = False,
    reference: Path | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Answer every selected question of `task_info` from `input_dir` into the batch folder
    `output_dir`; returns the summary (also written to summary.json)."""
    options = options or BatchOptions()
    folder = BatchFolder(output_dir)
    _start_folder(folder, resume)
    if not Path(task_info).is_file():
        raise GenoteamError(
            f"task file {task_info} does not exist", "pass GenoTEX's task_info.json with --task-info"
        )
    read_questions(Path(task_info), questions)  # names and filter checked before anything is written
    if reference is not None and not Path(reference).is_dir():
        raise GenoteamError(
            f"reference folder {reference} does not exist", "give --reference a GenoTEX output folder"
        )
    with folder.exclusive():
        plan = build_plan(_own_task_file(folder, Path(task_info)), input_dir, folder.root, options, questions)
        atomic_write_json(
            folder.plan_path,
            {
                "genoteam_version": __version__,
                "written_at": now_iso(),
                "task_info": str(Path(task_info).resolve()),
                "input_dir": str(Path(input_dir).resolve()),
                "questions_filter": questions,
                "options": options.__dict__,
                **plan.to_json(),
            },
        )
        tasks = to_run(plan, folder)
        by_key = plan.by_key()
        counts = Progress(total=len(plan.tasks), skipped=len(plan.tasks) - len(tasks))
        for task in tasks:
            counts.to_run_by_kind[task.kind] = counts.to_run_by_kind.get(task.kind, 0) + 1
        attempts = {t.key: int((folder.read_state(t.key) or {}).get("attempts", 0)) for t in tasks}
        wall = time.monotonic()
        lost: dict[str, list[dict[str, str]]] = {}  # attempts lost with their worker or node

        def on_event(event: TaskEvent) -> None:
            task = by_key[event.key]
            base = {"kind": task.kind, "label": task.label}
            if event.kind == "started":
                attempts[event.key] += 1
                counts.running.add(event.key)
                folder.write_state(
                    event.key,
                    {
                        **base,
                        "status": "running",
                        "node": event.node,
                        "attempts": attempts[event.key],
                        "started_at": now_iso(),
                        "lost": lost.get(event.key, []),
                    },
                )
            elif event.kind == "rescheduled":
                counts.running.discard(event.key)
                lost.setdefault(event.key, []).append(
                    {"node": event.node, "reason": event.reason, "at": now_iso()}
                )
                previous = folder.read_state(event.key) or {}
                folder.write_state(
                    event.key, {**previous, **base, "status": "rescheduled", "lost": lost[event.key]}
                )
            else:
                outcome = event.outcome
                assert outcome is not None
                counts.running.discard(event.key)
                counts.failed += outcome.status == "failed"
                counts.done += outcome.status != "failed"
                counts.finished_by_kind[task.kind] = counts.finished_by_kind.get(task.kind, 0) + 1
                previous = folder.read_state(event.key) or {}
                folder.write_state(
                    event.key,
                    {
                        **base,
                        "status": outcome.status,
                        "reason": outcome.reason,
                        "partial": bool(outcome.detail.get("partial")),
                        "node": outcome.node,
                        "sandbox_node": outcome.sandbox_node,
                        "seconds": outcome.seconds,
                        "attempts": attempts[event.key],
                        "started_at": previous.get("started_at"),
                        "finished_at": now_iso(),
                        "lost": lost.get(event.key, []),
                        "detail": outcome.detail,
                    },
                )
            if progress:
                progress(counts, event, task)

        try:
            executor.run(tasks, on_event)
        except BaseException:  # interrupted: what finished is summarised, the rest says not run
            atomic_write_json(folder.summary_path, {**summarize(plan, folder), "interrupted": True})
            raise
        summary = summarize(plan, folder)
        summary["run"] = {
            "executor": getattr(executor, "describe", lambda: type(executor).__name__)(),
            "tasks_run": len(tasks),
            "tasks_skipped_finished": counts.skipped,
            "seconds": round(time.monotonic() - wall, 3),
            "resumed": resume,
        }
        if reference is not None:
            from genoteam.batch.scoring import score_batch  # scipy: only when scoring

            summary["scores"] = score_batch(folder, plan, Path(reference), Path(task_info))
        atomic_write_json(folder.summary_path, summary)
    return summary
