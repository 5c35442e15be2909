"""A GenoTEX-like batch end to end with the reference engine: serial vs Ray on this machine.

1. The corpus: `genoteam synth --genotex-like --questions N` (default 100 questions), with its
   planted truth.
2. Whole batches, each `genoteam batch ... --engine reference` in a fresh child process, timed:
   serial (`--cluster pool --max-parallel 1`, the baseline), the process pool on every core, and
   a local Ray instance (`--cluster local`, every core). Peak memory per node: the sum of the RSS
   of every process of the run's process tree (driver, Ray's GCS and raylet, workers), sampled
   every 0.2 s; this machine is the one node (RSS sums count shared pages once per process).
3. Scheduler overhead per task, on the first `--overhead-questions` questions: the same tasks
   through the same runner called directly in one process (no executor: each task is a function
   call) and through Ray with one task at a time; overhead per task = (wall - the tasks' own
   seconds) / tasks, for each.
4. GenoTEX's metrics of the serial and the Ray batch against the planted truth (`genoteam eval`).

usage: python3 benchmarks/bench_batch.py [--questions N] [--overhead-questions N] [--work DIR] [--write]
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
import threading
import time
from pathlib import Path
from typing import Any

from _results import RESULTS, write_section  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- begin batch -->", "<!-- end batch -->"
PAGE = os.sysconf("SC_PAGE_SIZE")


# ----------------------------------------------------------------------------- process trees
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(root: int) -> int:
    """The summed RSS (bytes) of `root` and all its descendants now."""
    tree, total, stack = _children(), 0, [root]
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
        stack.extend(tree.get(pid, []))
    return total


def timed_run(argv: list[str], log: Path) -> dict[str, Any]:
    """Run `argv` (its own session, so every process it starts is its descendant); wall time and
    the peak summed RSS of its process tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    peak = [0]
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(proc.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        done.set()
        sampler.join()
    wall = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"{' '.join(argv[:6])}... exited {code}; log: {log}\n{log.read_text()[-3000:]}")
    return {"wall_s": wall, "peak_rss_mb": peak[0] / 1e6}


def genoteam(*args: str) -> list[str]:
    return [sys.executable, "-m", "genoteam", *args]


