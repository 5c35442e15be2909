"""`genoteam batch` on Ray, as a user runs it (the console command in a subprocess), against a real
Ray cluster of two nodes on loopback that the tests start and stop (tests/batch/ray_cluster.py),
and against a local Ray instance and the process pool of a Python where Ray cannot be imported.

The batch is `genoteam synth --genotex-like --questions 20`: 20 questions over 21 cohorts (some
unusable, of several kinds). On the cluster the team engine runs every
piece of analysis code in the Docker sandbox, so each sandbox's start can be checked: while the
batch runs, a watcher reads every new sandbox container's labels and checks that the process that
started it (its owner label) descends from the raylet of the node its genoteam.node label names,
which is the node Ray reports for the task.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from genoteam.sandbox import lifecycle
from genoteam.sandbox.pool import SLOTS_DIR_ENV, node_pool_env
from tests.batch.conftest import Corpus, batch_command, states
from tests.batch.ray_cluster import LOOPBACK, LoopbackCluster, ray_env
from tests.conftest import PROJECT_ROOT
from tests.prerequisites import skip_or_fail_in_ci

pytestmark = [pytest.mark.ray, pytest.mark.slow]

if importlib.util.find_spec("ray") is None:
    skip_or_fail_in_ci("Ray is not installed: pip install 'genoteam[ray]' (or run scripts/setup.d/35-ray.sh)")

N_QUESTIONS = 20
# the node-kill batch: one trait's questions over its four GEO series (7 tasks), so that node B
# has work when it is killed and the rest finishes on node A alone within a minute
KILL_QUESTIONS = "Atopic_Dermatitis"
NO_RAY = (
    "import sys\n"
    "sys.modules['ray'] = None  # `import ray` fails and find_spec('ray') is None: Ray is not installed\n"
    "from genoteam.cli import main\n"
    "sys.exit(main())\n"
)


@pytest.fixture(scope="module")
def corpus20(tmp_path_factory) -> Corpus:
    """`genoteam synth --genotex-like --questions 20`: 20 questions over 21 cohorts, some unusable."""
    root = tmp_path_factory.mktemp("corpus20")
    root.chmod(0o755)  # the task file's folder is mounted into the sandbox, whose user is not root
    made = run(
        [
            sys.executable,
            "-m",
            "genoteam",
            "synth",
            "--genotex-like",
            "--output",
            str(root / "c"),
            "--questions",
            str(N_QUESTIONS),
        ],
        cli_env(),
    )
    assert made.returncode == 0, made.stderr[-3000:]
    corpus = Corpus(root / "c" / "input", root / "c" / "task_info.json", {})
    info = json.loads(corpus.task_info.read_text())
    assert sum(1 + len(v["conditions"]) for v in info.values()) == N_QUESTIONS
    return corpus


def n_tasks(output: Path) -> int:
    return len(json.loads((output / "plan.json").read_text())["tasks"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[LoopbackCluster]:
    """Two Ray nodes on 127.0.0.1 (1 CPU each); always stopped, also when a test fails."""
    started = LoopbackCluster(tmp_path_factory.mktemp("ray"))
    try:
        yield started.start()
    finally:
        started.stop()
        for node in started.nodes.values():  # the nodes' sandbox slot folders (lock files only)
            if node.node_id:
                shutil.rmtree(node_pool_env(node.node_id, started.cpus)[SLOTS_DIR_ENV], ignore_errors=True)


def cli_env(cluster: LoopbackCluster | None = None) -> dict[str, str]:
    env = {**(cluster.env() if cluster else ray_env()), "PYTHONPATH": str(PROJECT_ROOT)}
    if cluster is not None:
        env["RAY_ADDRESS"] = cluster.address  # `--cluster auto` finds it there
    else:
        for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
            env.pop(name, None)
    return env


def run(argv: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=PROJECT_ROOT)
    return done


def layout_files(output: Path) -> dict[str, bytes]:
    """Every file of the batch's GenoTEX layout (what the batch answers), by relative path."""
    return {
        str(path.relative_to(output)): path.read_bytes()
        for folder in ("preprocess", "regress")
        for path in sorted((output / folder).rglob("*"))
        if path.is_file()
    }


def outcomes(output: Path) -> dict[str, tuple[str, str]]:
    return {label: (s["status"], s.get("reason", "")) for label, s in states(output).items()}


