"""Worker processes: identity, liveness and stopping, safe against pid reuse.

Why the start time: a job records its worker's pid *and* the kernel's start time of that pid.
A server restarted hours later must not mistake an unrelated process that re-used the pid for
the worker, nor signal it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def process_start_time(pid: int) -> int | None:
    """The start time (clock ticks since boot) of `pid`, or None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in {"Z", "X"}:  # a zombie has finished: treat it as gone (and reap it below)
        _reap(pid)
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    """Collect the exit status of our own finished child, so it does not stay a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def is_alive(pid: int | None, start_time: int | None) -> bool:
    """True when `pid` runs and is the same process that was recorded (same start time)."""
    if not pid:
        return False
    _reap(pid)
    current = process_start_time(pid)
    return current is not None and (start_time is None or current == start_time)


def stop_group(pid: int, start_time: int | None, grace_s: float = 5.0) -> bool:
    """SIGTERM the process group led by `pid`, SIGKILL it after `grace_s`; True when it was running."""
    if not is_alive(pid, start_time):
        return False
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    if pgid != pid:  # workers lead their own session; anything else is not ours to signal
        os.kill(pid, signal.SIGTERM)
        pgid = None
    else:
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not is_alive(pid, start_time):
            break
        time.sleep(0.05)
    else:
        try:
            if pgid is None:
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while is_alive(pid, start_time):
            time.sleep(0.05)
    if pgid is not None:  # children that ignored SIGTERM die with the group
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return True
