"""Hostile code through the real team path: a stand-in model on 127.0.0.1 writes the code (model-first
authoring), the MCP server runs the job in a worker, the team runs the code in Docker sandboxes.

Each test plants one kind of attack in the model's first reply for a unit of the TCGA task (a tiny
synthetic cohort), and checks that it is contained, that the job is reported honestly, that nothing
outside the job was written, and that every later call is served.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from genoteam.sandbox import lifecycle
from genoteam.server.jobs import JobStore
from tests.job_polling import finish
from tests.sandbox.hostile import (
    TRAIT,
    attempts,
    complete_result,
    every_call_served,
    hostile_model,
    job_dir,
    provenance,
    run_calls,
    team_config,
    tree_report,
)
from tests.standin_model import Script, ScriptedModelServer

pytestmark = pytest.mark.docker
SECRET = "host secret: nobody outside the host may read or change this\n"


@pytest.fixture(scope="module")
def tiny_input(tmp_path_factory) -> Path:
    from genoteam.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("hostile")
    generate(SynthConfig(n_genes=200, n_samples=20, kind="tcga", seed=11), root / "input")
    return root / "input"


@pytest.fixture()
def victim(tmp_path) -> Path:
    """A root-only host file outside every job: attacks aim their links at it."""
    path = tmp_path / "victim.txt"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


@pytest.fixture()
def hostile_env(monkeypatch, tmp_path, docker_engine, sandbox_image_id):
    """Start the stand-in model with `attacks` and point job workers at it (they inherit env)."""
    servers = []

    def start(attacks: dict[str, str], **env: str) -> Script:
        script = Script(fallback=hostile_model(attacks))
        server = ScriptedModelServer(script).__enter__()
        servers.append(server)
        monkeypatch.setenv("GENOTEAM_CONFIG", str(team_config(tmp_path, server.api_base)))
        monkeypatch.setenv("GENOTEAM_SANDBOX", "docker")
        monkeypatch.setenv("GENOTEAM_SANDBOX_IMAGE", sandbox_image_id)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return script

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def unchanged(victim: Path, before: os.stat_result) -> bool:
    after = victim.stat()
    return victim.read_text() == SECRET and (after.st_mtime_ns, after.st_uid, after.st_mode) == (
        before.st_mtime_ns,
        before.st_uid,
        before.st_mode,
    )


PLANT = """
import json, os
VICTIM = __VICTIM__
planted = {}
for name in ("messages.jsonl", "result.json", "volcano.png", "report.md", "provenance.json", "status.json"):
    try:
        os.symlink(VICTIM, "/work/" + name)
        planted[name] = "link"
    except OSError as error:
        planted[name] = error.strerror
try:
    os.mkfifo("/work/messages.jsonl.fifo")
    planted["fifo at top"] = "made"
except OSError as error:
    planted["fifo at top"] = error.strerror
folder = "/work/preprocess/" + trait
os.makedirs(folder, exist_ok=True)
os.symlink(VICTIM, folder + "/cohort_info.json")  # a name the host reads after the task
os.symlink(VICTIM, folder + "/leak.csv")
os.mkfifo(folder + "/pipe.csv")
with open("/bin/sh", "rb") as source, open(folder + "/suid", "wb") as copy:
    copy.write(source.read())
os.chmod(folder + "/suid", 0o6755)
print("PLANTED", json.dumps(planted))
raise RuntimeError("E" * 50_000_000)
"""
# the last unit does its job, then leaves a link, a FIFO and a setuid file in the cohort's output
LEAVE = """{example}
import os
folder = "/work/preprocess/" + trait
for name in ("leak.csv", "pipe.csv", "suid"):
    if os.path.lexists(folder + "/" + name):
        os.remove(folder + "/" + name)
os.symlink(__VICTIM__, folder + "/leak.csv")
os.mkfifo(folder + "/pipe.csv")
with open(folder + "/suid", "wb") as handle:
    handle.write(b"#!/bin/sh\\nid\\n")
