"""The contract between code that runs analysis cells (agents, CLI) and the sandbox backends.

Backends (docker, local) implement `SandboxSession`; callers depend only on this module, so the
agent team can be written and tested against any backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol


class CellStatus(str, Enum):  # noqa: UP042 - the shared contract keeps its original base classes
    ok = "ok"
    error = "error"  # the code raised; error_type/error_message/traceback say what
    timeout = "timeout"  # the cell ran past its timeout and was killed
    out_of_memory = "out_of_memory"  # the kernel died from the memory limit
    killed = "killed"  # the kernel died for another reason (signal, pids limit, crash)
    disk_quota = "disk_quota"  # the work folder passed its byte/file quota, or the disk its headroom
    protocol_error = "protocol_error"  # the kernel's reply broke the protocol (malformed frame)


# statuses after which the kernel is gone (the namespace is lost until restart)
KERNEL_LOST = frozenset(
    {
        CellStatus.timeout,
        CellStatus.out_of_memory,
        CellStatus.killed,
        CellStatus.disk_quota,
        CellStatus.protocol_error,
    }
)


@dataclass(frozen=True)
class CellResult:
    status: CellStatus
    stdout: str = ""
    stderr: str = ""
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.status is CellStatus.ok

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["status"] = self.status.value
        return data


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one session; every one configurable, hardened defaults."""

    memory: str = "4g"
    cpus: float = 1.0
    pids: int = 256
    cell_timeout_s: float = 600.0
    output_limit_bytes: int = 1_000_000
    tmpfs_size: str = "512m"
    network: bool = False
    # the work folder's quota (see docs/security.md: accounting, checked every quota_poll_s)
    disk_bytes: str = "16g"
    disk_files: int = 100_000
    disk_headroom: str = "1g"  # free space the host keeps on the work folder's disk
    quota_poll_s: float = 0.1  # a page-cache write runs at GB/s: the overshoot is about rate x this


LIMIT_ENV = {  # SandboxLimits field -> the variable that sets its default (engines run by name use them)
    "memory": "GENOTEAM_SANDBOX_MEMORY",
    "cell_timeout_s": "GENOTEAM_SANDBOX_CELL_TIMEOUT_S",
    "disk_bytes": "GENOTEAM_SANDBOX_DISK_BYTES",
    "disk_files": "GENOTEAM_SANDBOX_DISK_FILES",
    "disk_headroom": "GENOTEAM_SANDBOX_DISK_HEADROOM",
}


def default_limits() -> SandboxLimits:
    """SandboxLimits with the GENOTEAM_SANDBOX_* variables of LIMIT_ENV applied."""
    import os

    values: dict[str, object] = {}
    for name, variable in LIMIT_ENV.items():
        text = os.environ.get(variable)
        if text:
            kind = type(getattr(SandboxLimits, name))
            values[name] = kind(float(text)) if kind in (int, float) else text
    return SandboxLimits(**values)


@dataclass
class SessionSpec:
    """What a session is for and what it may see."""

    task_id: str
    work_dir: Path  # mounted read-write at /work inside the sandbox
    input_dirs: dict[str, Path] = field(default_factory=dict)  # name -> host dir, mounted read-only
    job_id: str = ""
    limits: SandboxLimits = field(default_factory=default_limits)
    # When set, only these subfolders of work_dir are writable in the sandbox (at <work>/<name>);
    # work_dir itself is not mounted, so the host's own records beside them are out of reach.
    writable_subdirs: tuple[str, ...] = ()


class SandboxSession(Protocol):
    """A persistent kernel: the namespace survives across cells until restart or close."""

    spec: SessionSpec
    backend: str  # "docker" or "local"

    def run_cell(self, code: str, timeout_s: float | None = None) -> CellResult: ...

    def restart(self, replay: list[str] | None = None) -> list[CellResult]:
        """Start a fresh kernel, then run `replay` cells in order (how backtracking restores state)."""
        ...

    def put_file(self, host_path: Path, sandbox_path: str) -> None: ...

    def get_file(self, sandbox_path: str, host_path: Path) -> None: ...

    def close(self) -> None: ...

    @property
    def input_mounts(self) -> dict[str, str]:
        """name -> path of each read-only input dir as the code in the sandbox sees it."""
        ...

    @property
    def work_path(self) -> str:
        """The read-write work folder as the code in the sandbox sees it."""
        ...

    @property
    def alive(self) -> bool:
        """False after a timeout, out-of-memory kill or crash, until `restart` (never replaced silently)."""
        ...

    def info(self) -> dict:
        """What provenance records: backend, image id and tags (docker), limits, kernel, session id."""
        ...
