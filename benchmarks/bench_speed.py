"""Real-data speed and memory: whole processes on CHOL, real-like (12-digit) synthetic cohorts,
cohorts in parallel, the GenoTEX procedure before and after its per-fold caching, the CSV writer,
and the memory admission of a 20,000 x 6,000 cohort.

    python3 benchmarks/bench_speed.py                      # every part, rewrites its RESULTS.md section
    python3 benchmarks/bench_speed.py --parts chol csv     # some parts, printed only (add --write)
    python3 benchmarks/bench_speed.py --before DIR         # DIR: a checkout of the previous genoteam/

Every case runs in a fresh child process; wall, CPU (user + system) and peak RSS are the child's
own from os.wait4, interpreter start and imports included. Team runs use the Docker sandbox;
their CPU adds the sandbox containers' own (cgroup cpuacct.usage) and their peak memory is the
largest RSS sampled every 0.5 s in those containers' cgroups (memory.stat total_rss), beside the
host process's own; only containers the child started count (the owner label holds its pid). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _results import write_section  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "data"
CHOL_DIR = SHARED / "input" / "TCGA" / "TCGA_Bile_Duct_Cancer_(CHOL)"
TRAIT, CODE, SEED, GENES = "Kidney_Clear_Cell_Carcinoma", "KIRC", 11, 20000


# ----------------------------------------------------------------------------- child side
def child_generate(kind: str, samples: str, n_geo: str, out: str) -> dict[str, Any]:
    from genoteam.synthetic import SynthConfig, generate

    config = SynthConfig(
        n_genes=GENES,
        n_samples=int(samples),
        seed=SEED,
        kind=kind,
        trait=TRAIT,
        tcga_code=CODE,
        n_geo_cohorts=int(n_geo),
        n_trait_genes=200,
        n_age_genes=50,
        n_gender_genes=50,
        decimals=12,  # real Xena and GEO files carry ~12 significant digits
    )
    generate(config, Path(out))
    return {}


def child_reference(input_dir: str, trait: str, output_dir: str, method: str) -> dict[str, Any]:
    from genoteam.pipeline.api import AnalysisRequest
    from genoteam.pipeline.reference import run_reference

    result = run_reference(AnalysisRequest(trait=trait, method=method), Path(input_dir), Path(output_dir))
    return _summary(result)


def child_statistics(preprocess_root: str, trait: str, method: str) -> dict[str, Any]:
    """Only the statistics (cohort selection + method) on an already preprocessed folder."""
    from genoteam.toolkit.stats.questions import answer_question

    t0 = time.process_time()
    answer = answer_question(Path(preprocess_root), trait, method=method)
    return {"genes": list(answer.significant["Variable"]), "stats_cpu": time.process_time() - t0}


def child_team(input_dir: str, trait: str, output_dir: str) -> dict[str, Any]:
    from genoteam.agents.engine import run_team
    from genoteam.agents.llm import TeamConfig
    from genoteam.pipeline.api import AnalysisRequest

    result = run_team(
        AnalysisRequest(trait=trait),
        Path(input_dir),
        Path(output_dir),
        sandbox="docker",
        config=TeamConfig(),
        memory_path=Path(output_dir).parent / f"{Path(output_dir).name}-memory.sqlite",
    )
    return _summary(result)


def child_chol_baseline(matrix: str, clinical: str) -> dict[str, Any]:
    """What a user writes with pandas + numpy: read the matrix and clinical table, tumour/normal
    from the barcode, the same moderated t with Age and Gender, BH q < 0.05."""
    import pandas as pd

    from genoteam.toolkit.stats.association import moderated_t_test  # numpy + scipy.special only

    frame = pd.read_csv(matrix, sep="\t", index_col=0)
    clin = pd.read_csv(clinical, sep="\t", index_col=0)
    code = pd.to_numeric(frame.columns.str.rsplit("-", n=1).str[-1].str[:2], errors="coerce")
    table = frame.T
    table.insert(0, "Trait", ((code >= 1) & (code <= 9)).astype(float))
    table.insert(
        1,
        "Age",
        pd.to_numeric(clin["age_at_initial_pathologic_diagnosis"], errors="coerce").reindex(table.index),
    )
    table.insert(2, "Gender", (clin["gender"].str.upper() == "MALE").astype(float).reindex(table.index))
    table = table.dropna(subset=["Age", "Gender"])
    table = table.loc[:, table.std() > 0]
    tested = moderated_t_test(table, "Trait", ["Age", "Gender"])
    return {"genes": int((tested["q_value"] < 0.05).sum()), "samples": len(table)}


def _summary(result) -> dict[str, Any]:
    return {
        "status": result.status,
        "selected": result.selected_cohorts,
        "genes": len(result.significant_genes),
        "message": result.message[:300],
    }


def child_csv(samples: str) -> dict[str, Any]:
    """The GenoTEX CSV of a 20,000 x N 12-digit table: pandas to_csv, repr per value (the previous
    writer: its fixed-point path never applied to 12-digit rows), the current writer; the read."""
    import io

    import numpy as np
    import pandas as pd

    from genoteam.toolkit import layout

    rng = np.random.default_rng(1)
    values = np.round(rng.normal(6.0, 2.5, (int(samples), GENES)), 10)
    frame = pd.DataFrame(values, columns=[f"G{j}" for j in range(GENES)])
    out: dict[str, Any] = {}
    for name, write in [
        ("pandas to_csv", lambda: frame.to_csv()),
        (
            "repr per value",
            lambda: "".join(
                f"{i}," + ",".join(map(repr, r)) + "\n" for i, r in enumerate(frame.to_numpy().tolist())
            ),
        ),
        ("genoteam", lambda: layout.frame_to_csv(frame)),
    ]:
        t0 = time.process_time()
        text = write()
        out[name] = time.process_time() - t0
    t0 = time.process_time()
    back = pd.read_csv(io.StringIO(text), index_col=0, low_memory=False)
    out["read"] = time.process_time() - t0
    out["exact"] = bool(np.array_equal(back.to_numpy(), values))
    out["mb"] = len(text) / 1e6
    return out


CHILDREN = {
    "generate": child_generate,
    "reference": child_reference,
    "statistics": child_statistics,
    "team": child_team,
    "chol-baseline": child_chol_baseline,
    "csv": child_csv,
}


# ----------------------------------------------------------------------------- parent side
@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    sandbox_peak_mb: float = 0.0
    sandbox_cpu: float = 0.0
    sandboxes: int = 0

    def cell(self, sandbox: bool = False) -> str:
        if self.error:
            return f"FAILED ({self.error})"
        text = f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU, {self.peak_mb:.0f} MB peak"
        if sandbox:
            text = (
                f"{self.wall:.1f} s wall, {self.cpu + self.sandbox_cpu:.1f} s CPU "
                f"(host {self.cpu:.1f} + {self.sandboxes} sandbox containers {self.sandbox_cpu:.1f}), "
                f"peak {self.peak_mb:.0f} MB host, {self.sandbox_peak_mb:.0f} MB largest container"
            )
        return text


class SandboxUsage:
    """The sandbox containers the child started (owner label = its pid): the largest RSS any of
    them reached (cgroup v1 memory.stat total_rss, sampled every 0.5 s) and their CPU time
    (cpuacct.usage, last sample). Other work's containers on this machine are not counted."""

    CGROUP = Path("/sys/fs/cgroup")

    def __init__(self) -> None:
        self.pid = 0
        self.peak = 0
        self.cpu_ns: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        try:
            import docker

            client = docker.from_env(timeout=10)
        except Exception:  # no Docker here: nothing to sample (reference-only runs)
            return
        while not self._stop.wait(0.5):
            try:
                found = client.api.containers(filters={"label": "genoteam.sandbox=1"})
            except Exception:
                continue
            for container in found:
                if f"/{self.pid}/" not in container["Labels"].get("genoteam.owner", ""):
                    continue
                ident = container["Id"]
                try:
                    stat = (self.CGROUP / "memory" / "docker" / ident / "memory.stat").read_text()
                    usage = (self.CGROUP / "cpuacct" / "docker" / ident / "cpuacct.usage").read_text()
                except OSError:
                    continue
                fields = dict(line.split() for line in stat.splitlines())
                self.peak = max(self.peak, int(fields.get("total_rss", 0)))
                self.cpu_ns[ident] = max(self.cpu_ns.get(ident, 0), int(usage))

    def start(self, pid: int) -> None:
        self.pid = pid
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def run_child(
    mode: str, *args: str, log: Path, tree: Path = ROOT, env: dict | None = None, timeout: float = 3600
) -> Run:
    result = log.with_suffix(".json")
    result.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(result), *args]
    environment = dict(os.environ, PYTHONPATH=str(tree), **(env or {}))
    t0 = time.perf_counter()
    sandbox = SandboxUsage()
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
        sandbox.start(proc.pid)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        sandbox.stop()
    run = Run(time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
    run.sandbox_peak_mb = sandbox.peak / 2**20
    run.sandbox_cpu = sum(sandbox.cpu_ns.values()) / 1e9
    run.sandboxes = len(sandbox.cpu_ns)
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not result.is_file():
        tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
        run.error = f"exit {code}: {tail[0][:200]}"
    else:
        run.data = json.loads(result.read_text())
    print(f"  {log.stem}: {run.cell(sandbox=run.sandboxes > 0)} {json.dumps(run.data)[:200]}", flush=True)
    return run


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def part_chol(work: Path, repeats: int) -> list[str]:
    matrix = CHOL_DIR / "TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz"
    clinical = CHOL_DIR / "TCGA.CHOL.sampleMap_CHOL_clinicalMatrix"
    if not matrix.is_file():
        return ["CHOL: skipped (../shared/data is absent)."]
    ref, base = [], []
    for i in range(repeats):  # alternate, so both see the same load
        ref.append(
            run_child(
                "reference",
                str(SHARED / "input"),
                "Bile_Duct_Cancer",
                str(work / f"chol{i}"),
                "moderated-t",
                log=work / f"chol-ref{i}.log",
            )
        )
        base.append(run_child("chol-baseline", str(matrix), str(clinical), log=work / f"chol-base{i}.log"))
    med = {k: statistics.median(getattr(r, k) for r in ref) for k in ("wall", "cpu", "peak_mb")}
    bmed = {k: statistics.median(getattr(r, k) for r in base) for k in ("wall", "cpu", "peak_mb")}
    ratios = statistics.median(r.cpu / b.cpu for r, b in zip(ref, base, strict=True))
    return [
        f"### TCGA CHOL, whole process (median of {repeats}, alternating runs)",
        "",
        "| command | wall | CPU | peak memory | result |",
        "|---|---|---|---|---|",
        f"| `genoteam reference --trait Bile_Duct_Cancer` (preprocessing, layout, CV, statistics) | {med['wall']:.1f} s | {med['cpu']:.1f} s | {med['peak_mb']:.0f} MB | {ref[0].data.get('status')}, {ref[0].data.get('genes')} genes |",
        f"| baseline: pandas + numpy + the same moderated t (Age, Gender) | {bmed['wall']:.1f} s | {bmed['cpu']:.1f} s | {bmed['peak_mb']:.0f} MB | {base[0].data.get('genes')} genes, {base[0].data.get('samples')} samples |",
        "",
        f"CPU ratio reference / baseline, median of the pairs: {ratios:.2f}x (goal <= 3x).",
    ]


def part_csv(work: Path) -> list[str]:
    r = run_child("csv", "2000", log=work / "csv.log")
    d = r.data
    if r.error:
        return [f"CSV: {r.cell()}"]
    return [
        f"### GenoTEX CSV of a 2,000 x 20,000 table with 12-digit values ({d['mb']:.0f} MB of text)",
        "",
        "| writer | CPU |",
        "|---|---|",
        f"| pandas `to_csv` (baseline) | {d['pandas to_csv']:.1f} s |",
        f"| repr per value (the previous writer on such values) | {d['repr per value']:.1f} s |",
        f"| genoteam (`layout.csv_parts`, orjson where its text equals repr) | {d['genoteam']:.1f} s |",
        "",
        f"Read back with pandas `read_csv`: {d['read']:.1f} s CPU; every float64 bit-exact: {d['exact']}.",
    ]


def _generate(work: Path, name: str, kind: str, samples: int, n_geo: int = 0) -> Path:
    folder = work / name
    if not (folder / "truth.json").is_file():
        gen = run_child("generate", kind, str(samples), str(n_geo), str(folder), log=work / f"gen-{name}.log")
        if gen.error:
            raise SystemExit(f"generation of {name} failed: {gen.error}")
    return folder


def _cached_cell(work: Path, key: str, run: Run | None = None, text: str = "") -> str:
    """Each finished run's cell is kept in WORK/synthetic-cells.json (with its time and load), so
    the engines can be run in separate invocations and the table still shows every figure."""
    cache = work / "synthetic-cells.json"
    cells = json.loads(cache.read_text()) if cache.is_file() else {}
    if run is not None:
        stamp = time.strftime("%H:%M UTC", time.gmtime())
        cells[key] = f"{text} [run {stamp}, load {load()}]"
        cache.write_text(json.dumps(cells, indent=1))
    return cells.get(key, "not run")


def part_synthetic(work: Path, sizes: list[int], engines: list[str], timeout: float) -> list[str]:
    """Per size: the pandas + numpy baseline, the reference and the team on the same cohort."""
    for n in sizes:
        folder = _generate(work, f"tcga{n}", "tcga", n)
        xena = folder / "TCGA" / f"TCGA_{TRAIT}_({CODE})"
        if "baseline" in engines:
            b = run_child(
                "chol-baseline",
                str(xena / f"TCGA.{CODE}.sampleMap_HiSeqV2_PANCAN.gz"),
                str(xena / f"TCGA.{CODE}.sampleMap_{CODE}_clinicalMatrix"),
                log=work / f"base{n}.log",
                timeout=timeout,
            )
            _cached_cell(work, f"baseline{n}", b, b.cell() + f"; {b.data.get('genes')} genes")
        if "reference" in engines:
            ref = run_child(
                "reference",
                str(folder),
                TRAIT,
                str(work / f"ref{n}"),
                "moderated-t",
                log=work / f"ref{n}.log",
                timeout=timeout,
            )
            text = ref.cell() + f"; {ref.data.get('status')}, {ref.data.get('genes')} genes"
            _cached_cell(work, f"reference{n}", ref, text)
        if "team" in engines:
            t = run_child(
                "team", str(folder), TRAIT, str(work / f"team{n}"), log=work / f"team{n}.log", timeout=timeout
            )
            text = t.cell(sandbox=True) + f"; {t.data.get('status')}, {t.data.get('genes')} genes"
            if t.data.get("status") != "complete":
                text += f" ({t.data.get('message', '')[:260]})"
            _cached_cell(work, f"team{n}", t, text)
    return [
        "### Synthetic TCGA cohorts, 20,000 genes, 12-digit values (one run each, whole processes)",
        "",
        "| samples | baseline: pandas + numpy + the same moderated t | reference (`run_reference`) "
        "| agent team (`run_team`, offline, Docker sandbox; CPU includes the containers') |",
        "|---|---|---|---|",
        *(
            f"| {n:,} | {_cached_cell(work, f'baseline{n}')} | {_cached_cell(work, f'reference{n}')} "
            f"| {_cached_cell(work, f'team{n}')} |"
            for n in sizes
        ),
    ]


def part_parallel(work: Path, samples: int, engines: list[str], timeout: float) -> list[str]:
    """4 GEO cohorts of one trait, one after the other (the baseline) and 2 at a time, per engine."""
    folder = _generate(work, f"geo4x{samples}", "geo", samples, n_geo=4)
    rows, notes = [], []
    for engine in [e for e in ("reference", "team") if e in engines]:
        runs = {}
        for workers in ("1", "2"):  # alternate engines' runs would mix loads: each pair back to back
            args = (str(folder), TRAIT, str(work / f"par-{engine}{workers}"))
            runs[workers] = run_child(
                engine,
                *args,
                *(["moderated-t"] if engine == "reference" else []),
                log=work / f"par-{engine}{workers}.log",
                env={"GENOTEAM_COHORT_WORKERS": workers},
                timeout=timeout,
            )
        team = engine == "team"
        rows += [
            f"| {engine}, one cohort after the other (`GENOTEAM_COHORT_WORKERS=1`, baseline) "
            f"| {runs['1'].cell(sandbox=team)} |",
            f"| {engine}, 2 cohorts at a time (the default on 2 cores) | {runs['2'].cell(sandbox=team)} |",
        ]
        same = {k: v for k, v in runs["1"].data.items() if k != "message"} == {
            k: v for k, v in runs["2"].data.items() if k != "message"
        }
        notes.append(
            f"{engine}: speed-up {runs['1'].wall / max(runs['2'].wall, 1e-9):.2f}x wall; same result: {same} "
            f"({runs['2'].data.get('status')}, {runs['2'].data.get('genes')} genes, "
            f"selected {runs['2'].data.get('selected')})."
        )
    return [
        f"### A trait with 4 GEO cohorts of 20,000 genes x {samples} samples (12-digit values), serial vs parallel",
        "",
        "| engine and cohorts | whole process |",
        "|---|---|",
        *rows,
        "",
        *notes,
    ]


def part_genotex(work: Path, samples: int, before: Path | None, timeout: float) -> list[str]:
    folder = _generate(work, f"tcga{samples}", "tcga", samples)
    pre = work / f"ref{samples}"
    if not (pre / "preprocess" / TRAIT / "cohort_info.json").is_file():
        run_child(
            "reference", str(folder), TRAIT, str(pre), "moderated-t", log=work / "gx-pre.log", timeout=timeout
        )
    rows = []
    for label, tree in [
        ("before (a fit per penalty)", before),
        ("after (per-fold work shared by the penalties)", ROOT),
    ]:
        if tree is None:
            rows.append(f"| {label} | not run (pass --before DIR) |")
            continue
        r = run_child(
            "statistics",
            str(pre / "preprocess"),
            TRAIT,
            "genotex",
            log=work / f"gx-{tree.name}.log",
            tree=tree,
            timeout=timeout,
        )
        extra = (
            "" if r.error else f"; statistics {r.data['stats_cpu']:.0f} s CPU, {len(r.data['genes'])} genes"
        )
        rows.append(f"| {label} | {r.cell()}{extra} |")
    return [
        f"### `--method genotex` on 20,000 genes x {samples:,} samples (statistics only, same preprocessed folder)",
        "",
        "| code | whole process |",
        "|---|---|",
        *rows,
    ]


def part_oom(work: Path, timeout: float) -> list[str]:
    folder = _generate(work, "tcga6000", "tcga", 6000)
    team = run_child(
        "team", str(folder), TRAIT, str(work / "team6000"), log=work / "team6000.log", timeout=timeout
    )
    ref = run_child(
        "reference",
        str(folder),
        TRAIT,
        str(work / "ref6000"),
        "moderated-t",
        log=work / "ref6000.log",
        timeout=timeout,
    )
    return [
        "### A 20,000 x 6,000 cohort with the default settings",
        "",
        "| engine | whole process | result |",
        "|---|---|---|",
        f"| agent team (sandbox memory limit 4g) | {team.cell()} | {team.data.get('status')}: {team.data.get('message', '')[:400]} |",
        f"| reference (this machine's memory) | {ref.cell()} | {ref.data.get('status')}, {ref.data.get('genes')} genes |",
    ]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, result, *rest = sys.argv[2:]
        Path(result).write_text(json.dumps(CHILDREN[mode](*rest)))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--parts", nargs="+", default=["chol", "csv", "synthetic", "parallel", "genotex", "oom"]
    )
    parser.add_argument("--samples", nargs="+", type=int, default=[500, 2000, 5000])
    parser.add_argument(
        "--engines",
        nargs="+",
        default=["baseline", "reference", "team"],
        help="for --parts synthetic and parallel",
    )
    parser.add_argument("--parallel-samples", type=int, default=200, help="per GEO cohort, --parts parallel")
    parser.add_argument("--before", type=Path, help="a folder holding the previous genoteam/ package")
    parser.add_argument("--work", type=Path, default=Path("/tmp/genoteam-bench-speed"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=1800, help="bound on each child, seconds")
    parser.add_argument("--write", action="store_true", help="rewrite the RESULTS.md section")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for part in args.parts:
        print(f"== {part}", flush=True)
        started = f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, load average {load()} at the start"
        if part == "chol":
            lines = part_chol(args.work, args.repeats)
        elif part == "csv":
            lines = part_csv(args.work)
        elif part == "synthetic":
            lines = part_synthetic(args.work, args.samples, args.engines, args.timeout)
        elif part == "parallel":
            lines = part_parallel(args.work, args.parallel_samples, args.engines, args.timeout)
        elif part == "genotex":
            lines = part_genotex(args.work, 2000, args.before, args.timeout)
        elif part == "oom":
            lines = part_oom(args.work, args.timeout)
        else:
            raise SystemExit(f"unknown part {part!r}")
        begin, end = f"<!-- begin speed-{part} -->", f"<!-- end speed-{part} -->"
        note = f"{started}, {load()} at the end (machine shared with other work: CPU is the steadier figure)."
        text = "\n".join([begin, *lines[:1], "", note, *lines[1:], end])
        print(text, flush=True)
        if args.write:
            write_section(text, begin, end)
    return 0


if __name__ == "__main__":
    sys.exit(main())
