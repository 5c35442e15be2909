"""Synthetic cohort generation: time and peak memory at 20,000 genes x 100 / 500 / 2,000 samples.

Each size is generated in a fresh process (so peak RSS is that run's own): once as TCGA only,
next to a plain numpy + pandas baseline writing the same-shaped Xena matrix
(`DataFrame.to_csv(..., float_format='%.4f', compression='gzip')`), and once with one GEO series
(series matrix + family SOFT) and the TCGA cohort. Writes its section of benchmarks/RESULTS.md.

usage: python3 benchmarks/bench_synthetic.py [--genes N] [--samples 100 500 2000]
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

BEGIN, END = "<!-- begin synthetic -->", "<!-- end synthetic -->"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, genes, samples, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
t0 = time.perf_counter()
if mode == "baseline":
    import numpy as np, pandas as pd
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(0.0, 1.0, (genes, samples)).astype("float32"),
                         index=[f"G{i}" for i in range(genes)], columns=[f"S{i}" for i in range(samples)])
    frame.index.name = "sample"
    frame.to_csv(out / "baseline.tsv.gz", sep="\t", float_format="%.4f", compression="gzip")
else:
    from genoteam.synthetic import SynthConfig, generate
    generate(SynthConfig(n_genes=genes, n_samples=samples, seed=1, kind=mode, n_geo_cohorts=1), out)
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                  "bytes": size}))
"""


def run(mode: str, genes: int, samples: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, mode, str(genes), str(samples), tmp],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def cell(r: dict[str, float]) -> str:
    return f"{r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, {r['rss_mb']:.0f} MB peak, {r['bytes'] / 1e6:.0f} MB written"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--samples", type=int, nargs="+", default=[100, 500, 2000])
    args = parser.parse_args()
    rows = []
    for n in args.samples:
        tcga, base, both = (
            run("tcga", args.genes, n),
            run("baseline", args.genes, n),
            run("both", args.genes, n),
        )
        rows.append((n, tcga, base, both))
        print(
            f"{args.genes} x {n}: tcga {cell(tcga)} | baseline {cell(base)} | geo+tcga {cell(both)}",
            flush=True,
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        BEGIN,
        "## Synthetic cohorts (benchmarks/bench_synthetic.py)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
        f"({platform.machine()}), load average {load} at the end (other work shares this machine: "
        "CPU time is the steadier figure). Each run is a fresh process; gzip level 1.",
        "",
        f"| {args.genes} genes x samples | TCGA cohort (Xena matrix + clinical) | baseline: numpy + pandas to_csv of "
        "the same matrix | one GEO series (matrix + family SOFT) + TCGA |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {cell(t)} | {cell(b)} | {cell(g)} |" for n, t, b, g in rows]
    lines.append(END)
    section = "\n".join(lines)
    write_section(section, BEGIN, END)
    print(f"updated {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
