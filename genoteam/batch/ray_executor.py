"""The Ray executor: Ray schedules the batch's tasks, genoteam runs them (contract: executor.py).

Each BatchTask is one Ray task asking for the task's CPUs and memory. The Ray worker that Ray
picks calls run_batch_task itself, so the task's Docker sandbox is started by that node's own
Docker engine and labelled with that node's id (sandbox/lifecycle.py); Ray's container runtime is
not used. Every process of a node takes sandbox slots from one pool of its own, sized by the
node's CPUs (sandbox/pool.py `node_pool_env`).

Why a streaming Ray task: its first value is the node id, sent the moment the task starts there,
so the "started" event (and the batch's "running" state) is true and names the node; the second
value is the outcome. Ray Client (`ray://`) has no streaming tasks: there a task is one value,
at most as many are submitted as the cluster has CPUs (so a submitted task is a running one),
and its node is known from its outcome.

A task whose node or worker dies is lost, not failed: Ray's own retries are off, so the executor
sees each loss, emits a "rescheduled" event naming the node and the error, and submits the task
again (on any node alive), up to MAX_LOST times; then it fails with that reason. A task asking
for more CPUs or memory than any node has fails at once with what the largest node offers,
instead of waiting for ever.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from genoteam.batch.executor import (
    BatchTask,
    EventCallback,
    TaskEvent,
    TaskOutcome,
    failed_outcome,
    order_check,
    run_batch_task,
)
from genoteam.batch.ray_cluster import alive_nodes, connected
from genoteam.toolkit.errors import GenoteamError

MAX_LOST = 3  # a task lost with its node or worker this many times is failed
WAIT_S = 1.0  # how often the driver looks up from waiting (Ctrl-C, a cluster that went away)
# Ray's errors for an attempt lost with its node or worker (ObjectLostError: and its subclasses)
LOST_ERRORS = ("NodeDiedError", "WorkerCrashedError", "LocalRayletDiedError", "ObjectLostError")


# ---------------------------------------------------------------- what runs on the node


def _prepare_node(node: str) -> None:
    """Once per worker process: this node's sandbox pool, and its containers left by dead owners."""
    from genoteam.sandbox.pool import node_pool_env

    if os.environ.get("GENOTEAM_NODE_PREPARED") == node:
        return
    cpus = alive_nodes().get(node, {}).get("CPU", 1.0)
    for name, value in node_pool_env(node, cpus).items():
        os.environ.setdefault(name, value)  # a node's own setting wins
    os.environ["GENOTEAM_NODE_PREPARED"] = node


def _remove_leftovers() -> None:
    """A lost attempt's container may still exist (its owner died with the node or worker)."""
    from genoteam.sandbox import lifecycle
    from genoteam.sandbox.docker_backend import docker_client, engine_answers

    if engine_answers():
        lifecycle.remove_leftovers(docker_client(timeout_s=30))


def _run_here(task: BatchTask, attempt: int, node: str) -> TaskOutcome:
    if attempt > 1:
        _remove_leftovers()
    return run_batch_task(task, node)


def run_on_node(task: BatchTask, attempt: int) -> Iterator[Any]:
    """The Ray task: say where it started, then run the batch task here and yield its outcome."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    _prepare_node(node)
    yield node
    yield _run_here(task, attempt, node)


def run_on_node_whole(task: BatchTask, attempt: int) -> TaskOutcome:
    """The same as one value, for Ray Client (which has no streaming tasks): the node is known
    from the outcome only."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    _prepare_node(node)
    return _run_here(task, attempt, node)


# ---------------------------------------------------------------- the driver


@dataclass
class _Attempt:
    task: BatchTask
    number: int
    node: str = ""  # set when the task says it started
    started: float = 0.0


def largest_node_misses(task: BatchTask, nodes: dict[str, dict[str, float]]) -> str:
    """Why no alive node can ever run `task` ("" when one can)."""
    for resources in nodes.values():
        if resources.get("CPU", 0.0) >= task.cpus and resources.get("memory", 0.0) >= task.memory_bytes:
            return ""
    best_cpu = max((r.get("CPU", 0.0) for r in nodes.values()), default=0.0)
    best_memory = max((r.get("memory", 0.0) for r in nodes.values()), default=0.0)
    return (
        f"it asks for {task.cpus:g} CPU(s) and {task.memory_bytes >> 20} MiB of memory, and no node of the "
        f"cluster has that much (at most {best_cpu:g} CPU(s), {int(best_memory) >> 20} MiB); "
        "add a larger node or lower the request"
    )


class RayExecutor:
    """Runs a batch on Ray (`cluster`: local, auto or ray://HOST:PORT; ray_cluster.py); at most
    `max_parallel` tasks submitted at once (default: as many as the cluster's resources admit)."""

    name = "ray"

    def __init__(self, cluster: str = "local", max_parallel: int | None = None) -> None:
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self.cluster = cluster
        self.max_parallel = max_parallel
        self._description = f"Ray ({cluster})"

    def describe(self) -> str:
        return self._description

    def run(self, tasks: Sequence[BatchTask], on_event: EventCallback) -> dict[str, TaskOutcome]:
        order_check(tasks)
        with connected(self.cluster) as info:
            self._description = f"Ray executor on {info.describe()}"
            return _Driver(self, tasks, on_event, streaming=info.kind != "client").run()


