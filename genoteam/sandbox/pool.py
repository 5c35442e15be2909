"""A bound on how many sandbox sessions run at once, shared by all processes of a user.

Job workers are separate processes, so an in-memory counter would not bound them. Each slot is a
lock file held with flock while a session is open; the kernel releases it when the holder dies,
so a crashed worker never leaks a slot.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path

from genoteam.toolkit.errors import GenoteamError

DEFAULT_POOL_SIZE = 4
SIZE_ENV = "GENOTEAM_SANDBOX_POOL_SIZE"
SLOTS_DIR_ENV = "GENOTEAM_SANDBOX_SLOTS_DIR"


def default_slots_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"genoteam-sandbox-slots-{os.getuid()}"


def node_pool_env(node: str, cpus: float) -> dict[str, str]:
    """The environment that gives every process of a cluster node one pool of its own: as many
    slots as the node has CPUs, in a slot folder named after the node (two nodes on one machine,
    as in a loopback cluster, never share slots)."""
    safe = "".join(ch for ch in node if ch.isalnum())[:16] or "node"
    return {SIZE_ENV: str(max(1, int(cpus))), SLOTS_DIR_ENV: f"{default_slots_dir()}-node-{safe}"}


class Slot:
    """One held slot; `release()` gives it back (idempotent)."""

    def __init__(self, handle: int, index: int) -> None:
        self._handle: int | None = handle
        self.index = index

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None


class SessionPool:
    def __init__(
        self, size: int | None = None, directory: Path | None = None, wait_s: float | None = None
    ) -> None:
        self.size = int(size if size is not None else os.environ.get(SIZE_ENV, DEFAULT_POOL_SIZE))
        if self.size < 1:
            raise GenoteamError(
                f"sandbox pool size must be at least 1, not {self.size}",
                "set GENOTEAM_SANDBOX_POOL_SIZE to 1 or more",
            )
        self.directory = Path(directory or os.environ.get(SLOTS_DIR_ENV, default_slots_dir()))
        self.wait_s = float(
            wait_s if wait_s is not None else os.environ.get("GENOTEAM_SANDBOX_POOL_WAIT_S", 900)
        )

    def try_acquire(self) -> Slot | None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for index in range(self.size):
            handle = os.open(self.directory / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                continue
            return Slot(handle, index)
        return None

    def acquire(self, wait_s: float | None = None) -> Slot:
        """A free slot, waiting up to `wait_s` (default: the pool's) for one to be released."""
        limit = self.wait_s if wait_s is None else wait_s
        deadline = time.monotonic() + limit
        while True:
            slot = self.try_acquire()
            if slot is not None:
                return slot
            if time.monotonic() >= deadline:
                raise GenoteamError(
                    f"all {self.size} sandbox session slots stayed busy for {limit:.0f}s",
                    "close idle sessions, or raise GENOTEAM_SANDBOX_POOL_SIZE if the machine has the memory",
                )
            time.sleep(0.1)
