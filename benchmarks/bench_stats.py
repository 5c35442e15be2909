"""Speed, scale and agreement of the statistics; writes its section of benchmarks/RESULTS.md.

1. Scale: moderated t (Age + Gender covariates) on synthetic cohorts of 20,000 genes x 100, 500
   and 2,000 samples: wall time and peak traced memory, against two plain baselines in the same
   run: scipy's vectorised two-sample t-test (no covariates, no moderation) and a per-gene
   statsmodels OLS loop (timed on 500 genes, extrapolated to 20,000).
2. TCGA CHOL (when ../shared/data is present): ours vs R limma (time, max relative difference
   of t and p), planted-gene recovery is in 3.
3. Recovery on a synthetic cohort with 50 planted genes: precision/recall/F1 of the default
   method (q < 0.05) and of GenoTEX's procedure (select_by="cv").
Optional `--genotex-chol`: GenoTEX's procedure on CHOL (both rules, ~4 min) and the AUROC of its
gene ranking against the moderated t's FDR < 0.05 set.

Run: python3 benchmarks/bench_stats.py [--genotex-chol]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from _results import RESULTS, write_section
from scipy import stats

from genoteam.toolkit.stats import genotex_one_step, genotex_result, moderated_t_result, moderated_t_test
from genoteam.toolkit.stats.design import build_design, gene_columns
from genoteam.toolkit.tcga import (
    find_tcga_files,
    read_tcga_clinical,
    read_tcga_genes,
    tcga_age_values,
    tcga_convert_trait,
    tcga_gender_values,
)

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- begin stats -->", "<!-- end stats -->"
SHARED_INPUT = ROOT.parent / "shared" / "data" / "input"
LIMMA_SCRIPT = ROOT / "scripts" / "peers" / "limma_fit.R"
TRAIT = "Bile_Duct_Cancer"


def chol_linked() -> pd.DataFrame:
    """TCGA CHOL (../shared/data) linked with the toolkit's own readers and converters."""
    files = find_tcga_files(SHARED_INPUT / "TCGA" / "TCGA_Bile_Duct_Cancer_(CHOL)")
    genes = read_tcga_genes(files.genes).T
    clinical = read_tcga_clinical(files.clinical)
    linked = pd.DataFrame({TRAIT: [tcga_convert_trait(sample) for sample in genes.index]}, index=genes.index)
    linked["Age"] = tcga_age_values(clinical, "age_at_initial_pathologic_diagnosis").reindex(genes.index)
    linked["Gender"] = tcga_gender_values(clinical, "gender").reindex(genes.index)
    return pd.concat([linked, genes.loc[:, ~genes.columns.duplicated()]], axis=1)


