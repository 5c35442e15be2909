"""The end of a batch: what was answered, what lacks data, what failed and why.

Read from the task states alone (never from what the executor said in memory), so a resumed
batch summarises every task, this run's and earlier runs'. Words (one home): a question is
"answered" (partial when one of its cohorts failed), "insufficient_data" (every cohort it needs
was preprocessed, and none is usable for it), "failed" (with the reason; a question whose cohort
failed and that could not be answered is failed, never insufficient data), or "not_run" (the
batch stopped before it; --resume runs it).
"""

from __future__ import annotations

from typing import Any

from genoteam.batch.folder import BatchFolder
from genoteam.batch.plan import BatchPlan

QUESTION_WORDS = {"done": "answered", "insufficient_data": "insufficient_data", "failed": "failed"}


def _not_finished(status: str | None) -> str:
    if status in ("running", "rescheduled"):  # rescheduled: its worker or node was lost, to be run again
        return f"it was {status} when the batch stopped"
    return "the batch stopped before it ran" if status is None else ""


def summarize(plan: BatchPlan, folder: BatchFolder) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for question in plan.questions:
        state = folder.read_state(question["key"]) or {}
        status = state.get("status")
        detail = state.get("detail") or {}
        rows.append(
            {
                "trait": question["trait"],
                "condition": question["condition"],
                "category": question["category"],
                "status": QUESTION_WORDS.get(status, "not_run"),
                "partial": bool(state.get("partial")),
                "reason": state.get("reason") or _not_finished(status),
                "selected_cohorts": detail.get("selected_cohorts", []),
                "n_significant": detail.get("n_significant"),
                "cohorts": question["cohorts"],
                "key": question["key"],
            }
        )
    cohorts = []
    for task in plan.tasks:
        if task.kind != "cohort":
            continue
        state = folder.read_state(task.key) or {}
        cohorts.append(
            {
                "cohort": task.label.removeprefix("cohort "),
                "status": state["status"] if state.get("status") in QUESTION_WORDS else "not_run",
                "reason": state.get("reason") or _not_finished(state.get("status")),
                "node": state.get("node", ""),
                "seconds": state.get("seconds"),
                "key": task.key,
            }
        )
    count = lambda items, name: sum(1 for item in items if item["status"] == name)  # noqa: E731
    return {
        "batch": str(folder.root),
        "questions": {
            "total": len(rows),
            "answered": count(rows, "answered"),
            "partial": sum(1 for r in rows if r["status"] == "answered" and r["partial"]),
            "insufficient_data": count(rows, "insufficient_data"),
            "failed": count(rows, "failed"),
            "not_run": count(rows, "not_run"),
        },
        "cohorts": {
            "total": len(cohorts),
            "usable": count(cohorts, "done"),
            "unusable": count(cohorts, "insufficient_data"),
            "failed": count(cohorts, "failed"),
            "not_run": count(cohorts, "not_run"),
        },
        "per_question": rows,
        "per_cohort": cohorts,
        "not_planned": plan.skipped,
    }


def complete_without_failure(summary: dict[str, Any]) -> bool:
    q, c = summary["questions"], summary["cohorts"]
    return q["failed"] == 0 and q["not_run"] == 0 and q["partial"] == 0 and c["failed"] == 0


def format_summary(summary: dict[str, Any], limit: int = 20) -> str:
    """What the CLI prints: counts, then every failure with its reason (up to `limit` of each)."""
    q, c = summary["questions"], summary["cohorts"]
    lines = [
        f"batch {summary['batch']}",
        f"questions: {q['total']}: {q['answered']} answered"
        + (f" ({q['partial']} partial)" if q["partial"] else "")
        + f", {q['insufficient_data']} insufficient data, {q['failed']} failed"
        + (f", {q['not_run']} not run" if q["not_run"] else ""),
        f"cohorts: {c['total']}: {c['usable']} usable, {c['unusable']} unusable data, {c['failed']} failed"
        + (f", {c['not_run']} not run" if c["not_run"] else ""),
    ]
    run = summary.get("run")
    if run:
        lines.append(
            f"this run: {run['tasks_run']} task(s) on {run['executor']} in {run['seconds']:.1f} s; "
            f"{run['tasks_skipped_finished']} finished earlier, kept"
        )
    failed_cohorts = [r for r in summary["per_cohort"] if r["status"] == "failed"]
    for row in failed_cohorts[:limit]:
        lines.append(f"  cohort failed: {row['cohort']}: {row['reason'][:300]}")
    for status in ("failed", "not_run"):
        shown = [r for r in summary["per_question"] if r["status"] == status]
        for row in shown[:limit]:
            lines.append(
                f"  question {status.replace('_', ' ')}: {row['trait']} | {row['condition']}: {row['reason'][:300]}"
            )
        if len(shown) > limit:
            lines.append(f"  ... and {len(shown) - limit} more {status} (summary.json lists them all)")
    partial = [r for r in summary["per_question"] if r["partial"]]
    for row in partial[:limit]:
        lines.append(f"  question partial: {row['trait']} | {row['condition']}: {row['reason'][:300]}")
    if summary["not_planned"]:
        lines.append(
            f"not planned: {len(summary['not_planned'])} trait or cohort folder(s) with no task "
            "(no folder in the input, no expression file, ...; summary.json's not_planned says why)"
        )
    if "scores" in summary:
        lines.append(
            f"scores: {summary['scores']['table_md']} (and .csv); full report {summary['scores']['report']}"
        )
    lines.append(f"summary: {summary['batch']}/summary.json")
    return "\n".join(lines)
