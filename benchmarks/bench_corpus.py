"""The GenoTEX-like corpus (`genoteam synth --genotex-like`): time, peak memory and size written.

Each corpus is written in a fresh process (so peak RSS is that run's own), next to a baseline
from the same run: plain numpy + pandas writing matrices of the corpus's own GEO shapes (probes x
samples, one gzip TSV per series, `DataFrame.to_csv(..., float_format='%.4f')`), i.e. the least a
writer of that much expression data costs, without formats, platforms, wording or truth. Writes
its section of benchmarks/RESULTS.md.

usage: python3 benchmarks/bench_corpus.py [--questions 100] [--full-questions 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from _results import RESULTS, write_section

BEGIN, END = "<!-- begin corpus -->", "<!-- end corpus -->"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, scale, questions, out = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
n_questions = None if questions == "all" else int(questions)
t0 = time.perf_counter()
from genoteam.synthetic_corpus import CorpusConfig, plan_corpus
config = CorpusConfig(seed=1, n_questions=n_questions, scale=scale)
if mode == "baseline":
    import numpy as np, pandas as pd
    from genoteam.synthetic_corpus import TWO_PLATFORM
    plan = plan_corpus(config)
    rng = np.random.default_rng(0)
    n_probes = int(plan.scale.n_genes * 1.15)  # the corpus arrays: probes per gene (a second probe for some genes, controls)
    k = 0
    for trait in plan.traits:
        for cohort in trait.cohorts:
            if cohort.source != "GEO":
                continue
            for _ in cohort.platforms if cohort.kind != TWO_PLATFORM else cohort.platforms[:1]:
                frame = pd.DataFrame(rng.normal(8.0, 1.0, (n_probes, cohort.n_samples)).astype("float32"))
                frame.to_csv(out / f"s{k}.tsv.gz", sep="\t", float_format="%.4f", compression="gzip")
                k += 1
    summary = {"questions": plan.n_questions, "cohorts": sum(len(t.cohorts) for t in plan.traits)}
else:
    from genoteam.synthetic_write import write_corpus
    record = write_corpus(config, out / "corpus")
    summary = {"questions": record["n_questions"], "cohorts": record["n_cohorts"]}
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
files = sum(1 for p in out.rglob("*") if p.is_file())
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                  "bytes": size, "files": files, **summary}))
"""


def run(mode: str, scale: str, questions: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, mode, scale, questions, tmp],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def cell(r: dict[str, float]) -> str:
    return (
        f"{r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, {r['rss_mb']:.0f} MB peak, "
        f"{r['bytes'] / 1e6:.0f} MB in {r['files']} files"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default="100", help="questions of the small corpus (or 'all')")
    parser.add_argument("--full-questions", default="3", help="questions of the --scale full corpus")
    args = parser.parse_args()
    cases = [("small", args.questions), ("small", "all"), ("full", args.full_questions)]
    rows = []
    for scale, questions in cases:
        corpus, base = run("corpus", scale, questions), run("baseline", scale, questions)
        rows.append((scale, corpus, base))
        print(
            f"{scale} {corpus['questions']} questions, {corpus['cohorts']} cohorts: corpus {cell(corpus)} | "
            f"baseline {cell(base)}",
            flush=True,
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        BEGIN,
        "## GenoTEX-like corpus (benchmarks/bench_corpus.py)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
        f"({platform.machine()}), load average {load} at the end (other work shares this machine: "
        "CPU time is the steadier figure). Each run is a fresh process, seed 1. The corpus writes every "
        "GEO series twice (series matrix and family SOFT, as GEO does), the Xena files, the truth "
        "folder (true linked tables included) and the task file; the baseline writes each series' "
        "probe matrix once, with pandas.",
        "",
        "| scale | questions | cohorts | `genoteam synth --genotex-like` | baseline: numpy + pandas to_csv of "
        "the GEO matrices |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {c['questions']} | {c['cohorts']} | {cell(c)} | {cell(b)} |" for s, c, b in rows]
    lines.append(END)
    write_section("\n".join(lines), BEGIN, END)
    print(f"updated {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
