"""The local backend (subprocess kernel with rlimits) and the parts shared by every backend."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pytest

from genoteam.sandbox.api import CellStatus, SandboxLimits, SessionSpec
from genoteam.sandbox.factory import open_session, resolve_backend
from genoteam.sandbox.kernel import BoundedCapture, encode_frame, read_frame
from genoteam.sandbox.lifecycle import owner_id, owner_is_gone
from genoteam.sandbox.local_backend import LocalBackendWarning, parse_size
from genoteam.sandbox.pool import SessionPool
from genoteam.toolkit.errors import GenoteamError

pytestmark = pytest.mark.filterwarnings("ignore::genoteam.sandbox.local_backend.LocalBackendWarning")


def test_choosing_the_local_backend_warns_loudly(tmp_path, caplog):
    spec = SessionSpec(task_id="warn", work_dir=tmp_path / "w")
    with pytest.warns(LocalBackendWarning, match="NOT a security boundary"):
        session = open_session(spec, backend="local", pool=SessionPool(1, tmp_path / "slots"))
    session.close()
    assert "NOT a security boundary" in caplog.text


def test_state_persists_and_replay_rebuilds_it(open_local):
    session = open_local()
    assert session.backend == "local"
    assert session.run_cell("import math\nvalue = 2").ok
    assert session.run_cell("value **= 10").ok
    assert session.run_cell("print(value)").stdout == "1024\n"
    assert [r.ok for r in session.restart(replay=["value = 7"])] == [True]
    assert session.run_cell("print(value)").stdout == "7\n"


def test_output_of_python_and_of_subprocesses_is_captured_in_order(open_local):
    session = open_local()
    code = (
        "import os, sys\nprint('one')\nos.system('echo two; echo three >&2')\n"
        "print('four', file=sys.stderr)\nos.write(1, b'five\\n')"
    )
    result = session.run_cell(code)
    assert result.ok
    assert result.stdout == "one\ntwo\nfive\n"
    assert result.stderr == "three\nfour\n"


def test_output_beyond_the_limit_is_truncated_with_a_marker(open_local, small_limits):
    session = open_local()
    result = session.run_cell("import os\nos.system('head -c 3000000 /dev/zero | tr \"\\\\0\" z')")
    assert result.ok and result.stdout_truncated and not result.stderr_truncated
    assert "bytes of stdout omitted (limit 100000 bytes)" in result.stdout
    assert result.stdout.count("z") == small_limits.output_limit_bytes


def test_timeout_kills_the_kernel_and_its_children(open_local, tmp_path):
    session = open_local()
    marker = tmp_path / "child.pid"
    code = (
        "import subprocess\n"
        f"child = subprocess.Popen(['sleep', '60'])\nopen({str(marker)!r}, 'w').write(str(child.pid))\n"
        "while True:\n    pass"
    )
    started = time.monotonic()
    result = session.run_cell(code, timeout_s=1.5)
    assert result.status is CellStatus.timeout
    assert time.monotonic() - started < 1.5 + 1.0
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{child}") and "Z" not in _state(child):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{child}") or "Z" in _state(child)
    assert session.run_cell("1").error_type == "KernelNotRunning"
    assert session.restart(replay=["x = 1"])[0].ok


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_memory_limit_reports_out_of_memory(open_local):
    session = open_local(limits=SandboxLimits(memory="512m"))
    result = session.run_cell("block = bytearray(1 << 30)")
    assert result.status is CellStatus.out_of_memory
    assert result.error_type == "MemoryError"
    assert session.run_cell("print('still here')").stdout == "still here\n"


def test_host_environment_is_not_passed_on(open_local, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-genoteam-local-test-key")
    session = open_local()
    result = session.run_cell("import os\nprint(sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k))")
    assert result.stdout == "[]\n"


def test_a_dying_kernel_is_reported_as_killed_and_never_replaced_silently(open_local):
    session = open_local()
    result = session.run_cell("import os\nos._exit(3)")
    assert result.status is CellStatus.killed
    assert "exited with code 3" in result.error_message
    assert not session.alive
    assert session.run_cell("1").status is CellStatus.killed


def test_exits_input_and_forked_children_do_not_break_the_protocol(open_local):
    session = open_local()
    assert session.run_cell("raise SystemExit(4)").error_type == "SystemExit"
    assert session.run_cell("input()").error_type == "EOFError"
    forked = session.run_cell(
        "import os\npid = os.fork()\nif pid == 0:\n    print('child')\nelse:\n    os.waitpid(pid, 0)"
    )
    assert forked.ok and forked.stdout.count("child") == 1
    assert session.run_cell("print('after')").stdout == "after\n"


def test_files_in_and_out_and_no_escape_through_symlinks(open_local, tmp_path):
    session = open_local()
    source = tmp_path / "src.txt"
    source.write_text("data")
    target = f"{session.work_path}/nested/src.txt"
    session.put_file(source, target)
    assert session.run_cell(f"print(open({target!r}).read())").stdout == "data\n"
    os.symlink("/etc/hostname", os.path.join(session.work_path, "link"))
    with pytest.raises(GenoteamError, match="is a symlink, not a regular file; the host does not follow it"):
        session.get_file(f"{session.work_path}/link", tmp_path / "x")


def test_a_closed_session_refuses_cells(open_local):
    session = open_local()
    session.close()
    session.close()  # idempotent
    with pytest.raises(GenoteamError, match="is closed"):
        session.run_cell("1")


def test_the_pool_bounds_open_sessions_and_frees_slots(tmp_path):
    pool = SessionPool(size=1, directory=tmp_path / "slots", wait_s=0.3)
    first = open_session(SessionSpec(task_id="a", work_dir=tmp_path / "a"), backend="local", pool=pool)
    with pytest.raises(GenoteamError, match="all 1 sandbox session slots stayed busy"):
        open_session(SessionSpec(task_id="b", work_dir=tmp_path / "b"), backend="local", pool=pool)
    first.close()
    second = open_session(SessionSpec(task_id="b", work_dir=tmp_path / "b"), backend="local", pool=pool)
    assert second.run_cell("print(1)").stdout == "1\n"
    second.close()


def test_auto_never_falls_back_to_the_host_when_no_engine_answers(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/genoteam-test.sock")
    with pytest.raises(GenoteamError, match="no Docker engine answers") as offline:
        resolve_backend("auto")
    assert "--sandbox local" in offline.value.hint and "systemctl start docker" in offline.value.hint
    with pytest.raises(GenoteamError, match="no Docker engine answers") as with_model:
        resolve_backend("auto", model_code=True)
    assert "never runs on the host" in with_model.value.hint
    assert resolve_backend("local") == "local"  # asked for, and no model wrote the code
    with pytest.raises(GenoteamError, match="model-written code on this machine"):
        resolve_backend("local", model_code=True)
    with pytest.raises(GenoteamError, match="unknown sandbox backend"):
        resolve_backend("vm")


def test_sizes_parse_like_docker():
    assert parse_size("4g") == 4 << 30
    assert parse_size("512m") == 512 << 20
    assert parse_size("1.5G") == int(1.5 * (1 << 30))
    assert parse_size("100kb") == 100 << 10
    assert parse_size(1024) == 1024
    with pytest.raises(GenoteamError):
        parse_size("lots")


def test_owners_that_are_gone_are_recognised():
    assert not owner_is_gone(owner_id())
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner = owner_id(finished.pid)
    finished.wait()
    assert owner_is_gone(dead_owner)
    host, pid, started = owner_id().split("/")
    assert not owner_is_gone(f"other-{host}/{pid}/{started}")  # another host's process: left alone
    assert not owner_is_gone("garbage")


def test_frames_round_trip_and_bad_frames_are_refused():
    stream = io.BytesIO(encode_frame({"op": "run", "code": "print('é')"}) + encode_frame({"id": 2}))
    assert read_frame(stream) == {"op": "run", "code": "print('é')"}
    assert read_frame(stream) == {"id": 2}
    assert read_frame(stream) is None
    with pytest.raises(ValueError, match="bad frame header"):
        read_frame(io.BytesIO(b"not a frame\n{}"))
    with pytest.raises(ValueError, match="ended inside a frame"):
        read_frame(io.BytesIO(b"10\n{}"))


def test_bounded_capture_keeps_head_and_tail():
    capture = BoundedCapture("stdout", 8)
    for piece in (b"abcd", b"efgh", b"ijkl", b"mnop"):
        capture.add(piece)
    assert capture.truncated and capture.total == 16
    assert capture.text() == "abcdef\n[... genoteam: 8 bytes of stdout omitted (limit 8 bytes) ...]\nop"
    small = BoundedCapture("stderr", 8)
    small.add(b"abc")
    assert not small.truncated and small.text() == "abc"


def test_image_tags_depend_on_sources_base_and_ca():
    from genoteam.sandbox.image import context_files, context_hash, image_tag

    files = context_files()
    assert {"Dockerfile", "requirements.txt", "kernel.py", "genoteam/__init__.py"} <= set(files)
    assert "genoteam/toolkit/__init__.py" in files and not any("__pycache__" in name for name in files)
    context = context_hash()
    tag = image_tag("sha256:aaa", b"ca", context)
    assert tag.startswith("genoteam-sandbox:") and len(tag.split(":")[1]) == 16
    assert tag == image_tag("sha256:aaa", b"ca", context)
    assert tag != image_tag("sha256:bbb", b"ca", context)
    assert tag != image_tag("sha256:aaa", b"other ca", context)
    assert tag != image_tag("sha256:aaa", b"ca", "0" * 64)


def test_sandbox_run_cli_with_the_local_backend(sandbox_run_cli, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint('hello from', sys.argv[0] if sys.argv else 'kernel')\n")
    out = sandbox_run_cli(script, "--backend", "local", "--timeout", "20")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["backend"] == "local" and report["status"] == "ok"
    assert report["stdout"].startswith("hello from")
    assert "NOT a security boundary" in out.stderr


def test_a_forged_oversized_frame_ends_the_kernel_instead_of_the_host(open_local):
    session = open_local()
    result = session.run_cell(
        "import os\nos.write(4, b'99999999999\\n' + b'x' * 1000)\nimport time\ntime.sleep(30)"
    )
    assert result.status is CellStatus.protocol_error
    assert "more than the" in result.error_message
    assert session.restart(replay=["ok = 1"])[0].ok


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("b'{not js'", "not valid JSON"),
        ("b'[1,2]'", "JSON list, not an object"),
        ('b\'{"id": 1, "status": "ok", "stdout": [1]}\'', "reply field 'stdout' is a list"),
        ("b'[' * 200_000 + b']' * 200_000", "RecursionError"),
    ],
    ids=["bad-json", "list", "wrong-type", "deep"],
)
def test_malformed_frames_are_a_protocol_error_and_the_kernel_restarts(open_local, payload, why):
    """A cell writes its own frame on the kernel's protocol descriptor (4) before the real reply;
    the first request of a fresh kernel has id 1, which a forger can guess."""
    session = open_local()
    code = (
        f"import os, time\npayload = {payload}\nos.write(4, str(len(payload)).encode() + b'\\n' + payload)\n"
    )
    result = session.run_cell(code + "time.sleep(30)")
    assert result.status is CellStatus.protocol_error and result.error_type == "ProtocolError", result
    assert why in result.error_message and len(result.error_message) < 10_000
    assert session.restart(replay=["ok = 1"])[0].ok


def test_sandbox_run_prints_a_protocol_error_as_json_not_a_traceback(sandbox_run_cli, tmp_path):
    script = tmp_path / "forge.py"
    script.write_text("import os, time\nos.write(4, b'5\\n[1,2]')\ntime.sleep(30)\n")
    out = sandbox_run_cli(script, "--backend", "local", "--timeout", "20")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert json.loads(out.stdout)["status"] == "protocol_error"