def synthetic(n: int, genes: int, planted: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    trait = rng.integers(0, 2, n).astype(float)
    age = rng.normal(60, 10, n).round()
    gender = rng.integers(0, 2, n).astype(float)
    expr = rng.normal(0, 1, (n, genes)) * np.sqrt(2 / rng.chisquare(4, genes))
    expr[:, :planted] += 0.8 * trait[:, None]
    expr[:, planted : 2 * planted] += 0.04 * (age[:, None] - 60)
    table = pd.DataFrame(expr, columns=[f"G{i}" for i in range(genes)])
    table.insert(0, "Gender", gender)
    table.insert(0, "Age", age)
    table.insert(0, "Trait", trait)
    return table


def timed(func, *args, **kwargs) -> tuple[object, float, float]:
    """Result, wall seconds, peak traced MiB."""
    tracemalloc.start()
    start = time.perf_counter()
    out = func(*args, **kwargs)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, seconds, peak


def welch_baseline(table: pd.DataFrame) -> np.ndarray:
    genes = table.columns[3:]
    x = table[genes].to_numpy()
    group = table["Trait"].to_numpy() == 1
    return stats.ttest_ind(x[group], x[~group], axis=0, equal_var=False).pvalue


def ols_loop_baseline(table: pd.DataFrame, genes: int) -> float:
    design = sm.add_constant(table[["Trait", "Age", "Gender"]])
    start = time.perf_counter()
    for gene in table.columns[3 : 3 + genes]:
        sm.OLS(table[gene], design).fit()
    return time.perf_counter() - start


def scale_rows() -> list[str]:
    rows = []
    for n in (100, 500, 2000):
        table = synthetic(n, 20000)
        _, ours, peak = timed(moderated_t_test, table, "Trait")
        _, welch, welch_peak = timed(welch_baseline, table)
        loop = ols_loop_baseline(table, 500) * 20000 / 500
        input_mib = table.memory_usage().sum() / 2**20
        rows.append(
            f"| 20,000 x {n:,} | {ours:.2f} s, {peak:.0f} MiB | {welch:.2f} s, {welch_peak:.0f} MiB "
            f"| {loop:.0f} s (extrapolated) | {input_mib:.0f} MiB |"
        )
        print(rows[-1], flush=True)
    return rows


def recovery(genes: list[str], truth: set[str]) -> str:
    hits = len(set(genes) & truth)
    precision = hits / len(genes) if genes else 0.0
    recall = hits / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return f"{len(genes)} genes, precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f}"


def recovery_rows() -> list[str]:
    table = synthetic(200, 2000, planted=50, seed=3)
    truth = {f"G{i}" for i in range(50)}
    moderated, t1, _ = timed(moderated_t_result, table, "Trait", cv=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        genotex, t2, _ = timed(lambda: genotex_result(genotex_one_step(table, "Trait")))
    rows = [
        f"| moderated t, q < 0.05 | {recovery(moderated.genes, truth)} | {t1:.1f} s |",
        f"| GenoTEX procedure, select_by=cv | {recovery(genotex.genes, truth)} | {t2:.1f} s |",
    ]
    print(*rows, sep="\n", flush=True)
    return rows


def limma_rows() -> list[str]:
    if not (SHARED_INPUT / "TCGA").is_dir():
        return ["| (../shared/data absent: not run) | | |"]
    linked = chol_linked()
    ours, seconds, _ = timed(moderated_t_test, linked, TRAIT)
    rows = [f"| genoteam moderated_t_test | {seconds:.2f} s | {int((ours['q_value'] < 0.05).sum()):,} |"]
    rscript = shutil.which("Rscript")
    if rscript:
        design = build_design(linked, TRAIT)
        expr = linked.loc[design.samples, gene_columns(linked, TRAIT)].T
        with tempfile.TemporaryDirectory() as work:
            w = Path(work)
            expr.to_csv(w / "e.csv", float_format="%.17g")
            pd.DataFrame(design.matrix, index=expr.columns, columns=design.columns).to_csv(w / "d.csv")
            start = time.perf_counter()
            args = [
                rscript,
                str(LIMMA_SCRIPT),
                str(w / "e.csv"),
                str(w / "d.csv"),
                str(w / "o.csv"),
                str(w / "p.txt"),
            ]
            subprocess.run(args, check=True, capture_output=True)
            r_seconds = time.perf_counter() - start
            theirs = pd.read_csv(w / "o.csv")
        both = ours.merge(theirs, on="gene", suffixes=("", "_r"))
        varying = both["sigma"] > 0
        t_diff = np.max(np.abs(both["t"] - both["t_r"])[varying] / np.abs(both["t_r"][varying]))
        p_diff = np.max(np.abs(both["p_value"] - both["p_value_r"]) / both["p_value_r"])
        rows.append(
            f"| R limma 3.54 (Rscript, incl. CSV read) | {r_seconds:.2f} s | "
            f"{int((stats.false_discovery_control(theirs['p_value']) < 0.05).sum()):,} "
            f"(max rel. diff t {t_diff:.1e}, p {p_diff:.1e}) |"
        )
    print(*rows, sep="\n", flush=True)
    return rows


def auroc(scores: pd.Series, positives: set[str]) -> float:
    labels = scores.index.isin(list(positives))
    ranks = stats.rankdata(scores.to_numpy())
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def genotex_chol_rows() -> list[str]:
    from genoteam.toolkit.stats import load_task_info

    linked = chol_linked()
    table = moderated_t_test(linked, TRAIT)
    positives = set(table.loc[table["q_value"] < 0.05, "gene"])
    task_info = load_task_info(SHARED_INPUT.parent / "metadata" / "task_info.json")
    rows = []
    for rule in ("known-genes", "cv"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit, seconds, _ = timed(genotex_one_step, linked.fillna(0), TRAIT, None, rule, task_info)
        result = genotex_result(fit)
        scores = pd.Series(np.abs(fit.coefficients), index=fit.genes)
        share = np.mean([g in positives for g in result.genes]) if result.genes else float("nan")
        rows.append(
            f"| GenoTEX, select_by={rule} | {fit.model}, {fit.penalty_name}={fit.penalty:g} | "
            f"{len(result.genes)} genes | AUROC {auroc(scores, positives):.2f}; {share:.0%} of the list in the "
            f"FDR set (base rate {len(positives) / len(fit.genes):.0%}) | {seconds:.0f} s |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genotex-chol", action="store_true", help="also run GenoTEX's procedure on CHOL")
    args = parser.parse_args()
    scale = scale_rows()
    limma = limma_rows()
    recover = recovery_rows()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    body = [
        "## Statistics (benchmarks/bench_stats.py)",
        "",
        f"Run {when} on {os.cpu_count()} cores ({platform.machine()}), load average {load} at the end",
        "(other work shares this machine). Peak memory is what tracemalloc traces during the call",
        "(numpy buffers included), the input table not counted.",
        "",
        "Moderated t with Age + Gender (genoteam) vs plain baselines, same run:",
        "",
        "| genes x samples | genoteam moderated t | scipy Welch t-test (no covariates) "
        "| statsmodels OLS per gene | input table |",
        "|---|---|---|---|---|",
        *scale,
        "",
        "TCGA CHOL, tumour vs normal with Age and Gender (20,530 genes x 45 samples):",
        "",
        "| implementation | time | genes at BH q < 0.05 |",
        "|---|---|---|",
        *limma,
        "",
        "Recovery of 50 planted genes (2,000 genes x 200 samples, binary trait):",
        "",
        "| method | result | time |",
        "|---|---|---|",
        *recover,
    ]
    if args.genotex_chol:
        body += [
            "",
            "GenoTEX's procedure on CHOL (AUROC of |coefficient| against the moderated t's FDR < 0.05 genes):",
            "",
            "| procedure | model | list | agreement | time |",
            "|---|---|---|---|---|",
            *genotex_chol_rows(),
        ]
    text = "\n".join(body).rstrip()
    write_section(f"{BEGIN}\n{text}\n{END}", BEGIN, END)
    print(f"wrote the stats section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
