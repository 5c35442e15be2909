"""The local backend: the same kernel as a subprocess, for machines without Docker.

NOT a security boundary. The code runs as the host user, sees the host's files and network;
only its environment is scrubbed and its memory, process count, file size and CPU time are
capped with setrlimit. It exists so the pipeline runs end to end where Docker cannot, and says
so loudly every time it is chosen.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from genoteam.sandbox.api import CellStatus, SandboxLimits, SessionSpec
from genoteam.sandbox.pool import Slot
from genoteam.sandbox.quota import parse_size
from genoteam.sandbox.session import KernelSession
from genoteam.sandbox.transport import KernelConnection, SubprocessTransport

log = logging.getLogger(__name__)

KERNEL_PATH = Path(__file__).resolve().with_name("kernel.py")
PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # makes genoteam.toolkit importable
WARNING_TEXT = (
    "genoteam sandbox backend 'local' is NOT a security boundary: analysis code runs as this user, "
    "can read this machine's files and use its network. Use the Docker backend for untrusted code."
)


class LocalBackendWarning(UserWarning):
    pass


def _limit_resources(limits: SandboxLimits) -> Any:
    memory = parse_size(limits.memory)

    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def scrubbed_environment(limits: SandboxLimits, work: Path) -> dict[str, str]:
    """Only what Python needs: no API keys or other secrets of the host process."""
    threads = str(max(1, int(limits.cpus)))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(work),
        "PYTHONPATH": str(PACKAGE_PARENT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": str(work / ".matplotlib"),
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "GENOTEAM_WORK": str(work),
    }


class LocalSession(KernelSession):
    backend = "local"

    def __init__(self, spec: SessionSpec, slot: Slot | None = None) -> None:
        super().__init__(spec, slot)
        self.process: subprocess.Popen | None = None
        Path(spec.work_dir).mkdir(parents=True, exist_ok=True)
        warnings.warn(WARNING_TEXT, LocalBackendWarning, stacklevel=3)
        log.warning(WARNING_TEXT)

    def _mounts(self) -> list[tuple[str, Path, bool]]:
        work = Path(self.spec.work_dir).resolve()
        mounts = [(str(work), work, True)]
        for folder in self.spec.input_dirs.values():
            mounts.append((str(Path(folder).resolve()), Path(folder).resolve(), False))
        return mounts

    def _sandbox_input_path(self, name: str) -> str:
        return str(Path(self.spec.input_dirs[name]).resolve())

    def _launch(self) -> KernelConnection:
        work = Path(self.spec.work_dir).resolve()
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(KERNEL_PATH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=work,
            env=scrubbed_environment(self.spec.limits, work),
            start_new_session=True,  # its own process group: a timeout kills the cell's children too
            preexec_fn=_limit_resources(self.spec.limits),  # noqa: PLW1509 - no threads are started between fork/exec here
        )
        return KernelConnection(SubprocessTransport(self.process))

    def _kill(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _why_dead(self) -> tuple[CellStatus, str]:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=2)  # a dead stream with a live process: a broken protocol
        except subprocess.TimeoutExpired:
            return CellStatus.killed, "the kernel broke the protocol and was stopped"
        if code < 0:
            return CellStatus.killed, f"the kernel was killed by signal {signal.Signals(-code).name}"
        return CellStatus.killed, f"the kernel exited with code {code}"

    def _dispose(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("local kernel %s did not exit after SIGKILL", self.process.pid)
        self.process = None


def open_local_session(spec: SessionSpec, slot: Slot | None = None) -> LocalSession:
    session = LocalSession(spec, slot=slot)
    session.open()
    return session
