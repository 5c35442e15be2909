"""A batch whose driver is stopped mid-run: kill -9 then --resume reruns nothing that had finished
and reruns what was running; Ctrl-C stops at once and says how to go on; in both cases no worker
outlives the driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.batch.conftest import N_COHORTS, N_QUESTIONS, batch_argv, run_cli, states
from tests.conftest import PROJECT_ROOT


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(p) for p in text.split()]
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _all_gone(pids: list[int], seconds: float = 10) -> bool:
    gone_by = time.monotonic() + seconds
    while time.monotonic() < gone_by and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return not any(_alive(p) for p in pids)


def _start_until_mid_run(corpus, output: Path, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """The batch CLI, returned once at least one task has finished and another is running."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    argv = batch_argv(corpus, output)
    driver = subprocess.Popen(
        argv, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=stderr, text=True
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and driver.poll() is None:
        snapshot = states(output) if (output / "state").is_dir() else {}
        finished = [s for s in snapshot.values() if s["status"] != "running"]
        running = [s for s in snapshot.values() if s["status"] == "running"]
        if finished and running:
            break
        time.sleep(0.05)
    assert driver.poll() is None, "the batch ended before it could be stopped mid-run"
    return driver


def test_kill_9_mid_batch_then_resume_reruns_nothing_finished(corpus, tmp_path):
    output = tmp_path / "batch"
    driver = _start_until_mid_run(corpus, output)
    workers = _children(driver.pid)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    snapshot = states(output)  # as the driver left it
    finished = {label: s for label, s in snapshot.items() if s["status"] != "running"}
    interrupted = {label for label, s in snapshot.items() if s["status"] == "running"}
    assert finished and interrupted
    assert workers, "the pool's workers were not found"
    assert _all_gone(workers), "a worker outlived the killed driver"

    resumed = run_cli(batch_argv(corpus, output, "--resume"))
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    after = states(output)
    for label, state in finished.items():
        assert after[label] == state, f"{label} ran again"
    for label in interrupted:
        assert after[label]["status"] != "running" and after[label]["attempts"] == 2, label
    total = N_COHORTS + N_QUESTIONS
    assert f"this run: {total - len(finished)} task(s)" in resumed.stdout
    summary = json.loads((output / "summary.json").read_text())
    assert summary["questions"]["not_run"] == 0 and summary["questions"]["failed"] == 0


def test_ctrl_c_stops_at_once_and_says_how_to_go_on(corpus, tmp_path):
    output = tmp_path / "batch"
    driver = _start_until_mid_run(corpus, output, stderr=subprocess.PIPE)
    workers = _children(driver.pid)
    stopped = time.monotonic()
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130, err[-2000:]
    assert time.monotonic() - stopped < 20  # the running tasks are not waited for
    assert "interrupted" in err and "--resume" in err
    assert _all_gone(workers, 5), "a worker outlived the interrupted driver"
    summary = json.loads((output / "summary.json").read_text())
    assert summary["interrupted"] is True
    unfinished = [s for s in states(output).values() if s["status"] == "running"]
    never_started = N_COHORTS + N_QUESTIONS - len(states(output))
    not_run = summary["cohorts"]["not_run"] + summary["questions"]["not_run"]
    assert not_run == len(unfinished) + never_started > 0  # what did not finish is never counted as done


def _pool_workers(driver_pid: int) -> list[int]:
    """The pool's worker processes (spawned interpreters, not multiprocessing's resource tracker)."""
    found = []
    for pid in _children(driver_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found.append(pid)
    return found


def test_a_worker_killed_mid_task_has_its_task_run_again(corpus, tmp_path):
    """A worker that dies (the kernel's OOM killer, an operator) breaks the pool: the tasks that
    were running start again in a new pool, and the batch ends complete."""
    output = tmp_path / "batch"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    driver = subprocess.Popen(
        batch_argv(corpus, output),
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    victim = None
    while time.monotonic() < deadline and driver.poll() is None and victim is None:
        running = (
            [s for s in states(output).values() if s["status"] == "running"]
            if (output / "state").is_dir()
            else []
        )
        workers = _pool_workers(driver.pid)
        if running and workers:
            victim = workers[0]
        time.sleep(0.05)
    assert victim is not None, "no worker was seen running a task"
    os.kill(victim, signal.SIGKILL)
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, out[-2000:] + err[-2000:]
    after = states(output)
    assert all(s["status"] != "running" for s in after.values())
    again = [s for s in after.values() if s["attempts"] == 2]
    assert again, "no task was run again"
    assert all(s["lost"] and "worker process of the pool died" in s["lost"][0]["reason"] for s in again)
    assert "rescheduled: " in err  # said live, as it happened
    summary = json.loads((output / "summary.json").read_text())
    assert summary["questions"]["failed"] == summary["cohorts"]["failed"] == 0
