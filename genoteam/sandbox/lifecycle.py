"""Who owns a sandbox, and making sure sessions do not outlive their owner.

Every container carries labels naming its owner process (host name, pid and the process's start
time, so a recycled pid is not mistaken for the owner). Sessions close on normal exit (atexit)
and on SIGTERM/SIGHUP. A process killed with SIGKILL cannot clean up, so the next process that
opens a Docker session removes containers whose owner is gone (`remove_leftovers`).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
from typing import Any, Protocol

log = logging.getLogger(__name__)

LABEL_SANDBOX = "genoteam.sandbox"
LABEL_OWNER = "genoteam.owner"
LABEL_JOB = "genoteam.job"
LABEL_SESSION = "genoteam.session"
LABEL_TASK = "genoteam.task"


class Closable(Protocol):
    def close(self) -> None: ...


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces; fields after the last ')' are fixed
    return stat.rsplit(")", 1)[1].split()[19]


def owner_id(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{process_start_time(pid) or '?'}"


def owner_is_gone(owner: str) -> bool:
    """True only when the owner certainly ran on this host and no longer runs."""
    try:
        host, pid, started = owner.split("/")
        pid_number = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname() or started == "?":
        return False  # another machine's (or container's) process, or no /proc: we cannot tell, leave it
    return process_start_time(pid_number) != started


def labels_for(job_id: str, session_id: str, task_id: str) -> dict[str, str]:
    return {
        LABEL_SANDBOX: "1",
        LABEL_OWNER: owner_id(),
        LABEL_JOB: job_id,
        LABEL_SESSION: session_id,
        LABEL_TASK: task_id,
    }


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
