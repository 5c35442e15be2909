"""The reference pipeline end to end: time, CPU, peak memory and planted-gene recovery.

1. Real data (when ../shared/data/input exists): `run_reference` on TCGA CHOL
   (Bile_Duct_Cancer) and on GSE781 (Kidney_Clear_Cell_Carcinoma).
2. Synthetic TCGA cohorts (genoteam.synthetic, planted trait genes), 20,000 genes x 100, 500 and
   2,000 samples: the reference pipeline and the recovery F1 of the planted genes (truth.json).
3. In the same run, on the same files: a plain pandas/numpy baseline (read the Xena matrix with
   pandas, tumour/normal from the barcode, scipy's Welch t-test vectorised over genes, BH, no
   covariates, q < 0.05).

Every measured case runs in its own child process (this script with `--child`). Its peak RSS
comes from os.wait4 on that child. The parent imports only the standard library until every
measurement is done: a child started by vfork/exec inherits the parent's RSS high-water mark
in ru_maxrss, so a large parent would inflate the children's figures. Generating the synthetic
cohorts is a separate child and is not part of the pipeline figures.

usage: python3 benchmarks/bench_reference.py [--quick] [--samples N ...] [--genes N] [--work DIR]
       --quick: 20,000 x 100 only, results printed and RESULTS.md left alone (unless --write)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _results import RESULTS, write_section  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- begin reference -->", "<!-- end reference -->"
SHARED_INPUT = ROOT.parent / "shared" / "data" / "input"
CHOL_MATRIX = SHARED_INPUT / "TCGA" / "TCGA_Bile_Duct_Cancer_(CHOL)" / "TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz"
SYNTH_TRAIT, SYNTH_CODE, SYNTH_SEED = "Kidney_Clear_Cell_Carcinoma", "KIRC", 11
FDR = 0.05


# ----------------------------------------------------------------------------- child side
def child_generate(genes: str, samples: str, out: str) -> dict[str, Any]:
    from genoteam.synthetic import SynthConfig, generate

    config = SynthConfig(
        n_genes=int(genes),
        n_samples=int(samples),
        seed=SYNTH_SEED,
        kind="tcga",
        trait=SYNTH_TRAIT,
        tcga_code=SYNTH_CODE,
    )
    return _timed(lambda: {"n_planted": len(generate(config, Path(out))["trait_genes"])})


def child_reference(input_dir: str, trait: str, output_dir: str) -> dict[str, Any]:
    from genoteam.pipeline.api import AnalysisRequest
    from genoteam.pipeline.reference import run_reference

    def call() -> dict[str, Any]:
        result = run_reference(AnalysisRequest(trait=trait), Path(input_dir), Path(output_dir))
        return {
            "status": result.status,
            "selected": result.selected_cohorts,
            "cohorts": [
                {"cohort": o.cohort, "usable": o.usable, "n": o.sample_size, "error": o.error}
                for o in result.cohorts
                if o.trait == trait
            ],
            "genes": [hit.gene for hit in result.significant_genes],
            "message": result.message,
        }

    return _timed(call)


def child_baseline(matrix: str) -> dict[str, Any]:
    """Plain pandas/numpy/scipy: what a user would write without genoteam."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    def call() -> dict[str, Any]:
        frame = pd.read_csv(matrix, sep="\t", index_col=0)
        code = pd.to_numeric(frame.columns.str.rsplit("-", n=1).str[-1].str[:2], errors="coerce")
        tumour, normal = (code >= 1) & (code <= 9), (code >= 10) & (code <= 19)
        values = frame.to_numpy(dtype=float)
        with np.errstate(all="ignore"):  # constant genes give NaN, dropped below
            t, p = stats.ttest_ind(values[:, tumour], values[:, normal], axis=1, equal_var=False)
        tested = np.isfinite(p)
        q = np.full(p.shape, np.nan)
        q[tested] = stats.false_discovery_control(p[tested], method="bh")
        order = np.argsort(np.where(tested, p, np.inf), kind="stable")
        hits = [frame.index[i] for i in order if q[i] < FDR]
        return {
            "genes": [str(g) for g in hits],
            "n_samples": int(tumour.sum() + normal.sum()),
            "n_tested": int(tested.sum()),
        }

    return _timed(call)


