"""A batch whose driver is killed (kill -9) mid-run, then resumed: nothing that had finished runs
again, the tasks that were running are run again, and no worker outlives the driver."""

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


def test_kill_9_mid_batch_then_resume_reruns_nothing_finished(corpus, tmp_path):
    output = tmp_path / "batch"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    driver = subprocess.Popen(
        batch_argv(corpus, output),
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    snapshot: dict[str, dict] = {}
    while time.monotonic() < deadline and driver.poll() is None:
        snapshot = states(output) if (output / "state").is_dir() else {}
        finished = [s for s in snapshot.values() if s["status"] != "running"]
        running = [s for s in snapshot.values() if s["status"] == "running"]
        if finished and running:
            break
        time.sleep(0.05)
    assert driver.poll() is None, "the batch ended before it could be killed mid-run"
    workers = _children(driver.pid)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    snapshot = states(output)  # as the driver left it
    finished = {label: s for label, s in snapshot.items() if s["status"] != "running"}
    interrupted = {label for label, s in snapshot.items() if s["status"] == "running"}
    assert finished and interrupted
    assert workers, "the pool's workers were not found"
    gone_by = time.monotonic() + 10
    while time.monotonic() < gone_by and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), "a worker outlived the killed driver"

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
