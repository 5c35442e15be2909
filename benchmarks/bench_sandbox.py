"""Sandbox speed: session start, warm cell round trip, 4 concurrent sessions' throughput.

Each figure is set beside a baseline measured in the same run: a plain
`docker run --rm --pull=never --network none IMAGE python3 -c pass` (the cheapest way to run
code in a fresh container of the same image). Writes its section of benchmarks/RESULTS.md.

usage: python3 benchmarks/bench_sandbox.py [--starts N] [--cells N] [--concurrent-cells N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _results import write_section

from genoteam.sandbox.api import SandboxLimits, SessionSpec
from genoteam.sandbox.docker_backend import docker_client
from genoteam.sandbox.factory import open_session
from genoteam.sandbox.image import ensure_image
from genoteam.sandbox.pool import SessionPool

BEGIN, END = "<!-- begin sandbox -->", "<!-- end sandbox -->"
LIMITS = SandboxLimits(memory="512m", cpus=1.0)


def plain_docker_run(client, image: str) -> float:
    """Seconds for one `docker run --pull=never ... python3 -c pass` (CLI when present)."""
    started = time.perf_counter()
    if shutil.which("docker"):
        command = [
            "docker",
            "run",
            "--rm",
            "--pull=never",
            "--network",
            "none",
            image,
            "python3",
            "-c",
            "pass",
        ]
        subprocess.run(command, check=True, capture_output=True)
    else:
        client.containers.run(image, ["python3", "-c", "pass"], remove=True, network_mode="none")
    return time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench(args: argparse.Namespace) -> dict[str, str]:
    client = docker_client()
    image = ensure_image(client, progress=lambda line: None)
    image_id = image.id
    tag = image.tags[0] if image.tags else image_id[:19]
    work = Path(tempfile.mkdtemp(prefix="genoteam-bench-sandbox-"))
    pool = SessionPool(size=8, directory=work / "slots")

    def spec(name: str) -> SessionSpec:
        return SessionSpec(task_id=name, work_dir=work / name, job_id="bench", limits=LIMITS)

    plain_docker_run(client, image_id)  # warm the engine's caches once
    baseline = [plain_docker_run(client, image_id) for _ in range(args.starts)]

    starts, closes = [], []
    for index in range(args.starts):
        started = time.perf_counter()
        session = open_session(spec(f"start{index}"), backend="docker", pool=pool, image=image_id)
        starts.append(time.perf_counter() - started)
        started = time.perf_counter()
        session.close()
        closes.append(time.perf_counter() - started)

    session = open_session(spec("warm"), backend="docker", pool=pool, image=image_id)
    session.run_cell("x = 0")
    overheads = []
    for _ in range(args.cells):
        started = time.perf_counter()
        result = session.run_cell("x += 1")
        overheads.append(time.perf_counter() - started - result.duration_s)
    assert session.run_cell("print(x)").stdout == f"{args.cells}\n"
    session.close()

    def run_cells(session_index: int) -> int:
        with open_session(spec(f"conc{session_index}"), backend="docker", pool=pool, image=image_id) as own:
            for _ in range(args.concurrent_cells):
                assert own.run_cell("sum(range(20_000))").ok
        return args.concurrent_cells

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as executor:
        total_cells = sum(executor.map(run_cells, range(4)))
    concurrent_s = time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as executor:
        list(executor.map(lambda _: plain_docker_run(client, image_id), range(8)))
    baseline_concurrent_s = time.perf_counter() - started

    shutil.rmtree(work, ignore_errors=True)
    return {
        "image": tag,
        "baseline_run": ms(statistics.median(baseline)),
        "session_start": ms(statistics.median(starts)),
        "session_close": ms(statistics.median(closes)),
        "overhead_median": ms(statistics.median(overheads)),
        "overhead_p95": ms(quantile(overheads, 0.95)),
        "overhead_max": ms(max(overheads)),
        "concurrent_cells_per_s": f"{total_cells / concurrent_s:.0f}",
        "concurrent_wall": f"{concurrent_s:.2f} s",
        "baseline_concurrent_runs_per_s": f"{8 / baseline_concurrent_s:.1f}",
        "overhead_ok": "yes" if statistics.median(overheads) < 0.050 else "NO",
    }


def section(figures: dict[str, str], args: argparse.Namespace) -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"""{BEGIN}
## Sandbox (benchmarks/bench_sandbox.py)

Run {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} on {os.cpu_count()} cores ({platform.machine()}),
load average {load} at the end (other work shares this machine), image `{figures["image"]}`,
sessions with memory {LIMITS.memory} and {LIMITS.cpus:g} CPU. Baseline: a plain
`docker run --rm --pull=never --network none IMAGE python3 -c pass` in the same run.

| measure | genoteam sandbox | baseline (plain docker run) |
|---|---|---|
| start (median of {args.starts}) | session open to first answer: {figures["session_start"]} (close: {figures["session_close"]}) | whole run: {figures["baseline_run"]} |
| warm cell round trip, overhead beyond the cell's own time (median / p95 / max of {args.cells}) | {figures["overhead_median"]} / {figures["overhead_p95"]} / {figures["overhead_max"]} (target median < 50 ms: {figures["overhead_ok"]}) | every snippet pays a whole run: {figures["baseline_run"]} |
| 4 concurrent sessions, {args.concurrent_cells} small cells each (incl. open/close) | {figures["concurrent_cells_per_s"]} cells/s ({figures["concurrent_wall"]}) | 4 parallel runs: {figures["baseline_concurrent_runs_per_s"]} snippets/s |
{END}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--concurrent-cells", type=int, default=100)
    args = parser.parse_args()
    figures = bench(args)
    text = section(figures, args)
    print(text)
    write_section(text, BEGIN, END)


if __name__ == "__main__":
    main()
