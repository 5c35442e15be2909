"""The executor interface: what a batch asks of whatever runs its tasks (a local process pool,
Ray). One task is one cohort's preprocessing or one question's statistics (genoteam/batch/plan.py).

Contract every Executor keeps (the batch runner relies on it):
- A task starts only after every one of its `needs` that is among `tasks` has finished (any
  status), and after `on_event` for that need's "finished" event has returned: the runner writes
  the need's state file there, and the dependent reads it (genoteam/batch/work.py). A need that
  is not among `tasks` finished in an earlier run of the batch.
- A failed need does not stop its dependents: the dependent decides what a failed cohort means
  for its question (a question whose cohort failed is failed, never "insufficient data").
- `on_event` is called in the process that called `run`, never concurrently.
- One task's crash (an exception, a dead worker, a lost node) becomes that task's "failed"
  outcome with the reason; `run` raises only when the executor itself cannot work.
- A task whose running attempt was lost (its worker or node died) and that will be started again
  gets a "rescheduled" event first (node: where it was lost, reason: why), then "started" again.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

TaskKind = Literal["cohort", "question"]
TaskStatus = Literal["done", "insufficient_data", "failed"]
EventKind = Literal["started", "finished", "rescheduled"]


@dataclass(frozen=True)
class BatchTask:
    key: str  # content key (sha256 of kind, payload, input fingerprint, version, guidelines)
    kind: TaskKind
    payload: dict[str, Any]  # JSON-safe; all run_batch_task needs (paths absolute, on shared storage)
    needs: tuple[str, ...] = ()  # keys that must be finished first
    cpus: float = 1.0
    memory_bytes: int = 2 << 30
    label: str = ""  # what a person reads: "cohort Bile_Duct_Cancer/TCGA", "question Bile_Duct_Cancer | Age"


@dataclass(frozen=True)
class TaskOutcome:
    key: str
    status: TaskStatus
    reason: str = ""
    node: str = ""  # the executor's node id (Ray node id; hostname:pid for the pool)
    sandbox_node: str = ""  # node id recorded by the code that started the Docker sandbox
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)  # JSON-safe: cohort ids, partial, ...


@dataclass(frozen=True)
class TaskEvent:
    key: str
    kind: EventKind
    node: str = ""  # "rescheduled": the node the task was lost with
    outcome: TaskOutcome | None = None  # set for "finished"
    at: float = field(default_factory=time.time)
    reason: str = ""  # "rescheduled": why the running attempt was lost (it will start again)


EventCallback = Callable[[TaskEvent], None]


class Executor(Protocol):
    """Runs a batch's tasks honouring `needs` (module docstring); returns every task's outcome."""

    def run(self, tasks: Sequence[BatchTask], on_event: EventCallback) -> dict[str, TaskOutcome]: ...


def local_node_id() -> str:
    """This process's node id when no cluster names one: hostname:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def failed_outcome(task: BatchTask, reason: str, node: str = "", seconds: float = 0.0) -> TaskOutcome:
    """The outcome of a task that could not run to its end (executors use it for crashes)."""
    return TaskOutcome(key=task.key, status="failed", reason=reason, node=node, seconds=seconds)


def run_batch_task(task: BatchTask, node: str) -> TaskOutcome:
    """Run one task in this process (any process, any node with the shared storage) and return its
    outcome; an exception inside becomes a failed outcome that says what went wrong."""
    from genoteam.batch.work import run_task  # the engines: imported in the worker, not the driver

    return run_task(task, node)


def order_check(tasks: Sequence[BatchTask]) -> None:
    """Refuse a task list with a duplicate key or a dependency cycle (an executor would hang)."""
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate task keys in the batch")
    needs = {t.key: [n for n in t.needs if n in set(keys)] for t in tasks}
    state: dict[str, int] = {}

    def visit(key: str) -> None:
        stack = [(key, iter(needs[key]))]
        state[key] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                raise ValueError(f"dependency cycle through task {child[:12]}")
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(needs[child])))

    for key in keys:
        if key not in state:
            visit(key)