class SandboxWatcher:
    """Reads every new sandbox container of the cluster's nodes while a batch runs and checks, at
    once (the owner runs only while its task does), that its owner process descends from the
    raylet of the node its genoteam.node label names. `on_node` is called with each new one."""

    def __init__(self, docker_engine, cluster: LoopbackCluster, on_new=None) -> None:
        self.docker, self.cluster, self.on_new = docker_engine, cluster, on_new
        self.seen: dict[str, dict[str, str]] = {}  # container id -> labels
        self.wrong: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> SandboxWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        ids = {node.node_id for node in self.cluster.nodes.values()}
        while not self._stop.is_set():
            # the low-level listing: one call, labels included (a container may vanish meanwhile)
            for container in self.docker.api.containers(all=True, filters={"label": "genoteam.sandbox=1"}):
                labels = container.get("Labels") or {}
                if container["Id"] in self.seen or labels.get(lifecycle.LABEL_NODE) not in ids:
                    continue
                self.seen[container["Id"]] = labels
                self._check(container["Names"][0], labels)
                if self.on_new:
                    self.on_new(labels)
            self._stop.wait(0.2)

    def _check(self, name: str, labels: dict[str, str]) -> None:
        node = self.cluster.node_of(labels[lifecycle.LABEL_NODE])
        _host, pid, started = labels[lifecycle.LABEL_OWNER].split("/")
        if node.killed:
            return  # the node is gone with its processes: nothing left to check
        if str(lifecycle.process_start_time(int(pid))) != started or not node.is_ancestor_of(int(pid)):
            self.wrong.append(f"{name}: labelled {node.name}, started by pid {pid} which is not of that node")

    def nodes_seen(self) -> set[str]:
        return {labels[lifecycle.LABEL_NODE] for labels in self.seen.values()}


def assert_sandboxes_on_their_nodes(output: Path, cluster: LoopbackCluster) -> dict[str, dict]:
    """Every task ran on a node of the cluster and each one that ran code started its sandbox(es)
    there; the tasks without a sandbox are the questions whose cohorts hold no usable data."""
    found = states(output)
    ids = {node.node_id for node in cluster.nodes.values()}
    for label, state in found.items():
        assert state["node"] in ids, (label, state["node"])
        if state["sandbox_node"]:
            assert state["sandbox_node"] == state["node"], label
        else:
            assert state["kind"] == "question" and state["status"] == "insufficient_data", (label, state)
    assert sum(bool(s["sandbox_node"]) for s in found.values()) > len(found) // 2
    return found


# ---------------------------------------------------------------------------- local Ray and no Ray


def test_local_ray_and_the_pool_without_ray_give_identical_outputs(corpus20, tmp_path):
    """`--cluster local` (a local Ray instance) and the same command in a Python where Ray cannot be
    imported (the process pool, after a message saying how to install the extra): same files."""
    with_ray, without = tmp_path / "local-ray", tmp_path / "no-ray"
    env = cli_env()
    local = run(batch_command(corpus20, with_ray, "--engine", "reference", "--cluster", "local"), env)
    assert local.returncode == 0, local.stderr[-3000:]
    pool = run(
        batch_command(corpus20, without, "--engine", "reference", python=[sys.executable, "-c", NO_RAY]), env
    )
    assert pool.returncode == 0, pool.stderr[-3000:]
    assert "Ray is not installed" in pool.stderr and "genoteam[ray]" in pool.stderr
    ran_on = {json.loads((d / "summary.json").read_text())["run"]["executor"] for d in (with_ray, without)}
    assert any("local Ray instance" in e for e in ran_on) and any("process pool" in e for e in ran_on), ran_on

    ours, theirs = layout_files(with_ray), layout_files(without)
    assert sorted(ours) == sorted(theirs)
    assert sum(name.startswith("regress/") for name in ours) >= N_QUESTIONS
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert outcomes(with_ray) == outcomes(without)
    assert len(outcomes(with_ray)) == n_tasks(with_ray) > N_QUESTIONS


# ---------------------------------------------------------------------------- the two-node cluster


def test_the_cluster_listens_on_loopback_only(cluster):
    addresses = cluster.listening_addresses()
    assert addresses and addresses <= {LOOPBACK, f"::ffff:{LOOPBACK}"}, addresses
    assert len({node.node_id for node in cluster.nodes.values()}) == 2


TOO_BIG = """
import json, sys
from genoteam.batch.executor import BatchTask
from genoteam.batch.ray_executor import RayExecutor
task = BatchTask(key="k" * 64, kind="cohort", payload={}, cpus=1.0, memory_bytes=1 << 50, label="huge")
events = []
outcomes = RayExecutor("auto").run([task], events.append)
print(json.dumps({"status": outcomes[task.key].status, "reason": outcomes[task.key].reason,
                  "events": [e.kind for e in events]}))
"""


