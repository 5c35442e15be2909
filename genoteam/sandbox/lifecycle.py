"""Process identity, sandbox labels and leftover cleanup: the one home of these rules.

A process is known by its pid *and* the kernel's start time of that pid, so a recycled pid is
never mistaken for it (nor signalled): job workers are recorded that way, and every sandbox
container carries labels naming its owner process (host/pid/start time) and its job. Sessions
close on normal exit (atexit) and on SIGTERM/SIGHUP. A process killed with SIGKILL cannot clean
up, so the next process that opens a Docker session, and every server at start, removes
containers whose owner is gone (`remove_leftovers`); `cancel_job` removes a job's containers
(`remove_job_containers`).

On a cluster, the node a process runs on is named by GENOTEAM_NODE_ID (the batch's executor sets
it before a task runs): every container started there carries it as the label genoteam.node,
and the session's start record says it, so a batch can show where each sandbox was started.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import time
from typing import Any, Protocol

log = logging.getLogger(__name__)

LABEL_SANDBOX = "genoteam.sandbox"
LABEL_OWNER = "genoteam.owner"
LABEL_JOB = "genoteam.job"
LABEL_SESSION = "genoteam.session"
LABEL_TASK = "genoteam.task"
LABEL_NODE = "genoteam.node"
NODE_ENV = "GENOTEAM_NODE_ID"  # the cluster node this process runs on ("" when none names one)


class Closable(Protocol):
    def close(self) -> None: ...


def process_start_time(pid: int) -> int | None:
    """The start time (clock ticks since boot) of `pid`; None when no such process runs.

    A zombie has finished: it counts as gone (and, when it is our own child, it is reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields after the last ')' are fixed
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in {"Z", "X"}:
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
    """True when `pid` runs and is the process that was recorded (same start time)."""
    if not pid:
        return False
    _reap(pid)
    current = process_start_time(pid)
    return current is not None and (start_time is None or current == start_time)


def owner_label(pid: int, start_time: int | None) -> str:
    """The owner label of containers a process starts: host/pid/start time."""
    return f"{socket.gethostname()}/{pid}/{start_time if start_time is not None else '?'}"


def owner_id(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return owner_label(pid, process_start_time(pid))


def owner_is_gone(owner: str) -> bool:
    """True only when the owner certainly ran on this host and no longer runs."""
    try:
        host, pid, started = owner.split("/")
        pid_number = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname() or started == "?":
        return False  # another machine's (or container's) process, or no /proc: we cannot tell, leave it
    return str(process_start_time(pid_number)) != started


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


def current_node() -> str:
    """The cluster node this process runs on, as its executor named it; "" outside a cluster."""
    return os.environ.get(NODE_ENV, "")


def labels_for(job_id: str, session_id: str, task_id: str, node: str = "") -> dict[str, str]:
    labels = {
        LABEL_SANDBOX: "1",
        LABEL_OWNER: owner_id(),
        LABEL_JOB: job_id,
        LABEL_SESSION: session_id,
        LABEL_TASK: task_id,
    }
    if node:
        labels[LABEL_NODE] = node
    return labels


def remove_leftovers(client: Any) -> list[str]:
    """Remove sandbox containers whose owner process is gone; return their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_SANDBOX}=1"}):
        owner = container.labels.get(LABEL_OWNER, "")
        if not owner_is_gone(owner):
            continue
        try:
            container.remove(force=True)
            removed.append(container.name)
        except Exception as error:  # already removed by another process: fine
            log.debug("could not remove leftover %s: %s", container.name, error)
    if removed:
        log.warning(
            "removed %d sandbox container(s) left by processes that are gone: %s", len(removed), removed
        )
    return removed


def remove_job_containers(
    client: Any, job_id: str, pid: int | None = None, pid_start: int | None = None
) -> str:
    """Force-remove a job's sandbox containers; say what happened.

    A container is the job's when it carries the label genoteam.job=<job_id>, or when its owner
    label names the job's worker process: engines that label sessions with an id of their own
    are still covered.
    """
    found = {c.id: c for c in client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job_id}"})}
    if pid is not None and pid_start is not None:
        owner = owner_label(pid, pid_start)
        found.update(
            {c.id: c for c in client.containers.list(all=True, filters={"label": f"{LABEL_OWNER}={owner}"})}
        )
    for container in found.values():
        try:
            container.remove(force=True)
        except Exception as error:  # removed meanwhile by its own session: fine, the goal is met
            if "No such container" not in str(error) and "404" not in str(error):
                return f"could not remove container {container.name}: {error}"
    return f"removed {len(found)} sandbox container(s)"


# ---------------------------------------------------------------- closing open sessions
_open: set[Closable] = set()
_lock = threading.RLock()  # re-entrant: a signal may arrive while the main thread holds it
_installed = False


def track(session: Closable) -> None:
    """Close `session` at interpreter exit or on SIGTERM/SIGHUP unless it is closed before."""
    with _lock:
        _open.add(session)
    _install_handlers()


def untrack(session: Closable) -> None:
    with _lock:
        _open.discard(session)


def close_all() -> None:
    with _lock:
        sessions = list(_open)
    for session in sessions:
        try:
            session.close()
        except Exception as error:  # closing the others matters more than this one's failure
            log.warning("closing sandbox session failed: %s", error)


def _on_signal(signum: int, _frame: Any) -> None:
    close_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        # only where nobody else handles the signal: a server's own handler stays in charge
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _on_signal)
