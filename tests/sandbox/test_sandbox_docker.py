"""The Docker sandbox against a real engine: persistence, replay, hardening, hostile code, cleanup.

Every test opens real containers from the image built from the current sources. Network checks
only inspect interfaces; nothing here sends traffic anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from genoteam.sandbox.api import CellStatus
from genoteam.sandbox.docker_backend import engine_answers
from genoteam.sandbox.lifecycle import LABEL_JOB, LABEL_NODE, LABEL_OWNER, NODE_ENV
from genoteam.toolkit.errors import GenoteamError
from tests.prerequisites import skip_or_fail_in_ci

pytestmark = pytest.mark.docker
HERE = Path(__file__).resolve().parent

# One clear skip for the whole module on a machine without an engine (a failure in CI).
if not engine_answers():
    skip_or_fail_in_ci(
        "no Docker engine answers: the Docker sandbox tests need one (start dockerd, or run `bash .ci/run`)"
    )


def test_state_persists_across_cells_and_replay_rebuilds_it(open_docker):
    session = open_docker()
    assert session.run_cell("import math\ntotal = 40").ok
    assert session.run_cell("total += 2").ok
    result = session.run_cell("print(total, math.pi > 3)")
    assert result.ok and result.stdout == "42 True\n"

    replay = ["import math\ntotal = 40", "total += 2"]
    results = session.restart(replay=replay)
    assert [r.status for r in results] == [CellStatus.ok, CellStatus.ok]
    assert session.run_cell("print(total)").stdout == "42\n"

    assert session.restart() == []
    fresh = session.run_cell("total")
    assert fresh.status is CellStatus.error and fresh.error_type == "NameError"


def test_replay_stops_at_the_first_failing_cell(open_docker):
    session = open_docker()
    results = session.restart(replay=["a = 1", "b = undefined_name", "c = 3"])
    assert [r.status for r in results] == [CellStatus.ok, CellStatus.error]
    assert results[-1].error_type == "NameError"
    assert "undefined_name" in results[-1].traceback


def test_errors_are_structured_and_the_namespace_survives_them(open_docker):
    session = open_docker()
    session.run_cell("kept = 'yes'")
    result = session.run_cell("def f():\n    return 1 / 0\nf()")
    assert result.status is CellStatus.error
    assert result.error_type == "ZeroDivisionError"
    assert 'File "<cell-2>", line 2, in f' in result.traceback
    assert session.run_cell("print(kept)").stdout == "yes\n"


def test_the_toolkit_and_pinned_packages_are_importable_as_non_root(open_docker, small_limits):
    session = open_docker(limits=dataclasses.replace(small_limits, memory="1g"))
    result = session.run_cell(
        "import os, genoteam.toolkit, numpy, pandas, scipy, sklearn, statsmodels, GEOparse\n"
        "print(os.getuid(), os.getgid(), numpy.__version__, pandas.__version__, genoteam.toolkit.__file__)"
    )
    assert result.ok, result
    uid, gid, numpy_version, pandas_version, toolkit_file = result.stdout.split()
    assert int(uid) != 0 and int(gid) != 0
    assert (numpy_version, pandas_version) == ("2.4.6", "3.1.1")
    assert toolkit_file == "/opt/genoteam/genoteam/toolkit/__init__.py"


def test_the_container_is_hardened_as_configured(open_docker, small_limits):
    session = open_docker()
    host = session.container.attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"])
    assert host["PidsLimit"] == small_limits.pids
    assert host["Memory"] == 256 * 1024 * 1024 == host["MemorySwap"]
    assert host["NanoCpus"] == 1_000_000_000
    assert host["Init"] is True
    assert "/tmp" in host["Tmpfs"]
    labels = session.container.labels
    assert labels["genoteam.job"] == "pytest" and labels["genoteam.session"] == session.session_id
    assert labels["genoteam.owner"].split("/")[1] == str(os.getpid())
    # the kernel's own view: no capabilities, no new privileges
    status = session.run_cell("print(open('/proc/self/status').read())").stdout
    assert re.search(r"^CapEff:\s+0+$", status, re.M)
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)


def test_only_the_loopback_interface_exists(open_docker):
    session = open_docker()
    result = session.run_cell(
        "import os\nprint(sorted(os.listdir('/sys/class/net')))\n"
        "print([line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:]])"
    )
    assert result.ok, result
    assert result.stdout == "['lo']\n['lo']\n"


def test_writing_outside_the_work_folder_fails(open_docker, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "cohort.csv").write_text("a,b\n1,2\n")
    session = open_docker(inputs={"geo": inputs})
    assert session.work_path == "/work" and session.input_mounts == {"geo": "/input/geo"}
    code = (
        "import os\nresults = {}\n"
        "for path in ['/etc/evil', '/usr/lib/evil', '/opt/genoteam/evil', '/input/geo/evil', '/input/geo/cohort.csv', '/evil']:\n"
        "    try:\n"
        "        open(path, 'a').write('x')\n"
        "        results[path] = 'written'\n"
        "    except OSError as error:\n"
        "        results[path] = error.errno\n"
        "open('/work/out.txt', 'w').write('fine')\n"
        "open('/tmp/scratch.txt', 'w').write('fine')\n"
        "print(sorted(set(results.values())))\n"
        "print(open('/input/geo/cohort.csv').read())"
    )
    result = session.run_cell(code)
    assert result.ok, result
    errnos, content = result.stdout.split("\n", 1)
    assert "written" not in errnos  # every attempt outside /work and /tmp failed
    assert content.startswith("a,b\n1,2")
    assert (Path(session.spec.work_dir) / "out.txt").read_text() == "fine"
    assert (inputs / "cohort.csv").read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in inputs.iterdir()) == ["cohort.csv"]


def test_host_files_outside_the_mounts_are_not_readable(open_docker, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host-only-secret-4711")
    session = open_docker()
    code = (
        f"import os\nfor path in [{str(secret)!r}, {str(Path.cwd())!r}, '/root', '/etc/shadow']:\n"
        "    try:\n"
        "        print(path, 'exists' if os.path.exists(path) else 'absent', end=' ')\n"
        "        print(open(path).read()[:50] if os.path.isfile(path) else '')\n"
        "    except OSError as error:\n"
        "        print(type(error).__name__)\n"
    )
    result = session.run_cell(code)
    assert result.ok, result
    assert "host-only-secret-4711" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{secret} absent")
    assert lines[1].startswith(f"{Path.cwd()} absent")
    assert "PermissionError" in lines[3] or "absent" in lines[3]


def test_host_environment_variables_are_invisible(open_docker, monkeypatch):
    fake_key = "sk-genoteam-test-not-a-real-key-93f1"
    monkeypatch.setenv("OPENAI_API_KEY", fake_key)
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake_key)
    session = open_docker()
    code = (
        "import os, glob\nseen = [k for k, v in os.environ.items() if 'API_KEY' in k or 'sk-genoteam' in v]\n"
        "for path in glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n"
        "        if b'sk-genoteam' in open(path, 'rb').read():\n"
        "            seen.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "print(seen, len(os.environ))"
    )
    result = session.run_cell(code)
    assert result.ok, result
    assert result.stdout.startswith("[] ")
    assert fake_key not in result.stdout


def test_a_fork_bomb_hits_the_pids_limit(open_docker):
    session = open_docker()
    started = time.monotonic()
    result = session.run_cell("import os\nwhile True:\n    os.fork()", timeout_s=30)
    assert time.monotonic() - started < 20
    assert result.status is CellStatus.killed, result
    assert result.error_type == "PidsLimitReached"
    assert "process limit (64" in result.error_message and "BlockingIOError" in result.error_message
    assert not session.alive
    # the bomb is gone with its container; a restart gives a working kernel again
    assert [r.status for r in session.restart(replay=["x = 1"])] == [CellStatus.ok]
    pids = session.run_cell(
        "import os\nfiles = ['/sys/fs/cgroup/pids/pids.current', '/sys/fs/cgroup/pids.current']  # cgroup v1, v2\n"
        "print(open(next(f for f in files if os.path.exists(f))).read())"
    ).stdout
    assert int(pids) <= 8  # init, the kernel and its two output threads


def test_a_memory_bomb_ends_as_out_of_memory(open_docker):
    session = open_docker()
    result = session.run_cell("chunks = []\nwhile True:\n    chunks.append(b'x' * (16 << 20))", timeout_s=60)
    assert result.status is CellStatus.out_of_memory, result
    assert "256m" in result.error_message
    assert not session.alive
    assert session.run_cell("1").error_type == "KernelNotRunning"
    assert session.restart(replay=["y = 2"])[0].ok


def test_a_memory_bomb_in_a_subprocess_is_reported_and_the_kernel_survives(open_docker):
    session = open_docker()
    session.run_cell("kept = 'namespace'")
    code = "import subprocess\nchild = subprocess.run(['python3', '-c', 'b = b\"x\" * (1 << 30)'])\nprint(child.returncode)"
    result = session.run_cell(code, timeout_s=60)
    assert result.status is CellStatus.out_of_memory, result
    assert result.stdout == "-9\n"
    assert "256m" in result.error_message
    assert session.alive and session.run_cell("print(kept)").stdout == "namespace\n"


def test_a_kernel_killed_otherwise_is_killed_not_out_of_memory(open_docker):
    session = open_docker()
    started = time.monotonic()
    result = session.run_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert result.status is CellStatus.killed, result
    assert result.error_type == "KernelDied" and "exit code 137" in result.error_message
    assert time.monotonic() - started < 5


def test_an_endless_loop_ends_as_timeout_within_the_limit(open_docker):
    session = open_docker()
    session.run_cell("before = 1")
    started = time.monotonic()
    result = session.run_cell("while True:\n    pass", timeout_s=2.0)
    elapsed = time.monotonic() - started
    assert result.status is CellStatus.timeout
    assert 2.0 <= elapsed < 2.0 + 2.0, elapsed
    assert "2s" in result.error_message
    # the container is gone (killed for real), and a restart makes the session usable again
    assert session.container is None
    assert session.restart(replay=["before = 1"])[0].ok
    assert session.run_cell("print(before)").stdout == "1\n"


def test_an_endless_loop_in_a_subprocess_is_killed_too(open_docker):
    session = open_docker()
    result = session.run_cell(
        "import subprocess\nsubprocess.run(['python3', '-c', 'while True: pass'])", timeout_s=1.5
    )
    assert result.status is CellStatus.timeout
    assert session.container is None


def test_a_hundred_megabytes_of_output_are_truncated_with_a_marker(open_docker, small_limits):
    session = open_docker()
    code = (
        "import sys, os\nline = 'y' * 999 + '\\n'\n"
        "for _ in range(100_000):\n    sys.stdout.write(line)\n"
        "os.write(2, b'e' * (5 << 20))"
    )
    started = time.monotonic()
    result = session.run_cell(code, timeout_s=120)
    assert result.ok, result.error_message
    assert time.monotonic() - started < 60
    assert result.stdout_truncated and result.stderr_truncated
    limit = small_limits.output_limit_bytes
    assert len(result.stdout) < limit + 200 and len(result.stderr) < limit + 200
    marker = re.search(
        r"\[\.\.\. genoteam: (\d+) bytes of stdout omitted \(limit (\d+) bytes\) \.\.\.\]", result.stdout
    )
    assert marker, result.stdout[limit - 100 : limit + 200]
    assert int(marker.group(1)) == 100_000_000 - limit and int(marker.group(2)) == limit
    assert result.stdout.startswith("y" * 999 + "\n") and result.stdout.endswith("y\n")
    small = session.run_cell("print('small')")
    assert small.stdout == "small\n" and not small.stdout_truncated


def test_files_go_in_and_out(open_docker, tmp_path):
    session = open_docker()
    source = tmp_path / "in.txt"
    source.write_text("payload")
    session.put_file(source, "/work/sub/in.txt")
    session.put_file(source, "/tmp/in.txt")  # tmpfs: travels through the kernel
    result = session.run_cell(
        "print(open('/work/sub/in.txt').read(), open('/tmp/in.txt').read())\n"
        "open('/tmp/out.txt', 'w').write('from tmp')\nopen('/work/out.txt', 'w').write('from work')\n"
        "import os\nos.symlink('/etc/passwd', '/work/escape')"
    )
    assert result.ok and result.stdout == "payload payload\n", result
    session.get_file("/tmp/out.txt", tmp_path / "a.txt")
    session.get_file("/work/out.txt", tmp_path / "b.txt")
    assert (tmp_path / "a.txt").read_text() == "from tmp"
    assert (tmp_path / "b.txt").read_text() == "from work"
    with pytest.raises(GenoteamError, match="is a symlink, not a regular file; the host does not follow it"):
        session.get_file("/work/escape", tmp_path / "c.txt")
    with pytest.raises(GenoteamError, match="copying /tmp/missing"):
        session.get_file("/tmp/missing", tmp_path / "d.txt")


def test_sessions_run_in_parallel_with_separate_namespaces(open_docker):
    with ThreadPoolExecutor(max_workers=3) as executor:
        sessions = list(executor.map(lambda i: open_docker(task_id=f"par{i}"), range(3)))
    for index, session in enumerate(sessions):
        session.run_cell(f"who = {index}")
    outputs = [session.run_cell("print(who)").stdout for session in sessions]
    assert outputs == ["0\n", "1\n", "2\n"]
    assert len({session.container.id for session in sessions}) == 3


def _containers_of(client, job: str) -> list:
    return client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job}"})


def _start_holder(image: str, work: Path, job: str, *extra: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "hold_session.py"), image, str(work), job, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("ready "), (line, process.stderr.read() if process.poll() is not None else "")
    return process


def test_sigkill_leaves_containers_that_the_next_start_removes(docker_engine, sandbox_image_id, tmp_path):
    job = f"sigkill-{os.getpid()}-{time.time_ns()}"
    holder = _start_holder(sandbox_image_id, tmp_path / "w1", job)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    left = _containers_of(docker_engine, job)
    assert len(left) == 1  # nobody could clean up after SIGKILL
    # the next start (another process opening a session) removes it
    next_start = _start_holder(sandbox_image_id, tmp_path / "w2", f"{job}-next", "--once")
    assert next_start.wait(timeout=60) == 0, next_start.stderr.read()
    assert _containers_of(docker_engine, job) == []
    assert _containers_of(docker_engine, f"{job}-next") == []  # closed at exit without a close() call


def test_sigterm_closes_the_session(docker_engine, sandbox_image_id, tmp_path):
    job = f"sigterm-{os.getpid()}-{time.time_ns()}"
    holder = _start_holder(sandbox_image_id, tmp_path / "w", job)
    assert len(_containers_of(docker_engine, job)) == 1
    holder.send_signal(signal.SIGTERM)
    assert holder.wait(timeout=30) == -signal.SIGTERM
    assert _containers_of(docker_engine, job) == []


def test_a_session_records_and_labels_the_cluster_node_that_started_it(
    open_docker, docker_engine, monkeypatch
):
    """A batch task on a cluster node names the node (NODE_ENV); its sandbox's container carries it
    as a label and the session's start record (what provenance keeps) says it, with the owner."""
    monkeypatch.setenv(NODE_ENV, "node-7f3a")
    session = open_docker()
    labels = docker_engine.containers.get(session.container.id).labels
    assert labels[LABEL_NODE] == "node-7f3a"
    assert session.info()["node"] == "node-7f3a" and session.info()["owner"] == labels[LABEL_OWNER]
    monkeypatch.delenv(NODE_ENV)
    outside = open_docker()  # no cluster: no node label, an empty node in the record
    assert LABEL_NODE not in docker_engine.containers.get(outside.container.id).labels
    assert outside.info()["node"] == ""