# ----------------------------------------------------------------------------- the figures
def make_corpus(work: Path, questions: int) -> tuple[Path, dict[str, Any]]:
    corpus = work / "corpus"
    subprocess.run(
        genoteam("synth", "--genotex-like", "--output", str(corpus), "--questions", str(questions)),
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return corpus, json.loads((corpus / "corpus.json").read_text())


def batch_run(corpus: Path, output: Path, *cluster: str) -> dict[str, Any]:
    argv = genoteam(
        "batch",
        "--task-info",
        str(corpus / "task_info.json"),
        "--input",
        str(corpus / "input"),
        "--output",
        str(output),
        "--engine",
        "reference",
        *cluster,
    )
    figures = timed_run(argv, output.with_suffix(".log"))
    summary = json.loads((output / "summary.json").read_text())
    seconds = [
        float(json.loads(p.read_text()).get("seconds") or 0) for p in (output / "state").glob("*.json")
    ]
    figures.update(
        tasks=summary["run"]["tasks_run"],
        executor=summary["run"]["executor"],
        task_seconds=sum(seconds),
        questions=summary["questions"],
        cohorts=summary["cohorts"],
    )
    return figures


def scores(corpus: Path, output: Path) -> dict[str, Any]:
    report = output.with_suffix(".eval.json")
    subprocess.run(
        genoteam(
            "eval",
            "--pred",
            str(output),
            "--ref",
            str(corpus / "truth"),
            "--task-info",
            str(corpus / "task_info.json"),
            "--json",
            str(report),
        ),
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(report.read_text())


OVERHEAD_CHILD = """
import json, sys, time
from pathlib import Path
from genoteam.batch.executor import TaskEvent, run_batch_task, order_check
from genoteam.batch.plan import BatchOptions
from genoteam.batch.runner import run_batch

class Direct:
    '''Each task a plain function call in this process, in plan order: no executor at all.'''
    def describe(self):
        return "direct calls"
    def run(self, tasks, on_event):
        order_check(tasks)
        outcomes = {}
        for task in tasks:
            on_event(TaskEvent(key=task.key, kind="started", node="direct"))
            outcomes[task.key] = run_batch_task(task, "direct")
            on_event(TaskEvent(key=task.key, kind="finished", node="direct", outcome=outcomes[task.key]))
        return outcomes

corpus, output, mode, questions = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == "direct":
    executor = Direct()
else:
    from genoteam.batch.ray_executor import RayExecutor
    executor = RayExecutor("local", max_parallel=1)
first = []
def progress(counts, event, task):
    if event.kind == "started" and not first:
        first.append(time.monotonic())
started = time.monotonic()
summary = run_batch(corpus / "task_info.json", corpus / "input", output, executor,
                    BatchOptions(engine="reference"), questions=questions, progress=progress)
ended = time.monotonic()
seconds = [json.loads(p.read_text()).get("seconds") or 0 for p in (output / "state").glob("*.json")]
print(json.dumps({"wall_s": ended - started, "startup_s": first[0] - started, "steady_s": ended - first[0],
                  "tasks": summary["run"]["tasks_run"], "task_seconds": sum(seconds),
                  "executor": summary["run"]["executor"]}))
"""


def overhead(corpus: Path, work: Path, n_questions: int) -> dict[str, dict[str, Any]]:
    info = json.loads((corpus / "task_info.json").read_text())
    picked: list[str] = []
    for trait in sorted(info):
        for condition in [None, *info[trait].get("conditions", [])]:
            if len(picked) < n_questions:
                picked.append(f"{trait}:{condition or 'None'}")
    found = {}
    for mode in ("direct", "ray"):
        output = work / f"overhead-{mode}"
        done = subprocess.run(
            [sys.executable, "-c", OVERHEAD_CHILD, str(corpus), str(output), mode, ",".join(picked)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"},
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise SystemExit(f"overhead run {mode} failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        # after the first task started: Ray's own start (instance, first worker) is reported apart
        figures["per_task_s"] = (figures["steady_s"] - figures["task_seconds"]) / max(1, figures["tasks"])
        found[mode] = figures
    return found


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def metric_line(report: dict[str, Any]) -> str:
    """GenoTEX's overall statistical-analysis figures of an eval report (percent, AUROC and ES as 0-1)."""
    analysis = report["analysis"]
    overall = analysis["by_category"]["Overall"]
    keys = ("success", "precision", "recall", "f1", "jaccard", "auroc", "gsea_es")
    figures = ", ".join(f"{k} {overall[k]:g}" for k in keys if isinstance(overall.get(k), int | float))
    return f"{analysis['n_questions']} questions ({analysis['n_missing']} missing): {figures}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--overhead-questions", type=int, default=20)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--write", action="store_true", help="record the figures in benchmarks/RESULTS.md")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    load_start, started = load_average(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    corpus, meta = make_corpus(work, args.questions)
    print(
        f"corpus: {meta['n_traits']} traits, {meta['n_questions']} questions, {meta['n_cohorts']} cohorts",
        flush=True,
    )
    runs: dict[str, dict[str, Any]] = {}
    for name, cluster in (
        ("serial", ("--cluster", "pool", "--max-parallel", "1")),
        ("pool", ("--cluster", "pool")),
        ("ray", ("--cluster", "local")),
    ):
        runs[name] = batch_run(corpus, work / name, *cluster)
        print(name, json.dumps(runs[name]), flush=True)
    reports = {name: scores(corpus, work / name) for name in ("serial", "ray")}
    same_scores = metric_line(reports["serial"]) == metric_line(reports["ray"])
    costs = overhead(corpus, work, args.overhead_questions)
    print("overhead", json.dumps(costs), flush=True)
    load_end = load_average()

    cores = os.cpu_count() or 1
    serial = runs["serial"]
    lines = [
        BEGIN,
        "## Batch: serial vs Ray (benchmarks/bench_batch.py)",
        "",
        f"Run {started} on {cores} cores ({platform.machine()}, Python {platform.python_version()}). "
        f"Load average {load_start} at the start, {load_end} at the end (the machine is shared, so wall "
        "times are indicative). Corpus: `genoteam synth --genotex-like --questions "
        f"{args.questions}`: {meta['n_traits']} traits, {meta['n_questions']} questions, "
        f"{meta['n_cohorts']} cohorts; the reference engine; each batch a fresh `genoteam batch` "
        "process. Peak memory per node: the summed RSS of the run's whole process tree (driver, Ray's "
        "GCS and raylet, workers), sampled every 0.2 s; this machine is the one node. "
        f"The ceiling on {cores} cores is {cores}x the serial speed, less what the driver and Ray "
        "themselves use: the tasks are CPU-bound and small.",
        "",
        "| run | wall time | speed-up vs serial | tasks | tasks' own time (sum) | peak memory (node) | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    labels = {
        "serial": "serial (`--cluster pool --max-parallel 1`, the baseline)",
        "pool": f"process pool (`--cluster pool`, {cores} at once)",
        "ray": f"Ray (`--cluster local`: {runs['ray']['executor'].split(': ', 1)[-1]})",
    }
    for name, figures in runs.items():
        q = figures["questions"]
        lines.append(
            f"| {labels[name]} | {figures['wall_s']:.1f} s | {serial['wall_s'] / figures['wall_s']:.2f}x | "
            f"{figures['tasks']} | {figures['task_seconds']:.1f} s | {figures['peak_rss_mb']:.0f} MB | "
            f"{q.get('answered', '?')} answered, {q.get('insufficient_data', '?')} insufficient data, "
            f"{q.get('failed', '?')} failed |"
        )
    direct, ray = costs["direct"], costs["ray"]
    lines += [
        "",
        f"Scheduler overhead per task, on the first {args.overhead_questions} questions ({direct['tasks']} tasks), "
        "one task at a time through the same runner (`batch.runner.run_batch`): from the first task's start to "
        "the end, (that time - the tasks' own seconds) / tasks. Start-up (planning; for Ray also starting the "
        "instance and its first worker) is the time until the first task starts.",
        "",
        "| how each task is called | start-up | after it | tasks' own time | overhead per task |",
        "|---|---|---|---|---|",
        f"| a direct function call in one process (baseline) | {direct['startup_s']:.1f} s | "
        f"{direct['steady_s']:.1f} s | {direct['task_seconds']:.1f} s | {direct['per_task_s'] * 1000:.0f} ms |",
        f"| a Ray task on a local instance | {ray['startup_s']:.1f} s | {ray['steady_s']:.1f} s | "
        f"{ray['task_seconds']:.1f} s | {ray['per_task_s'] * 1000:.0f} ms |",
        "",
        "GenoTEX's metrics against the planted truth (`genoteam eval --ref truth/`), overall: "
        f"serial {metric_line(reports['serial'])}; Ray {metric_line(reports['ray'])}"
        + (" (the same)." if same_scores else " (they differ: see the eval reports)."),
        "",
        END,
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)
        print(f"written to {RESULTS}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