os.chmod(folder + "/suid", 0o6755)
"""


def test_links_fifos_setuid_and_a_huge_error_are_contained_and_copies_drop_them(
    tiny_input, tmp_path, victim, hostile_env
):
    before = victim.stat()
    script = hostile_env(
        {
            "load_cohort": PLANT.replace("__VICTIM__", repr(str(victim))),
            "link_and_assess": LEAVE.replace("__VICTIM__", repr(str(victim))),
        }
    )
    workspace = tmp_path / "ws"

    async def calls(client):
        prep = await client.call_tool(
            "preprocess_cohort", {"trait": TRAIT, "cohort": "TCGA", "wait_seconds": 1}
        )
        prep_job = await finish(client, prep.structured_content)
        stats = await client.call_tool("find_significant_genes", {"trait": TRAIT, "wait_seconds": 1})
        stats_job = await finish(client, stats.structured_content)
        served = await every_call_served(client, stats_job["job_id"])
        page = (
            await client.call_tool("get_result", {"job_id": stats_job["job_id"], "top_k": 5})
        ).structured_content
        return prep_job, stats_job, served, page

    prep_job, stats_job, served, page = run_calls(tiny_input, workspace, calls)
    assert prep_job["state"] == "complete" and prep_job["result_status"] == "preprocessed", prep_job
    assert stats_job["state"] == "complete" and stats_job["result_status"] in {"complete", "partial"}, (
        stats_job
    )
    assert page["total_genes"] >= 1 and len(served["list_jobs"]["jobs"]) == 2
    assert unchanged(victim, before), "a host file outside the jobs was changed"

    # the top of the output folder is not the sandbox's: every plant there failed (read-only)
    record = provenance(workspace, prep_job["job_id"])
    first = attempts(record, "load_cohort")[0]
    assert (
        "PLANTED" in first["output"] and '"link"' not in first["output"] and '"made"' not in first["output"]
    )
    # the 50 MB message is clipped (and says by how much); no record or prompt grows with it
    assert "characters of error message omitted" in first["error"] and len(first["error"]) < 40_000
    prep_out = job_dir(workspace, prep_job["job_id"]) / "output"
    for name in ("provenance.json", "messages.jsonl", "report.md"):
        assert (prep_out / name).stat().st_size < 5_000_000, name
    assert max(len(r.user_text) for r in script.requests) < 2_000_000

    # host records are regular files; what the sandbox left keeps no setuid bit and no host owner
    prep_tree = tree_report(prep_out)
    assert prep_tree["links"] == [f"preprocess/{TRAIT}/leak.csv"] and prep_tree["fifos"] == [
        f"preprocess/{TRAIT}/pipe.csv"
    ]
    assert prep_tree["special_bits"] == []
    assert f"preprocess/{TRAIT}/suid" in prep_tree["sandbox_owned"]
    assert all(
        not p.startswith(("messages", "provenance", "report", "volcano")) for p in prep_tree["sandbox_owned"]
    )

    # the copy into the statistics job dropped the link and the FIFO, and said so
    stats_tree = tree_report(job_dir(workspace, stats_job["job_id"]) / "output")
    assert stats_tree["links"] == [] and stats_tree["fifos"] == [] and stats_tree["special_bits"] == []
    assert "leak.csv (symlink)" in stats_job["message"] and "pipe.csv (FIFO)" in stats_job["message"]
    for path in (job_dir(workspace, stats_job["job_id"]) / "output").rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET.strip() not in path.read_text(errors="replace"), path


async def preprocess_tcga(client) -> dict:
    """Preprocess the tiny TCGA cohort to its end, then check that every read-only call still answers."""
    job = await client.call_tool("preprocess_cohort", {"trait": TRAIT, "cohort": "TCGA", "wait_seconds": 1})
    job = await finish(client, job.structured_content)
    await every_call_served(client, job["job_id"])
    return job


@pytest.mark.parametrize(
    ("flood", "limits", "expected"),
    [
        (
            "with open('/work/preprocess/big', 'wb') as f:\n    for _ in range(4096):\n        f.write(b'x' * (1 << 20))",
            {"GENOTEAM_SANDBOX_DISK_BYTES": "64m"},
            "bytes, more than its quota of 64m",
        ),
        (
            "os.makedirs('/work/preprocess/many', exist_ok=True)\nfor i in range(200_000):\n"
            "    open(f'/work/preprocess/many/{i}', 'w').close()",
            {"GENOTEAM_SANDBOX_DISK_FILES": "2000"},
            "more than 2000 files and folders",
        ),
    ],
    ids=["bytes", "files"],
)
def test_disk_and_inode_floods_stop_with_disk_quota(
    tiny_input, tmp_path, hostile_env, flood, limits, expected
):
    hostile_env({"load_cohort": "import os\n" + flood}, **limits)
    workspace = tmp_path / "ws"

    job = run_calls(tiny_input, workspace, preprocess_tcga)
    record = provenance(workspace, job["job_id"])
    statuses = [a["cell_status"] for a in attempts(record, "load_cohort")]
    assert not statuses or statuses[0] == "disk_quota", statuses
    assert expected in f"{job['error']} {job['message']}" and expected in str(record["tasks"]), job
    work = job_dir(workspace, job["job_id"]) / "output" / "preprocess"
    used = sum(p.lstat().st_size for p in work.rglob("*"))
    count = sum(1 for _ in work.rglob("*"))
    if "BYTES" in next(iter(limits)):
        assert used < (64 << 20) + (512 << 20), f"overshoot too large: {used} bytes"
    else:
        assert count < 2000 + 20_000, f"overshoot too large: {count} files"
    # the job ends failed (its only cohort failed) and says it was the quota; no result claims more
    said = f"{job['error']} {job['message']}"
    assert job["state"] == "failed" and "0 usable cohort(s) of 1" in said and "DiskQuotaExceeded" in said, job


def test_protocol_flood_and_malformed_frames_end_on_time_as_timeout_and_protocol_error(
    tiny_input, tmp_path, hostile_env
):
    flood = "import os\nframe = b'2\\n{}'\nwhile True:\n    os.write(4, frame * 4096)"  # fd 4: the kernel's protocol stream; replies without the request's id
    malformed = "import os\nos.write(4, b'5\\n[1,2]')\nimport time\ntime.sleep(2)\n{example}"
    hostile_env({"load_cohort": flood, "clinical_features": malformed}, GENOTEAM_SANDBOX_CELL_TIMEOUT_S="8")
    workspace = tmp_path / "ws"

    job = run_calls(tiny_input, workspace, preprocess_tcga)
    assert job["state"] == "complete", job
    record = provenance(workspace, job["job_id"])
    flooded = attempts(record, "load_cohort")[0]
    assert flooded["cell_status"] == "timeout", flooded
    assert flooded["duration_s"] < 8 + 10, f"the timeout took {flooded['duration_s']} s (limit 8 s)"
    broken = attempts(record, "clinical_features")[0]
    assert broken["cell_status"] == "protocol_error" and "JSON list" in broken["error"], broken


SLEEP = "import time\ntime.sleep(600)"


def test_the_job_deadline_stops_a_job_that_never_returns(tiny_input, tmp_path, hostile_env, docker_engine):
    hostile_env({"load_cohort": SLEEP}, GENOTEAM_JOB_DEADLINE_S="25")
    workspace = tmp_path / "ws"

    async def calls(client):
        job = await client.call_tool(
            "preprocess_cohort", {"trait": TRAIT, "cohort": "TCGA", "wait_seconds": 1}
        )
        job = await finish(client, job.structured_content, limit_s=120)
        result = await client.call_tool("get_result", {"job_id": job["job_id"]})
        await every_call_served(client, job["job_id"])
        return job, result

    job, result = run_calls(tiny_input, workspace, calls)
    assert job["state"] == "failed" and "wall-clock deadline of 25 s" in job["error"], job
    assert result.is_error and "has no result" in result.content[0].text
    status = JobStore(workspace).get(job["job_id"]).status
    owner = lifecycle.owner_label(status.pid, status.pid_start)
    assert docker_engine.containers.list(all=True, filters={"label": f"genoteam.owner={owner}"}) == []


def test_a_killed_worker_is_interrupted_its_containers_removed_at_server_start(
    tiny_input, tmp_path, hostile_env, docker_engine
):
    hostile_env({"load_cohort": SLEEP})
    workspace = tmp_path / "ws"
    store = JobStore(workspace)

    async def start(client):
        job = (
            await client.call_tool("preprocess_cohort", {"trait": TRAIT, "cohort": "TCGA", "wait_seconds": 1})
        ).structured_content
        with anyio.fail_after(180):  # until the sleeping cell's container runs
            while True:
                status = store.get(job["job_id"]).status
                owner = lifecycle.owner_label(status.pid, status.pid_start) if status.pid else ""
                found = (
                    docker_engine.containers.list(filters={"label": f"genoteam.owner={owner}"})
                    if owner
                    else []
                )
                if found:
                    return job, status, owner
                await anyio.sleep(0.5)

    job, status, owner = run_calls(tiny_input, workspace, start)
    os.killpg(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while lifecycle.is_alive(status.pid, status.pid_start) and time.monotonic() < deadline:
        time.sleep(0.1)
    # a result.json left behind (a worker killed between its two last writes) must not be served
    (job_dir(workspace, job["job_id"]) / "result.json").write_text(complete_result(TRAIT).model_dump_json())

    async def after(client):  # a new server: it removes what the dead worker left
        with anyio.fail_after(30):
            while docker_engine.containers.list(all=True, filters={"label": f"genoteam.owner={owner}"}):
                await anyio.sleep(0.5)
        view = (await client.call_tool("get_job", {"job_id": job["job_id"]})).structured_content
        result = await client.call_tool("get_result", {"job_id": job["job_id"]})
        await every_call_served(client, job["job_id"])
        return view, result

    view, result = run_calls(tiny_input, workspace, after)
    assert view["state"] == "interrupted", view
    assert result.is_error and "interrupted" in result.content[0].text


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        from tests.prerequisites import skip_or_fail_in_ci

        skip_or_fail_in_ci(f"cannot mount a small tmpfs for the full-disk test: {done.stderr.decode()[:200]}")


def test_a_full_workspace_fails_the_job_as_disk_full_and_the_server_answers(
    tiny_input, tmp_path, hostile_env
):
    workspace = tmp_path / "small"
    _mount_tmpfs(workspace, "48m")
    try:
        fill = (
            "try:\n    with open('/work/preprocess/fill', 'wb') as f:\n        while True:\n"
            "            f.write(b'x' * (1 << 20))\nexcept OSError as error:\n    print('full:', error)\n{example}"
        )
        hostile_env(
            {"load_cohort": fill}, GENOTEAM_SANDBOX_DISK_HEADROOM="0", GENOTEAM_SANDBOX_DISK_BYTES="1g"
        )

        async def calls(client):
            job = await client.call_tool(
                "preprocess_cohort", {"trait": TRAIT, "cohort": "TCGA", "wait_seconds": 1}
            )
            job = await finish(client, job.structured_content)
            served = await every_call_served(client, job["job_id"])
            return job, served

        job, served = run_calls(tiny_input, workspace, calls)
        assert job["state"] == "failed" and job["error"].startswith("disk full"), job
        assert served["list_jobs"]["jobs"][0]["state"] == "failed"
    finally:
        subprocess.run(["umount", "-l", str(workspace)], check=False)
