"""The plain local executor: a process pool on this machine, needs respected, bounded by cores and
by memory. Used when Ray is not installed (or asked for), and the baseline Ray is compared with.

Why processes and not threads: the engines hold the GIL (pandas, the toolkit's statistics) and a
crash must stay with its task. Workers are spawned (no state shared with the driver) and end when
the driver dies (a killed batch leaves no worker writing into its folder; `--resume` redoes the
tasks that were running). A worker that dies takes concurrent.futures' whole pool with it: the
tasks that were running then are started again once in a new pool, and a task whose worker dies
twice is failed with that reason.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from genoteam.batch.executor import (
    BatchTask,
    EventCallback,
    TaskEvent,
    TaskOutcome,
    failed_outcome,
    local_node_id,
    order_check,
    run_batch_task,
)
from genoteam.pipeline.parallel import available_memory_bytes

MAX_WORKER_DEATHS = 2  # a task whose worker died this many times is failed


def _end_with_parent(parent: int) -> None:
    """Worker initializer: exit as soon as the driver is gone (checked every second)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="genoteam-parent-watch").start()


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the pool without waiting for its running tasks (they are not recorded as finished, so
    --resume runs them again)."""
    workers = list(getattr(pool, "_processes", {}).values())  # concurrent.futures keeps no public list
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()


def _run_in_worker(task: BatchTask) -> TaskOutcome:
    return run_batch_task(task, local_node_id())


class LocalPoolExecutor:
    """At most `max_parallel` tasks at once (default: the machine's cores), and no more than fit in
    `memory_bytes` (default: MemAvailable at the start) by their `memory_bytes` request; the first
    waiting task always starts when nothing runs, so a large task queues instead of never running."""

    name = "pool"

    def __init__(self, max_parallel: int | None = None, memory_bytes: int | None = None) -> None:
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self.max_parallel = max_parallel or os.cpu_count() or 1
        self.memory_bytes = memory_bytes

    def describe(self) -> str:
        return f"local process pool, up to {self.max_parallel} task(s) at once"

    def run(self, tasks: Sequence[BatchTask], on_event: EventCallback) -> dict[str, TaskOutcome]:
        order_check(tasks)
        budget = available_memory_bytes() if self.memory_bytes is None else self.memory_bytes
        return _PoolRun(self.max_parallel, budget, tasks, on_event).run()


class _PoolRun:
    """One run's scheduling state: tasks wait in plan order until their needs have finished."""

    def __init__(
        self, workers: int, budget: int, tasks: Sequence[BatchTask], on_event: EventCallback
    ) -> None:
        self.workers = workers
        self.budget = budget
        self.on_event = on_event
        self.keys = {t.key for t in tasks}
        self.waiting = list(tasks)  # plan order: cohorts before the questions that need them
        self.running: dict[Future, BatchTask] = {}
        self.outcomes: dict[str, TaskOutcome] = {}
        self.deaths: dict[str, int] = {}
        self.started_at: dict[str, float] = {}
        self.pool = self._new_pool()

    def run(self) -> dict[str, TaskOutcome]:
        try:
            while self.waiting or self.running:
                self._start_ready()
                if not self.running:
                    raise RuntimeError("no task can start: a need is neither finished nor runnable")
                done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    task = self.running[future]
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True  # handled with the other running tasks below
                        continue
                    except Exception as error:  # pickling or the like: that task's failure
                        outcome = failed_outcome(
                            task, f"the worker could not run it: {type(error).__name__}: {error}"
                        )
                    del self.running[future]
                    self._finish(task, outcome)
                if broken:
                    self._recover()
        except BaseException:  # Ctrl-C or the driver's own failure: stop now, do not wait for tasks
            _stop(self.pool)
            raise
        self.pool.shutdown(wait=True)
        return self.outcomes

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_end_with_parent,
            initargs=(os.getpid(),),
        )

    def _start_ready(self) -> None:
        """Start waiting tasks whose needs finished, while workers, memory and cores allow."""
        in_use = sum(t.memory_bytes for t in self.running.values())
        cpus = sum(t.cpus for t in self.running.values())
        for task in list(self.waiting):
            if len(self.running) >= self.workers:
                return
            if any(n in self.keys and n not in self.outcomes for n in task.needs):
                continue
            fits = in_use + task.memory_bytes <= self.budget and cpus + task.cpus <= self.workers
            if self.running and not fits:
                return  # keep plan order: a large task is not overtaken for ever by small ones
            self.waiting.remove(task)
            self.on_event(TaskEvent(key=task.key, kind="started", node=socket.gethostname()))
            self.started_at[task.key] = time.monotonic()
            self.running[self.pool.submit(_run_in_worker, task)] = task
            in_use += task.memory_bytes
            cpus += task.cpus

    def _finish(self, task: BatchTask, outcome: TaskOutcome) -> None:
        self.outcomes[task.key] = outcome
        self.on_event(TaskEvent(key=task.key, kind="finished", node=outcome.node, outcome=outcome))

    def _recover(self) -> None:
        """A worker died: every task that was running is started again once, in a new pool."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        again = []
        for task in self.running.values():
            self.deaths[task.key] = self.deaths.get(task.key, 0) + 1
            if self.deaths[task.key] >= MAX_WORKER_DEATHS:
                seconds = time.monotonic() - self.started_at.get(task.key, time.monotonic())
                reason = (
                    f"its worker process died {self.deaths[task.key]} times (killed, or out of memory: "
                    f"it asked for {task.memory_bytes >> 20} MiB)"
                )
                self._finish(task, failed_outcome(task, reason, seconds=seconds))
            else:
                why = "a worker process of the pool died (killed, or out of memory); every running task starts again"
                self.on_event(
                    TaskEvent(key=task.key, kind="rescheduled", node=socket.gethostname(), reason=why)
                )
                again.append(task)
        self.running.clear()
        self.waiting[:0] = again
        self.pool = self._new_pool()