def test_a_task_no_node_can_hold_fails_at_once_saying_why(cluster):
    """A task asking for 1 PiB of memory would wait for ever in Ray's queue: it fails instead."""
    done = run([sys.executable, "-c", TOO_BIG], cli_env(cluster), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "failed" and result["events"] == ["finished"], result
    assert "no node of the cluster has that much" in result["reason"] and "4096 MiB" in result["reason"], (
        result
    )


@pytest.mark.docker
def test_every_sandbox_starts_on_the_node_that_runs_its_task(cluster, corpus20, docker_engine, tmp_path):
    output = tmp_path / "batch"
    with SandboxWatcher(docker_engine, cluster) as watcher:
        done = run(batch_command(corpus20, output, "--engine", "team", "--cluster", "auto"), cli_env(cluster))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["questions"]["total"] == N_QUESTIONS and summary["questions"]["failed"] == 0
    assert "2 node(s)" in summary["run"]["executor"], summary["run"]

    found = assert_sandboxes_on_their_nodes(output, cluster)
    both = {node.node_id for node in cluster.nodes.values()}
    assert {s["node"] for s in found.values()} == both  # Ray used both nodes
    assert watcher.wrong == []
    assert watcher.nodes_seen() == both and len(watcher.seen) >= n_tasks(output)
    for node in cluster.nodes.values():  # each node's own sandbox pool, one slot per CPU (1 here)
        slots = Path(node_pool_env(node.node_id, cluster.cpus)[SLOTS_DIR_ENV])
        assert sorted(p.name for p in slots.iterdir()) == ["slot-0.lock"], node.name


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.1)


def _finished(output: Path) -> dict[str, dict]:
    if not (output / "state").is_dir():
        return {}
    return {k: s for k, s in states(output).items() if s["status"] in ("done", "insufficient_data")}


def test_resume_after_the_driver_is_killed_reruns_nothing_that_had_finished(cluster, corpus20, tmp_path):
    output = tmp_path / "batch"
    argv = batch_command(corpus20, output, "--engine", "reference", "--cluster", "auto")
    driver = subprocess.Popen(
        argv,
        env=cli_env(cluster),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: len(_finished(output)) >= 6, 240, "6 finished tasks")
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    before = {
        label: (output / "state").joinpath(f"{s['key'][:16]}.json").read_bytes()
        for label, s in _finished(output).items()
    }
    total = n_tasks(output)
    assert 6 <= len(before) < total, "the driver was killed mid-batch"

    resumed = run(argv + ["--resume"], cli_env(cluster))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["run"]["tasks_skipped_finished"] == len(before)
    assert summary["run"]["tasks_run"] == total - len(before)
    after = states(output)
    for label, text in before.items():  # not run again: its state is the one written before the kill
        assert (output / "state" / f"{after[label]['key'][:16]}.json").read_bytes() == text, label
    assert len(_finished(output)) == total


@pytest.mark.docker
def test_a_killed_node_s_tasks_are_rescheduled_and_the_batch_completes(
    cluster, corpus20, docker_engine, tmp_path
):
    """Node B is killed (all its processes at once) while one of its tasks runs code in a sandbox;
    the tasks it held start again on node A with a "rescheduled" record, the batch completes, and
    --resume then re-runs nothing."""
    output = tmp_path / "batch"
    victim = cluster.nodes["node_b"]
    survivor = cluster.nodes["node_a"]
    kill = threading.Event()

    def on_new(labels: dict[str, str]) -> None:
        if labels[lifecycle.LABEL_NODE] == victim.node_id and not kill.is_set():
            cluster.kill_node(victim.name)
            kill.set()

    argv = batch_command(
        corpus20, output, "--engine", "team", "--cluster", "auto", "--questions", KILL_QUESTIONS
    )
    with SandboxWatcher(docker_engine, cluster, on_new=on_new) as watcher:
        done = run(argv, cli_env(cluster))
    assert kill.is_set(), "no sandbox ever started on node B"
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert watcher.wrong == []

    found = states(output)
    lost = {label: s["lost"] for label, s in found.items() if s.get("lost")}
    assert lost, "the task running on node B was not rescheduled"
    for label, records in lost.items():
        assert [r["node"] for r in records] == [victim.node_id], label
        assert "NodeDiedError" in records[0]["reason"] or "WorkerCrashedError" in records[0]["reason"], (
            records
        )
        assert found[label]["node"] == survivor.node_id and found[label]["status"] != "failed", label
    assert "rescheduled" in done.stderr  # the user is told as it happens
    assert_sandboxes_on_their_nodes(output, cluster)
    leftovers = docker_engine.containers.list(
        all=True, filters={"label": f"{lifecycle.LABEL_NODE}={victim.node_id}"}
    )
    assert leftovers == [], "the lost attempt's container was not removed"

    before = {p.name: p.read_bytes() for p in (output / "state").glob("*.json")}
    resumed = run(argv + ["--resume"], cli_env(cluster))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((output / "summary.json").read_text())["run"]["tasks_run"] == 0
    assert {p.name: p.read_bytes() for p in (output / "state").glob("*.json")} == before
