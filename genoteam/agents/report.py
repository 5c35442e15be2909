"""report.md of a team job: the answer, the cohorts, how the team got there, and a volcano plot."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from genoteam.agents.messages import ROLES
from genoteam.pipeline.api import AnalysisResult
from genoteam.sandbox import hostfs
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    from genoteam.agents.engine import TeamRun

FDR = 0.05


def volcano_plot(table: pd.DataFrame, path: Path, title: str) -> Path | None:
    """Effect against -log10 p, genes with q < 0.05 highlighted; None when the table has no p-values."""
    if not {"coefficient", "p_value"} <= set(table.columns):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = table["p_value"].clip(lower=1e-300)
    significant = table["q_value"] < FDR if "q_value" in table else pd.Series(False, index=table.index)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    ax.scatter(
        table["coefficient"][~significant],
        -np.log10(p[~significant]),
        s=4,
        c="#9a9a9a",
        alpha=0.5,
        label="q >= 0.05",
        rasterized=True,
    )
    ax.scatter(
        table["coefficient"][significant],
        -np.log10(p[significant]),
        s=5,
        c="#c0392b",
        alpha=0.7,
        label=f"q < 0.05 ({int(significant.sum())})",
        rasterized=True,
    )
    top = table[significant].nsmallest(10, "p_value") if significant.any() else table.nsmallest(0, "p_value")
    for _, row in top.iterrows():
        ax.annotate(
            str(row["gene"]), (row["coefficient"], -np.log10(max(row["p_value"], 1e-300))), fontsize=6
        )
    ax.set_xlabel("coefficient of the trait (expression difference)")
    ax.set_ylabel("-log10 p")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())  # replaces whatever is at the name, never follows it
    return path


def _cohort_rows(result: AnalysisResult) -> list[str]:
    rows = ["| trait | cohort | usable | samples | note or error |", "|---|---|---|---|---|"]
    for o in result.cohorts:
        text = (f"**failed**: {o.error}" if o.error else o.note).replace("|", "/").replace("\n", " ")
        rows.append(
            f"| {o.trait} | {o.cohort} | {'yes' if o.usable else 'no'} | {o.sample_size or ''} | {text[:300]} |"
        )
    return rows


def _team_rows(run: TeamRun) -> list[str]:
    rows = [
        "| task | status | units passed | from memory | attempts | time (s) | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for task in run.state.tasks:
        passed = [v for v in task.visits if v.status == "passed"]
        attempts = sum(len(v.attempts) for v in task.visits)
        rows.append(
            f"| {task.task_id} | {task.status} | {len(passed)} | {sum(v.from_memory for v in passed)} | {attempts} | "
            f"{task.duration_s:.1f} | {task.reason.replace('|', '/')[:200]} |"
        )
    for task_id, error in run.state.task_errors.items():
        rows.append(f"| {task_id} | error | | | | | {error.strip().splitlines()[-1][:200]} |")
    return rows


def _memory_line(run: TeamRun) -> str:
    from genoteam.agents.memory import CodeMemory

    memory = CodeMemory(run.memory_path)
    try:
        stats = memory.stats(run.state.job_id)
    finally:
        memory.close()
    rate = f"{stats['hit_rate']:.0%}" if stats["hit_rate"] is not None else "n/a"
    return (
        f"Code memory ({run.memory_path}): {stats['hits']} of {stats['lookups']} lookups found fitting code "
        f"({rate}); per unit in provenance.json."
    )


def write_report(run: TeamRun, result: AnalysisResult) -> Path:
    request = run.request
    lines = [
        f"# {request.trait}" + (f" given {request.condition}" if request.condition else ""),
        "",
        f"**Status: {result.status}**" + (f" — {result.message}" if result.message else ""),
        "",
        f"Method: {result.method}. Selected cohort(s): {', '.join(result.selected_cohorts) or 'none'}. "
        f"Significant genes (q < {FDR}): {len(result.significant_genes)}.",
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
    table_file = run.table_file
    if result.status in ("complete", "partial") and hostfs.is_regular(run.output_dir, table_file):
        try:  # written in the sandbox: read without following links, bounded
            table = pd.read_csv(io.BytesIO(hostfs.read_bytes(run.output_dir, table_file)))
            plot = volcano_plot(
                table,
                run.output_dir / "volcano.png",
                f"{request.trait} ({result.method}, cohorts {', '.join(result.selected_cohorts)})",
            )
        except (GenoteamError, ValueError, KeyError, TypeError, OSError) as error:
            problem = (
                error.problem if isinstance(error, GenoteamError) else f"{type(error).__name__}: {error}"
            )
            lines += [f"(no volcano plot: the association table cannot be drawn: {problem[:300]})", ""]
        else:
            if plot is not None:
                lines += ["## Volcano plot", "", "![volcano plot](volcano.png)", ""]
            else:
                lines += [f"(no volcano plot: the {result.method} table has no p-values)", ""]
    usage = run.team.client.ledger.summary()
    lines += ["## How the team worked", *_team_rows(run), ""]
    lines += [
        "Models per role: " + ", ".join(f"{role}={run.team.config.role(role).model}" for role in ROLES),
        f"Model calls: {usage['calls']}, cost ${usage['cost_usd']:.4f}"
        + ("" if usage["cost_complete"] else " (some models have no price: cost incomplete)")
        + ".",
        _memory_line(run),
        f"Sandbox backend: {', '.join(sorted({s.get('backend', '?') for s in run.state.sessions.values()}))}.",
        f"Wall time: {run.state.timings.get('total_s', 0):.1f} s.",
        "",
        "Full record: `provenance.json` (every unit's code, output, checks, verdicts and attempts) and "
        "`messages.jsonl` (every message between the roles).",
    ]
    path = run.output_dir / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