def _timed(call) -> dict[str, Any]:
    """Run `call` with the imports already done: its own wall and CPU time, and the RSS before it."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = call()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"call_wall": wall, "call_cpu": cpu, "rss_before_mb": before.ru_maxrss / 1024, **out}


CHILDREN = {"generate": child_generate, "reference": child_reference, "baseline": child_baseline}


def child_main(argv: list[str]) -> int:
    mode, result_path, *rest = argv
    Path(result_path).write_text(json.dumps(CHILDREN[mode](*rest)))
    return 0


# ----------------------------------------------------------------------------- parent side
@dataclass
class Measure:
    """One child run: the child's own figures plus the process-level ones from wait4."""

    label: str
    wall: float = 0.0  # whole process (interpreter start and imports included)
    cpu: float = 0.0  # whole process, user + system
    peak_mb: float = 0.0  # whole process peak RSS
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def cell(self) -> str:
        if self.error:
            return f"FAILED ({self.error})"
        d = self.data
        return (
            f"{d['call_wall']:.1f} s wall, {d['call_cpu']:.1f} s CPU, {self.peak_mb:.0f} MB peak "
            f"({d['rss_before_mb']:.0f} MB after imports)"
        )


def measure(label: str, mode: str, *args: str, log_dir: Path) -> Measure:
    """Run one case in a fresh child process; wait4 gives that child's own peak RSS and CPU."""
    result_path = log_dir / f"{label}.json"
    log_path = log_dir / f"{label}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(result_path), *args]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    t0 = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(log_dir))
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    m = Measure(label, time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
    if proc.returncode != 0 or not result_path.is_file():
        tail = log_path.read_text().strip().splitlines()[-1:] or ["no output"]
        m.error = f"exit {proc.returncode}: {tail[0][:200]}"
    else:
        m.data = json.loads(result_path.read_text())
    print(f"  {label}: {m.cell()}; process {m.wall:.1f} s wall, {m.cpu:.1f} s CPU", flush=True)
    return m


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class SynthCase:
    samples: int
    folder: Path
    output: Path
    generate: Measure
    reference: Measure
    baseline: Measure


def run_real(work: Path) -> tuple[Measure | None, Measure | None, Measure | None]:
    if not SHARED_INPUT.is_dir():
        print(f"real data skipped: {SHARED_INPUT} not found")
        return None, None, None
    print("TCGA CHOL (Bile_Duct_Cancer), GSE781 (Kidney_Clear_Cell_Carcinoma):", flush=True)
    chol = measure(
        "chol-reference", "reference", str(SHARED_INPUT), "Bile_Duct_Cancer", str(work / "chol"), log_dir=work
    )
    chol_base = measure("chol-baseline", "baseline", str(CHOL_MATRIX), log_dir=work)
    gse = measure(
        "gse781-reference",
        "reference",
        str(SHARED_INPUT),
        "Kidney_Clear_Cell_Carcinoma",
        str(work / "gse781"),
        log_dir=work,
    )
    return chol, chol_base, gse


def run_synthetic(work: Path, genes: int, sizes: list[int]) -> list[SynthCase]:
    cases = []
    for n in sizes:
        print(f"synthetic TCGA cohort, {genes} genes x {n} samples:", flush=True)
        folder, output = work / f"synth-{n}", work / f"synth-{n}-out"
        if folder.exists():
            shutil.rmtree(folder)
        gen = measure(f"synth-{n}-generate", "generate", str(genes), str(n), str(folder), log_dir=work)
        matrix = (
            folder
            / "TCGA"
            / f"TCGA_{SYNTH_TRAIT}_({SYNTH_CODE})"
            / f"TCGA.{SYNTH_CODE}.sampleMap_HiSeqV2_PANCAN.gz"
        )
        ref = measure(
            f"synth-{n}-reference", "reference", str(folder), SYNTH_TRAIT, str(output), log_dir=work
        )
        base = measure(f"synth-{n}-baseline", "baseline", str(matrix), log_dir=work)
        cases.append(SynthCase(n, folder, output, gen, ref, base))
    return cases


# ----------------------------------------------------------------------------- scoring and report
def recovery(genes: list[str], truth_path: Path) -> dict[str, float]:
    """GenoTEX's gene metrics (percent) of a gene list against the planted trait genes."""
    from genoteam.evaluation.metrics import evaluate_gene_selection

    planted = [g["gene"] for g in json.loads(truth_path.read_text())["trait_genes"]]
    return evaluate_gene_selection(genes, planted)


def pipeline_recovery(case: SynthCase) -> dict[str, float]:
    """The pipeline's result file scored by genoteam's own evaluation (what `genoteam eval` does)."""
    from genoteam.evaluation.harness import evaluate_against_truth

    return evaluate_against_truth(case.output, case.folder / "truth.json")["per_result"][0]


def confounder_calls(genes: list[str], truth_path: Path) -> int:
    """How many called genes are planted Age or Gender genes (not trait genes)."""
    truth = json.loads(truth_path.read_text())
    confounders = {g["gene"] for g in truth["age_genes"] + truth["gender_genes"]}
    confounders -= {g["gene"] for g in truth["trait_genes"]}
    return sum(g in confounders for g in genes)


def fmt_recovery(r: dict[str, float] | None, genes: list[str], truth_path: Path) -> str:
    if r is None:
        return "-"
    return (
        f"{len(genes)} genes, F1 {r['f1'] / 100:.3f} (precision {r['precision'] / 100:.3f}, "
        f"recall {r['recall'] / 100:.3f}); {confounder_calls(genes, truth_path)} Age/Gender genes called"
    )


def agreement(first: list[str], second: list[str]) -> str:
    shared = len(set(first) & set(second))
    f1 = 2 * shared / (len(set(first)) + len(set(second))) if first or second else 1.0
    return f"{shared} shared, F1 {f1:.3f}"


def cohorts_text(m: Measure) -> str:
    parts = []
    for c in m.data.get("cohorts", []):
        state = "usable" if c["usable"] else ("failed: " + c["error"] if c["error"] else "not usable")
        parts.append(f"{c['cohort']} {state}" + (f" (n={c['n']})" if c["n"] is not None else ""))
    return "; ".join(parts)


def real_lines(chol: Measure | None, chol_base: Measure | None, gse: Measure | None) -> list[str]:
    if chol is None:
        return ["Real data: skipped (../shared/data/input not found).", ""]
    lines = [
        "### Real data (../shared/data/input)",
        "",
        "| case | time (call) and peak memory (process) | process total | result |",
        "|---|---|---|---|",
    ]
    for name, m in (
        ("reference, TCGA CHOL (`--trait Bile_Duct_Cancer`)", chol),
        ("reference, GSE781 (`--trait Kidney_Clear_Cell_Carcinoma`)", gse),
    ):
        assert m is not None
        result = (
            f"{m.data['status']}, selected {', '.join(m.data['selected']) or '-'}, "
            f"{len(m.data['genes'])} genes at q < {FDR}; {cohorts_text(m)}"
            if not m.error
            else "-"
        )
        lines.append(f"| {name} | {m.cell()} | {m.wall:.1f} s wall, {m.cpu:.1f} s CPU | {result} |")
    if chol_base is not None:
        result = "-"
        if not chol_base.error and not chol.error:
            d = chol_base.data
            result = (
                f"{len(d['genes'])} genes at q < {FDR} ({d['n_samples']} samples, {d['n_tested']} genes tested); "
                f"vs the reference list: {agreement(d['genes'], chol.data['genes'])}"
            )
        lines.append(
            f"| baseline, CHOL Xena matrix (pandas + Welch t + BH) | {chol_base.cell()} "
            f"| {chol_base.wall:.1f} s wall, {chol_base.cpu:.1f} s CPU | {result} |"
        )
    return [*lines, ""]


def synth_lines(cases: list[SynthCase], genes: int) -> list[str]:
    if not cases:
        return []
    lines = [
        f"### Synthetic TCGA cohorts ({genes:,} genes, planted trait genes; seed {SYNTH_SEED})",
        "",
        "| samples | generation (not in the pipeline figures) | reference pipeline | reference recovery "
        "| baseline: pandas + Welch t + BH | baseline recovery |",
        "|---|---|---|---|---|---|",
    ]
    for c in cases:
        truth = c.folder / "truth.json"
        n_planted = c.generate.data.get("n_planted", "?")
        ref_genes = c.reference.data.get("genes", [])
        base_genes = c.baseline.data.get("genes", [])
        ref_rec = None
        if not c.reference.error:
            ref_rec = pipeline_recovery(c) if ref_genes else recovery([], truth)
        base_rec = None if c.baseline.error else recovery(base_genes, truth)
        gen = c.generate
        gen_cell = (
            f"{gen.data['call_wall']:.1f} s wall, {gen.peak_mb:.0f} MB peak" if not gen.error else gen.cell()
        )
        lines.append(
            f"| {c.samples:,} ({n_planted} planted) | {gen_cell} | {c.reference.cell()} "
            f"| {fmt_recovery(ref_rec, ref_genes, truth)} | {c.baseline.cell()} "
            f"| {fmt_recovery(base_rec, base_genes, truth)} |"
        )
    return [*lines, ""]


def section(
    real: tuple[Measure | None, ...], cases: list[SynthCase], genes: int, load_start: str, load_end: str
) -> str:
    head = [
        BEGIN,
        "## Reference pipeline (benchmarks/bench_reference.py)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
        f"({platform.machine()}, Python {platform.python_version()}). Load average {load_start} at the "
        f"start, {load_end} at the end: this machine is shared with other work, so wall times are "
        "indicative and CPU times are the steadier figure. Each case is a fresh child process; "
        "time and CPU are those of the call itself (imports excluded), peak memory is the whole "
        "process's peak RSS (os.wait4). The reference pipeline includes reading the inputs and "
        "writing GenoTEX's output layout; the baseline reads the same Xena matrix and tests "
        "tumour vs normal with scipy's Welch t-test and BH, without covariates. Recovery: GenoTEX's "
        "gene precision/recall/F1 of the genes at q < 0.05 against the planted trait genes; "
        "'Age/Gender genes called' counts planted confounder genes among the calls (cases are "
        "older and more often male, so a test without covariates finds them too).",
        "",
    ]
    return "\n".join([*head, *real_lines(*real), *synth_lines(cases, genes), END])


def write_results(text: str) -> None:
    write_section(text, BEGIN, END, RESULTS)
    print(f"updated {RESULTS}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 100 samples only, RESULTS.md untouched"
    )
    parser.add_argument("--write", action="store_true", help="with --quick: write RESULTS.md anyway")
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--samples", type=int, nargs="+", default=None, help="default 100 500 2000")
    parser.add_argument("--no-real", action="store_true", help="skip CHOL and GSE781")
    parser.add_argument(
        "--work", type=Path, default=None, help="keep inputs/outputs here (default: a temp dir)"
    )
    args = parser.parse_args()
    sizes = args.samples or ([100] if args.quick else [100, 500, 2000])
    load_start = load_average()
    print(
        f"load average at start: {load_start} on {os.cpu_count()} cores "
        "(shared, loaded machine: wall times are indicative, CPU times steadier)",
        flush=True,
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-reference-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        real = (None, None, None) if args.no_real else run_real(work)
        cases = run_synthetic(work, args.genes, sizes)
        load_end = load_average()
        text = section(real, cases, args.genes, load_start, load_end)  # scoring imports genoteam here
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    if not args.quick or args.write:
        write_results(text)
    failed = [
        m
        for m in (*real, *(x for c in cases for x in (c.generate, c.reference, c.baseline)))
        if m and m.error
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
