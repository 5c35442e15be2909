"""`genoteam eval --pred DIR (--ref DIR | --truth truth.json) [--json OUT]`: GenoTEX's scores as a table."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from genoteam.evaluation.constants import GENOTEX_N_GENES, SUBTASKS, TASKS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score a GenoTEX-layout output folder against a reference folder (GenoTEX's metrics)",
        description=__doc__,
    )
    parser.add_argument("--pred", required=True, type=Path, help="the output folder to score")
    gold = parser.add_mutually_exclusive_group(required=True)
    gold.add_argument("--ref", type=Path, help="the reference (gold) output folder")
    gold.add_argument(
        "--truth", type=Path, help="a synthetic truth.json: score gene lists against its planted genes"
    )
    parser.add_argument("--json", dest="json_out", type=Path, help="write the full report here")
    parser.add_argument(
        "--task-info",
        type=Path,
        help="GenoTEX task file: its questions are evaluated, and two-step selection needs its genes",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=TASKS,
        default=list(TASKS),
        help="which GenoTEX tasks to score (default: all)",
    )
    parser.add_argument(
        "--n-genes", type=int, default=GENOTEX_N_GENES, help="padding length for AUROC and GSEA-ES"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genoteam.evaluation.harness import evaluate, evaluate_against_truth  # heavy: scipy

    if args.truth is not None:
        report = evaluate_against_truth(args.pred, args.truth, args.n_genes)
        print(format_truth_report(report))
    else:
        report = evaluate(args.pred, args.ref, args.task_info, args.n_genes, tuple(args.tasks))
        print(format_report(report))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nfull report: {args.json_out}")
    return 0


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    return ["  " + line for line in lines]


def format_report(report: dict[str, Any]) -> str:
    """The human summary: one block per GenoTEX task scored, with coverage next to the scores."""
    out: list[str] = [f"GenoTEX evaluation of {report['pred']} against {report['ref']}"]
    if "dataset" in report:
        out += _dataset_block(report["dataset"])
    if "preprocessing" in report:
        out += _preprocessing_block(report["preprocessing"])
    if "analysis" in report:
        out += _analysis_block(report["analysis"])
    return "\n".join(out)


def _dataset_block(dataset: dict[str, Any]) -> list[str]:
    filtering, selection = dataset["filtering"], dataset["selection"]
    avg = filtering["average"]
    out = [f"\nDataset filtering (is_available), {len(filtering['per_trait'])} traits"]
    out += _table(
        ["", "precision", "recall", "f1", "accuracy"],
        [["mean over traits"] + [avg.get(k) for k in ("precision", "recall", "f1", "accuracy")]],
    )
    out.append(f"\nDataset selection, {len(selection['per_question'])} questions")
    out += _table(["", "accuracy"], [["mean over questions", selection["average"].get("accuracy")]])
    reasons: dict[str, int] = {}
    for item in dataset["skipped"]:
        reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
    out += [f"  not scored: {count} question(s): {reason}" for reason, count in sorted(reasons.items())]
    return out


def _preprocessing_block(preprocessing: dict[str, Any]) -> list[str]:
    out = ["\nPreprocessing (CSC = attributes Jaccard x samples Jaccard x feature correlation)"]
    header = [
        "table",
        "reference",
        "missing",
        "unreadable",
        "attr_J",
        "sample_J",
        "corr",
        "CSC",
        "CSC(missing=0)",
    ]
    rows = []
    for subtask in SUBTASKS:
        res = preprocessing[subtask]
        a = res["average"]
        parts = (
            "attributes_jaccard",
            "samples_jaccard",
            "feature_correlation",
            "composite_similarity_correlation",
        )
        rows.append(
            [subtask, res["n_reference"], res["n_missing"], len(res["unreadable"])]
            + [a.get(k) for k in parts]
            + [res["average_missing_as_zero"].get("composite_similarity_correlation")]
        )
    out += _table(header, rows)
    for subtask in SUBTASKS:
        flipped = preprocessing[subtask]["transposed"]
        if flipped:
            out.append(
                f"  warning: {len(flipped)} predicted {subtask} table(s) look transposed relative to the "
                f"reference (e.g. {flipped[0]}): rows and columns swapped score near 0"
            )
    return out


def _analysis_block(analysis: dict[str, Any]) -> list[str]:
    from genoteam.evaluation import metrics as m

    out = [
        f"\nStatistical analysis, {analysis['n_questions']} questions ({analysis['n_missing']} missing, "
        f"{len(analysis['unreadable'])} unreadable results, both counted as failures)"
    ]
    keys = ["success", "precision", "recall", "f1", "jaccard", "auroc", "gsea_es"]
    counts = {name: 0 for name in (*m.QUESTION_CATEGORIES, m.OVERALL)}
    for row in analysis["per_question"]:
        counts[row["category"]] += 1
        counts[m.OVERALL] += 1
    rows = [
        [name, counts[name]] + [metrics.get(k) for k in keys]
        for name, metrics in analysis["by_category"].items()
    ]
    return out + _table(["question type", "n"] + keys, rows)


def format_truth_report(report: dict[str, Any]) -> str:
    keys = ["n_predicted", "precision", "recall", "f1", "jaccard", "auroc", "gsea_es"]
    rows = [
        [row["file"]] + [row.get(k) if "error" not in row else row["error"] for k in keys]
        for row in report["per_result"]
    ]
    head = f"Recovery of the {report['n_planted']} planted genes of {report['trait']}"
    lines = [head] + _table(["result"] + keys, rows)
    usability = report.get("usability")
    if usability:
        wrong = [r["cohort"] for r in usability["per_cohort"] if not r["correct"]]
        lines.append(
            f"Cohort usability as planted: {_fmt(usability['accuracy'])}% of {len(usability['per_cohort'])} cohorts"
            + (f" (wrong: {', '.join(wrong)})" if wrong else "")
        )
    return "\n".join(lines)
