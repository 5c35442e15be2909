"""report.md of a team job: the answer, the cohorts, how the team got there, and a volcano plot."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from genoteam.agents.messages import ROLES
from genoteam.agents.run_record import RunRecord
from genoteam.pipeline.api import AnalysisResult
from genoteam.pipeline.plots import volcano_plot
from genoteam.sandbox import hostfs
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_text

FDR = 0.05


def _cohort_rows(result: AnalysisResult) -> list[str]:
    rows = ["| trait | cohort | usable | samples | note or error |", "|---|---|---|---|---|"]
    for o in result.cohorts:
        text = (f"**failed**: {o.error}" if o.error else o.note).replace("|", "/").replace("\n", " ")
        rows.append(
            f"| {o.trait} | {o.cohort} | {'yes' if o.usable else 'no'} | {o.sample_size or ''} | {text[:300]} |"
        )
    return rows


def _team_rows(record: RunRecord) -> list[str]:
    rows = [
        "| task | status | units passed | from memory | attempts | time (s) | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for task in record.tasks:
        passed = [v for v in task.visits if v.status == "passed"]
        attempts = sum(len(v.attempts) for v in task.visits)
        rows.append(
            f"| {task.task_id} | {task.status} | {len(passed)} | {sum(v.from_memory for v in passed)} | {attempts} | "
            f"{task.duration_s:.1f} | {task.reason.replace('|', '/')[:200]} |"
        )
    for task_id, error in record.task_errors.items():
        rows.append(f"| {task_id} | error | | | | | {error.strip().splitlines()[-1][:200]} |")
    return rows


def _memory_line(record: RunRecord) -> str:
    stats = record.memory["job"]
    rate = f"{stats['hit_rate']:.0%}" if stats["hit_rate"] is not None else "n/a"
    return (
        f"Code memory ({record.memory['path']}): {stats['hits']} of {stats['lookups']} lookups found fitting code "
        f"({rate}); per unit in provenance.json."
    )


def draw_volcano(record: RunRecord) -> str:
    """Draw volcano.png from the association table; returns the report's paragraph about it."""
    result, output_dir, table_file = record.result, Path(record.output_dir), Path(record.table_file)
    if result.status not in ("complete", "partial") or not hostfs.is_regular(output_dir, table_file):
        return ""
    try:  # written in the sandbox: read without following links, bounded
        table = pd.read_csv(io.BytesIO(hostfs.read_bytes(output_dir, table_file)))
        plot = volcano_plot(
            table,
            output_dir / "volcano.png",
            f"{record.request.trait} ({result.method}, cohorts {', '.join(result.selected_cohorts)})",
        )
    except (GenoteamError, ValueError, KeyError, TypeError, OSError) as error:
        problem = error.problem if isinstance(error, GenoteamError) else f"{type(error).__name__}: {error}"
        return f"(no volcano plot: the association table cannot be drawn: {problem[:300]})"
    if plot is None:
        return f"(no volcano plot: the {result.method} table has no p-values)"
    return "## Volcano plot\n\n![volcano plot](volcano.png)"


def report_text(record: RunRecord, volcano: str = "") -> str:
    """report.md's content: a pure function of the job's frozen record (and the plot's paragraph)."""
    request, result = record.request, record.result
    lines = [
        f"# {request.trait}" + (f" given {request.condition}" if request.condition else ""),
        "",
        f"**Status: {result.status}**" + (f" — {result.message}" if result.message else ""),
        "",
        f"Method: {result.method}. Selected cohort(s): {', '.join(result.selected_cohorts) or 'none'}. "
        f"Significant genes (q < {FDR}): {len(result.significant_genes)}."
        + (f" Coefficient: {result.coefficient_unit}." if result.coefficient_unit else ""),
        *([f"Comparison: {result.comparison}."] if result.comparison else []),
        "",
        "## Cohorts",
        *_cohort_rows(result),
        "",
    ]
    if result.significant_genes:
        lines += ["## Top genes", "| gene | coefficient | p | q |", "|---|---|---|---|"]
        for hit in result.significant_genes[:20]:
            p = f"{hit.p_value:.2e}" if hit.p_value is not None else ""
            q = f"{hit.q_value:.2e}" if hit.q_value is not None else ""
            lines.append(f"| {hit.gene} | {hit.coefficient:.3f} | {p} | {q} |")
        lines.append("")
    if volcano:
        lines += [volcano, ""]
    usage = record.usage
    backends = sorted({s.get("backend", "?") for s in record.sandbox["sessions"].values()})
    lines += ["## How the team worked", *_team_rows(record), ""]
    lines += [
        "Models per role: " + ", ".join(f"{role}={record.roles[role]['model']}" for role in ROLES),
        f"Model calls: {usage['calls']}, cost ${usage['cost_usd']:.4f}"
        + ("" if usage["cost_complete"] else " (some models have no price: cost incomplete)")
        + ".",
        _memory_line(record),
        f"Sandbox backend: {', '.join(backends)}.",
        f"Wall time: {record.timings.get('total_s', 0):.1f} s.",
        "",
        "Full record: `provenance.json` (every unit's code, output, checks, verdicts and attempts) and "
        "`messages.jsonl` (every message between the roles).",
    ]
    return "\n".join(lines) + "\n"


def write_report(record: RunRecord) -> Path:
    path = Path(record.output_dir) / "report.md"
    atomic_write_text(path, report_text(record, draw_volcano(record)))
    return path