def test_sandbox_run_cli_prints_the_structured_result(sandbox_image_id, sandbox_run_cli, tmp_path):
    script = tmp_path / "check.py"
    script.write_text("import os\nprint(sorted(os.listdir('/input/data')))\nraise ValueError('on purpose')\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("1\n")
    env = dict(os.environ, GENOTEAM_SANDBOX_IMAGE=sandbox_image_id)
    out = sandbox_run_cli(
        script, "--timeout", "30", "--memory", "256m", "--input", str(data), "--backend", "docker", env=env
    )
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["backend"] == "docker" and report["status"] == "error"
    assert report["stdout"] == "['x.csv']\n"
    assert report["error_type"] == "ValueError" and report["error_message"] == "on purpose"
    assert report["input_mounts"] == {"data": "/input/data"}


def test_an_unchanged_image_is_not_rebuilt(docker_engine, sandbox_image_id):
    from genoteam.sandbox.image import build_image, default_base

    base = default_base(docker_engine)
    first_tag, first_id, _ = build_image(docker_engine, base=base, progress=lambda line: None)
    lines: list[str] = []
    tag, image_id, built = build_image(docker_engine, base=base, progress=lines.append)
    assert (tag, image_id, built) == (first_tag, first_id, False)
    assert lines == [f"skipped: sandbox image {tag} already exists (nothing that goes into it changed)"]
    labels = docker_engine.images.get(tag).labels
    assert len(labels["genoteam.sandbox.context-hash"]) == 64


def test_a_pinned_image_that_does_not_exist_is_a_clear_error(docker_engine, monkeypatch):
    from genoteam.sandbox.image import find_image

    monkeypatch.setenv("GENOTEAM_SANDBOX_IMAGE", "genoteam-sandbox:does-not-exist")
    with pytest.raises(GenoteamError, match="does not have"):
        find_image(docker_engine)
