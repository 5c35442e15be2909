"""Run the cohorts of one job side by side, bounded by cores and by memory.

Each cohort of the reference engine runs in its own worker process (spawned, so nothing of the
parent's state is shared and a crash stays with its cohort); the team's cohorts run in threads
of the job's process, since each one's code already runs in its own sandbox. A cohort starts only when its estimated memory
(pipeline/admission.py) fits beside the cohorts already running, and at least one always runs, so
large cohorts queue instead of exhausting the machine. Results come back in plan order whatever
the completion order, and cohort_info.json is written in a fixed order (toolkit/cohort_info.py),
so the answer never depends on which cohort finished first.

Small cohorts run in the calling process: a worker's start (interpreter and imports, ~2 s) would
cost more than the cohort itself.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from pathlib import Path
from typing import TypeVar

from genoteam.pipeline.admission import BASE_BYTES, CohortSize

T = TypeVar("T")
PARALLEL_MIN_VALUES = 5_000_000  # below this many expression values in total, run serially
WORKERS_ENV = "GENOTEAM_COHORT_WORKERS"  # an explicit number of cohort workers (1: serial)


def available_memory_bytes() -> int:
    """MemAvailable of /proc/meminfo (memory free for new work now, other users included)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def worker_count(sizes: Sequence[CohortSize | None], cores: int | None = None) -> int:
    """Workers for these cohorts: GENOTEAM_COHORT_WORKERS when set, 1 when the cohorts are small,
    else one per core and per cohort."""
    explicit = os.environ.get(WORKERS_ENV, "").strip()
    if explicit:
        if not explicit.isdigit() or int(explicit) < 1:
            raise ValueError(f"{WORKERS_ENV}={explicit!r}: use a whole number >= 1")
        return int(explicit)
    if len(sizes) < 2 or sum(s.values for s in sizes if s) < PARALLEL_MIN_VALUES:
        return 1
    return max(1, min(cores or os.cpu_count() or 1, len(sizes)))


def run_in_parallel(
    work: Callable[..., T],
    jobs: Sequence[tuple],
    sizes: Sequence[CohortSize | None],
    workers: int,
    on_start: Callable[[int], None],
    on_done: Callable[[int, T], None],
    on_error: Callable[[int, BaseException], T],
    budget_bytes: int | None = None,
    threads: bool = False,
) -> list[T]:
    """work(*jobs[i]) for every i in worker processes (threads, when `threads`: for work that runs
    elsewhere, such as the team's cohorts, each in its own sandbox); results in the order of `jobs`.

    A job starts when fewer than `workers` run and its estimated need fits in what is left of
    `budget_bytes` (MemAvailable at the start when None); the first waiting job always starts
    when nothing runs. on_start(i) / on_done(i, result) report per-cohort progress; a worker that
    dies (killed for memory, say) gives on_error(i, error) as that job's result."""
    budget = available_memory_bytes() if budget_bytes is None else budget_bytes
    need = [s.needed_bytes if s else BASE_BYTES for s in sizes]
    results: dict[int, T] = {}
    waiting = list(range(len(jobs)))
    running: dict[Future, int] = {}
    pool: Executor = (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cohort")
        if threads
        else ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    )
    with pool:
        while waiting or running:
            in_use = sum(need[i] for i in running.values())
            while waiting and len(running) < workers and (not running or in_use + need[waiting[0]] <= budget):
                i = waiting.pop(0)
                on_start(i)
                running[pool.submit(work, *jobs[i])] = i
                in_use += need[i]
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                i = running.pop(future)
                try:
                    results[i] = future.result()  # work() turns its own failures into results
                except Exception as error:  # the worker process itself died
                    results[i] = on_error(i, error)
                on_done(i, results[i])
    return [results[i] for i in range(len(jobs))]
