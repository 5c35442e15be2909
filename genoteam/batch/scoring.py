"""Scores of a batch against a reference folder: GenoTEX's evaluation (`genoteam eval`'s code,
genoteam.evaluation.harness.evaluate) run on the batch's GenoTEX layout, then one table row per
question of the batch.

Why a table of our own beside eval.json: the evaluation scores what the reference answers, and
a batch may answer a subset (`--questions`); the table lists the batch's questions only, each with
its batch status (answered / insufficient data / failed), its selection accuracy and its gene
metrics, and the averages by question type are over those questions (a question the reference
does not answer is listed and left out of the averages, and said so).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from genoteam.batch.folder import BatchFolder
from genoteam.batch.plan import BatchPlan
from genoteam.batch.summary import summarize
from genoteam.evaluation import metrics as m
from genoteam.evaluation.harness import evaluate
from genoteam.toolkit.layout import atomic_write_json, atomic_write_text, condition_label, json_safe

METRICS = ("success", "precision", "recall", "f1", "jaccard", "auroc", "gsea_es")
COLUMNS = ("trait", "condition", "category", "batch_status", "selection_accuracy", *METRICS, "scored")


def _rows(plan: BatchPlan, folder: BatchFolder, report: dict[str, Any]) -> list[dict[str, Any]]:
    analysis = {(r["trait"], r["condition"]): r for r in report.get("analysis", {}).get("per_question", [])}
    selection = {
        (r["trait"], condition_label(r["condition"])): r
        for r in report.get("dataset", {}).get("selection", {}).get("per_question", [])
    }
    status = {(r["trait"], r["condition"]): r for r in summarize(plan, folder)["per_question"]}
    rows = []
    for question in plan.questions:
        trait, condition = question["trait"], question["condition"]
        label = condition_label(condition)
        scored = analysis.get((trait, label))
        batch = status[(trait, condition)]
        row: dict[str, Any] = {
            "trait": trait,
            "condition": label,
            "category": question["category"],
            "batch_status": batch["status"] + (" (partial)" if batch["partial"] else ""),
            "selection_accuracy": (selection.get((trait, label)) or {}).get("accuracy"),
            "scored": "yes" if scored else "no: the reference has no answer to it",
        }
        row.update({k: (scored or {}).get(k) for k in METRICS})
        rows.append(row)
    return rows


def by_category(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """GenoTEX's averages per question type, over the batch's scored questions."""
    per_question = {
        (r["trait"], r["condition"]): {k: (math.nan if r[k] is None else r[k]) for k in METRICS}
        for r in rows
        if r["scored"] == "yes"
    }
    return json_safe(m.aggregate_by_category(per_question))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _markdown(rows: list[dict[str, Any]], categories: dict[str, dict[str, float]], reference: Path) -> str:
    counts = {name: 0 for name in categories}
    for r in rows:
        if r["scored"] == "yes":
            counts[r["category"]] += 1
            counts[m.OVERALL] += 1
    lines = [
        f"# Batch scores against {reference}",
        "",
        "GenoTEX's metrics (genoteam eval); averages over the batch's questions the reference answers.",
        "",
        "| question type | n | " + " | ".join(METRICS) + " |",
        "| --- | --- |" + " --- |" * len(METRICS),
    ]
    for name, values in categories.items():
        lines.append(
            f"| {name} | {counts[name]} | " + " | ".join(_fmt(values.get(k)) for k in METRICS) + " |"
        )
    lines += ["", "## Per question", "", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: ("" if r[c] is None else r[c]) for c in COLUMNS} for r in rows)
    return out.getvalue()


def score_batch(folder: BatchFolder, plan: BatchPlan, reference: Path, task_info: Path) -> dict[str, Any]:
    """Run GenoTEX's evaluation of the batch folder against `reference`; write eval.json,
    scores.csv and scores.md; return where they are and the averages by question type."""
    report = evaluate(folder.root, reference, task_info)
    atomic_write_json(folder.root / "eval.json", report)
    rows = _rows(plan, folder, report)
    categories = by_category(rows)
    atomic_write_text(folder.root / "scores.csv", _csv(rows))
    atomic_write_text(folder.root / "scores.md", _markdown(rows, categories, Path(reference)))
    return {
        "reference": str(reference),
        "report": str(folder.root / "eval.json"),
        "table_csv": str(folder.root / "scores.csv"),
        "table_md": str(folder.root / "scores.md"),
        "by_category": categories,
        "questions_scored": sum(1 for r in rows if r["scored"] == "yes"),
    }