class _Driver:
    """One run's scheduling state: tasks wait in plan order until their needs have finished."""

    def __init__(
        self, executor: RayExecutor, tasks: Sequence[BatchTask], on_event: EventCallback, streaming: bool
    ) -> None:
        import ray

        self.ray = ray
        self.streaming = streaming
        self.remote = ray.remote(run_on_node if streaming else run_on_node_whole)
        self.executor = executor
        self.on_event = on_event
        self.keys = {t.key for t in tasks}
        self.waiting = list(tasks)
        self.outcomes: dict[str, TaskOutcome] = {}
        self.flying: dict[Any, _Attempt] = {}  # streaming ref -> attempt
        self.lost: dict[str, int] = {}
        self.lost_types = tuple(getattr(ray.exceptions, n) for n in LOST_ERRORS if hasattr(ray.exceptions, n))

    def run(self) -> dict[str, TaskOutcome]:
        try:
            while self.waiting or self.flying:
                self._submit_ready()
                if not self.flying:
                    if self.waiting:
                        raise RuntimeError("no task can start: a need is neither finished nor runnable")
                    break
                ready, _ = self.ray.wait(list(self.flying), num_returns=1, timeout=WAIT_S)
                for stream in ready:
                    self._advance(stream)
        finally:
            for stream in list(self.flying):  # the driver stops (Ctrl-C, an error): so do its tasks
                try:
                    self.ray.cancel(stream, force=True)
                except Exception:  # already finished or gone with its node: nothing to stop
                    pass
        return self.outcomes

    def _limit(self, nodes: dict[str, dict[str, float]]) -> int | None:
        """At most this many tasks submitted at once: --max-parallel, and without streaming (Ray
        Client) the cluster's CPUs, so that a submitted task is a running one."""
        limits = [self.executor.max_parallel] if self.executor.max_parallel else []
        if not self.streaming:
            limits.append(max(1, int(sum(r.get("CPU", 0.0) for r in nodes.values()))))
        return min(limits) if limits else None

    def _submit_ready(self) -> None:
        nodes: dict[str, dict[str, float]] | None = None
        for task in list(self.waiting):
            if any(n in self.keys and n not in self.outcomes for n in task.needs):
                continue
            nodes = alive_nodes() if nodes is None else nodes
            limit = self._limit(nodes)
            if limit is not None and len(self.flying) >= limit:
                return
            self.waiting.remove(task)
            if not nodes:
                raise GenoteamError(
                    "the Ray cluster has no node alive",
                    "start the cluster's nodes again, then run with --resume",
                )
            why = largest_node_misses(task, nodes)
            if why:
                self._finish(task, failed_outcome(task, f"no node can run it: {why}"))
                continue
            self._submit(task, self.lost.get(task.key, 0) + 1)

    def _submit(self, task: BatchTask, number: int) -> None:
        stream = self.remote.options(
            num_cpus=task.cpus,
            memory=task.memory_bytes,
            num_returns="streaming" if self.streaming else 1,
            max_retries=0,  # a lost attempt comes back here, to be re-submitted with an event
            retry_exceptions=False,
        ).remote(task, number)
        self.flying[stream] = _Attempt(task, number)
        if not self.streaming:  # started now, on a node Ray names only with the outcome
            self.flying[stream].started = time.monotonic()
            self.on_event(TaskEvent(key=task.key, kind="started"))

    def _advance(self, stream: Any) -> None:
        attempt = self.flying[stream]
        try:
            value = self.ray.get(next(stream) if self.streaming else stream)
        except StopIteration:
            self.flying.pop(stream)
            self._finish(attempt.task, self._crashed(attempt, "the Ray task ended without an outcome"))
            return
        except self.ray.exceptions.RayError as error:
            self.flying.pop(stream)
            self._lost_or_failed(attempt, error)
            return
        if isinstance(value, TaskOutcome):
            self.flying.pop(stream)
            self._finish(attempt.task, value)
            return
        attempt.node, attempt.started = str(value), time.monotonic()
        self.on_event(TaskEvent(key=attempt.task.key, kind="started", node=attempt.node))

    def _lost_or_failed(self, attempt: _Attempt, error: Exception) -> None:
        kind = type(error).__name__
        message = str(error).strip().splitlines()[0] if str(error).strip() else kind
        task = attempt.task
        if not isinstance(error, self.lost_types):
            self._finish(task, self._crashed(attempt, f"the Ray task raised {kind}: {message}"))
            return
        self.lost[task.key] = self.lost.get(task.key, 0) + 1
        where = attempt.node or "a node"
        if self.lost[task.key] >= MAX_LOST:
            reason = f"lost {self.lost[task.key]} times with its node or worker (last on {where}: {kind}: {message})"
            self._finish(task, self._crashed(attempt, reason))
            return
        reason = f"{kind}: {message}"
        self.on_event(TaskEvent(key=task.key, kind="rescheduled", node=attempt.node, reason=reason))
        self.waiting.insert(0, task)  # first in line: its dependents wait for it

    def _crashed(self, attempt: _Attempt, reason: str) -> TaskOutcome:
        seconds = time.monotonic() - attempt.started if attempt.started else 0.0
        return failed_outcome(attempt.task, reason, node=attempt.node, seconds=round(seconds, 3))

    def _finish(self, task: BatchTask, outcome: TaskOutcome) -> None:
        self.outcomes[task.key] = outcome
        self.on_event(TaskEvent(key=task.key, kind="finished", node=outcome.node, outcome=outcome))
