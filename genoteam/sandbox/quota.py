"""The work folder's quota: bytes and files the sandbox may hold there, and the host's headroom.

Why accounting and not a size-limited filesystem: a loop-mounted image or an XFS project quota
needs mount privileges (or a particular filesystem) that a non-root host or the server's own
container does not have, and a tmpfs would put the job's results in memory and lose them with
the container. So a thread per running kernel measures the writable folders every `quota_poll_s`
seconds (walking without following links, stopping early past the file limit) and the free space
of their disk, and kills the kernel as soon as either is over. The overshoot is bounded by what
the cell can write in one poll interval plus one scan (measured in tests: well under the limit
for GB/s page-cache writes with the default 0.1 s); the headroom keeps that overshoot off the host's last
free bytes.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

from genoteam.sandbox import hostfs
from genoteam.sandbox.api import SandboxLimits
from genoteam.toolkit.errors import GenoteamError

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str | int) -> int:
    """Docker-style sizes ('4g', '512m', '1.5g', '1024') as bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", str(text).lower())
    if not match:
        raise GenoteamError(f"size {text!r} is not understood", "write sizes like 512m or 4g")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def over_quota(folders: list[Path], limits: SandboxLimits) -> str | None:
    """Why the folders break the quota or the disk its headroom, or None when all is well."""
    max_bytes, max_files = parse_size(limits.disk_bytes), int(limits.disk_files)
    used, entries = hostfs.usage(folders, max_files)
    if entries > max_files:
        return f"the work folder holds more than {max_files} files and folders (its quota)"
    if used > max_bytes:
        return f"the work folder holds {used} bytes, more than its quota of {limits.disk_bytes} ({max_bytes} bytes)"
    headroom = parse_size(limits.disk_headroom)
    for folder in folders[:1]:
        try:
            disk = os.statvfs(folder)
        except OSError:
            continue
        free = disk.f_bavail * disk.f_frsize
        if free < headroom:
            return (
                f"the disk holding the work folder has {free} bytes free, less than the {limits.disk_headroom} "
                "the host keeps in reserve"
            )
    return None


class QuotaWatch:
    """Checks the quota while a kernel runs; calls `on_breach(reason)` once when it is broken."""

    def __init__(self, folders: list[Path], limits: SandboxLimits, on_breach: Callable[[str], None]) -> None:
        self.folders = folders
        self.limits = limits
        self.on_breach = on_breach
        self.reason: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-quota", daemon=True)

    def start(self) -> QuotaWatch:
        self._thread.start()
        return self

    def check(self) -> str | None:
        """One measurement now; a breach is recorded and reported once."""
        if self.reason is None:
            reason = over_quota(self.folders, self.limits)
            if reason is not None:
                self.reason = reason
                self.on_breach(reason)
        return self.reason

    def _run(self) -> None:
        while not self._stop.wait(self.limits.quota_poll_s):
            try:
                if self.check() is not None:
                    return
            except OSError:  # the folder vanished (session closing): nothing left to watch
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
