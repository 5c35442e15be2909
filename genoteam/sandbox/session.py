"""What every backend shares: the cell/restart/file/close logic on top of a kernel connection.

A backend (docker, local) only says how to launch a kernel, how to kill it for real, why it died,
and where its folders are; the rules of a session (timeouts kill, a dead kernel is reported and
never silently replaced, output limits, replay) live here once.
"""

from __future__ import annotations

import base64
import logging
import os
import posixpath
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from genoteam.sandbox import lifecycle
from genoteam.sandbox.api import CellResult, CellStatus, SessionSpec
from genoteam.sandbox.pool import Slot
from genoteam.sandbox.transport import KernelConnection, KernelDied, KernelTimeout
from genoteam.toolkit.errors import GenoteamError

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 60.0
FILE_OP_TIMEOUT_S = 120.0
PROTOCOL_FILE_LIMIT = 64 << 20  # files outside the mounted folders travel through the kernel


class KernelSession(ABC):
    """A SandboxSession (see api.py) whose kernel is reached through a KernelConnection."""

    backend: str = "?"

    def __init__(self, spec: SessionSpec, slot: Slot | None = None) -> None:
        self.spec = spec
        self.session_id = uuid.uuid4().hex
        self._slot = slot
        self._conn: KernelConnection | None = None
        self._dead_reason = ""
        self._closed = False
        self.kernel_info: dict[str, Any] = {}
        self.generation = 0  # how many kernels this session has started

    # ------------------------------------------------------------ backend hooks
    @abstractmethod
    def _launch(self) -> KernelConnection:
        """Start a fresh kernel and return a connection to it (before its hello)."""

    @abstractmethod
    def _kill(self) -> None:
        """Stop the current kernel and everything it started, now."""

    @abstractmethod
    def _why_dead(self) -> tuple[CellStatus, str]:
        """After the kernel's stream ended: out_of_memory or killed, and an explanation."""

    @abstractmethod
    def _dispose(self) -> None:
        """Free what the current kernel holds (container, process); the kernel is already stopped."""

    @abstractmethod
    def _mounts(self) -> list[tuple[str, Path, bool]]:
        """(path in the sandbox, host folder, writable) of each mounted folder."""

    # ------------------------------------------------------------ properties of the contract
    @property
    def work_path(self) -> str:
        return self._mounts()[0][0]

    @property
    def input_mounts(self) -> dict[str, str]:
        return {name: self._sandbox_input_path(name) for name in self.spec.input_dirs}

    def _sandbox_input_path(self, name: str) -> str:
        return str(self.spec.input_dirs[name])

    @property
    def alive(self) -> bool:
        """True while a kernel runs (False after a timeout or crash until `restart`)."""
        return self._conn is not None

    def info(self) -> dict[str, Any]:
        """What provenance records about the session."""
        return {
            "backend": self.backend,
            "session_id": self.session_id,
            "task_id": self.spec.task_id,
            "job_id": self.spec.job_id,
            "limits": dict(self.spec.limits.__dict__),
            "kernel": dict(self.kernel_info),
            "kernels_started": self.generation,
        }

    # ------------------------------------------------------------ lifecycle
    def _start_kernel(self) -> None:
        self.generation += 1
        try:
            connection = self._launch()
        except GenoteamError:
            self._stop_kernel()
            raise
        except Exception as error:  # the engine refused: say so with what to do
            self._stop_kernel()
            raise GenoteamError(
                f"starting the {self.backend} sandbox kernel failed: {type(error).__name__}: {error}",
                "check the engine (`docker info`) and the image (`genoteam sandbox build`)",
            ) from error
        try:
            self.kernel_info = connection.hello(HELLO_TIMEOUT_S)
        except (KernelDied, KernelTimeout) as error:
            diagnostics = connection.diagnostic_text()
            self._stop_kernel(connection)
            raise GenoteamError(
                f"the {self.backend} sandbox kernel did not start ({type(error).__name__}: {error}); "
                f"its stderr: {diagnostics[-2000:] or '(empty)'}",
                "run `genoteam sandbox run` on a one-line script to check the set-up; "
                "rebuild the image with `genoteam sandbox build` if it is stale",
            ) from error
        self._conn = connection
        self._dead_reason = ""

    def _stop_kernel(self, connection: KernelConnection | None = None) -> None:
        connection = connection or self._conn
        self._conn = None
        try:
            self._kill()
        finally:
            if connection is not None:
                connection.close()
            self._dispose()

    def open(self) -> KernelSession:
        lifecycle.track(self)
        try:
            self._start_kernel()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._conn is not None:
                try:
                    self._conn.request({"op": "shutdown"}, timeout_s=2.0)
                except (KernelDied, KernelTimeout, OSError):
                    pass
            self._stop_kernel()
        finally:
            if self._slot is not None:
                self._slot.release()
            lifecycle.untrack(self)

    # ------------------------------------------------------------ cells
    def run_cell(self, code: str, timeout_s: float | None = None) -> CellResult:
        self._check_open()
        if self._conn is None:
            return CellResult(
                status=CellStatus.killed,
                error_type="KernelNotRunning",
                error_message=f"no kernel runs in this session ({self._dead_reason or 'it was stopped'}); "
                "call restart(replay=[...]) to start a fresh one and rebuild the namespace",
            )
        timeout = float(timeout_s if timeout_s is not None else self.spec.limits.cell_timeout_s)
        request = {"op": "run", "code": code, "output_limit": self.spec.limits.output_limit_bytes}
        started = time.monotonic()
        try:
            reply = self._conn.request(request, timeout_s=timeout)
        except KernelTimeout:
            self._stop_kernel()
            self._dead_reason = (
                f"the previous cell ran past its {timeout:g}s timeout and the kernel was killed"
            )
            return CellResult(
                status=CellStatus.timeout,
                error_type="CellTimeout",
                error_message=f"the cell ran longer than {timeout:g}s and was stopped; its kernel was killed "
                "(the namespace is lost: restart(replay=[...]) rebuilds it)",
                duration_s=time.monotonic() - started,
            )
        except KernelDied as died:
            diagnostics = self._conn.diagnostic_text() if self._conn else ""
            status, why = self._why_dead()
            self._stop_kernel()
            self._dead_reason = f"the previous cell ended the kernel: {why}"
            return CellResult(
                status=status,
                stderr=diagnostics,
                error_type="OutOfMemory" if status is CellStatus.out_of_memory else "KernelDied",
                error_message=f"{why} ({died})",
                duration_s=time.monotonic() - started,
            )
        return self._result(reply)

    def _result(self, reply: dict[str, Any]) -> CellResult:
        status = CellStatus.ok if reply.get("status") == "ok" else CellStatus.error
        error_type, error_message = reply.get("error_type"), reply.get("error_message")
        if error_type == "MemoryError":  # the allocation failed inside Python
            status = CellStatus.out_of_memory
        elif reply.get("oom_kill"):  # the kernel survived, a process it started did not
            status = CellStatus.out_of_memory
            error_type = error_type or "OutOfMemory"
            error_message = (
                f"a process of this cell was killed for exceeding the memory limit ({self.spec.limits.memory})"
                + (f"; the cell's error was: {error_message}" if error_message else "")
            )
        if reply.get("pids_limit_hit"):
            # whatever forked is still multiplying: stop every process of the kernel, for real
            self._stop_kernel()
            limit = self.spec.limits.pids
            self._dead_reason = (
                f"the previous cell hit the process limit ({limit}) and the kernel was stopped"
            )
            status = CellStatus.killed
            error_message = (
                f"the cell hit the sandbox's process limit ({limit} processes/threads); the kernel and all its "
                f"processes were stopped (restart(replay=[...]) rebuilds the namespace); the cell's error was: "
                f"{error_type}: {error_message}"
            )
            error_type = "PidsLimitReached"
        return CellResult(
            status=status,
            stdout=reply.get("stdout", ""),
            stderr=reply.get("stderr", ""),
            error_type=error_type,
            error_message=error_message,
            traceback=reply.get("traceback"),
            duration_s=float(reply.get("duration_s", 0.0)),
            stdout_truncated=bool(reply.get("stdout_truncated", False)),
            stderr_truncated=bool(reply.get("stderr_truncated", False)),
        )

    def restart(self, replay: list[str] | None = None) -> list[CellResult]:
        """Fresh kernel, then `replay` in order; stops after the first cell that is not ok.

        The returned list is shorter than `replay` exactly when a cell failed (it is the last one).
        """
        self._check_open()
        self._stop_kernel()
        self._start_kernel()
        results = []
        for code in replay or []:
            result = self.run_cell(code)
            results.append(result)
            if not result.ok:
                break
        return results

    def _check_open(self) -> None:
        if self._closed:
            raise GenoteamError(f"sandbox session {self.session_id} is closed", "open a new session")

    # ------------------------------------------------------------ files
    def _host_path(self, sandbox_path: str) -> tuple[Path, bool] | None:
        """The host path behind `sandbox_path` and whether it is writable; None when not mounted.

        Symlinks are resolved on the host and must stay inside the mount, so code in the sandbox
        cannot make the host read or write a file outside the folders it was given.
        """
        normal = posixpath.normpath(sandbox_path)
        for prefix, host_dir, writable in self._mounts():
            relative = posixpath.relpath(normal, prefix)
            if relative == ".." or relative.startswith("../"):
                continue
            root = host_dir.resolve()
            candidate = (root / relative).resolve()
            if candidate != root and root not in candidate.parents:
                raise GenoteamError(
                    f"{sandbox_path} leads outside its mounted folder (to {candidate})",
                    "copy files by their real paths inside the work folder",
                )
            return candidate, writable
        return None

    def put_file(self, host_path: Path, sandbox_path: str) -> None:
        self._check_open()
        host_path = Path(host_path)
        mapped = self._host_path(sandbox_path)
        if mapped is not None:
            target, writable = mapped
            if not writable:
                raise GenoteamError(
                    f"{sandbox_path} is in a read-only input folder", f"put files under {self.work_path}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(host_path, target)
            self._hand_over(target)
            return
        data = host_path.read_bytes()
        if len(data) > PROTOCOL_FILE_LIMIT:
            raise GenoteamError(
                f"{host_path} ({len(data)} bytes) is too large to send to {sandbox_path} through the kernel",
                f"put large files under the work folder {self.work_path}",
            )
        self._file_request(
            {"op": "put", "path": sandbox_path, "data_b64": base64.b64encode(data).decode("ascii")}
        )

    def get_file(self, sandbox_path: str, host_path: Path) -> None:
        self._check_open()
        host_path = Path(host_path)
        mapped = self._host_path(sandbox_path)
        host_path.parent.mkdir(parents=True, exist_ok=True)
        if mapped is not None:
            source, _ = mapped
            if not source.is_file():
                raise GenoteamError(
                    f"{sandbox_path} does not exist in the sandbox (or is not a file)", "check the path"
                )
            shutil.copyfile(source, host_path)
            return
        reply = self._file_request({"op": "get", "path": sandbox_path, "max_bytes": PROTOCOL_FILE_LIMIT})
        host_path.write_bytes(base64.b64decode(reply["data_b64"]))

    def _hand_over(self, path: Path) -> None:  # noqa: B027 - a no-op unless the backend maps users
        """Make a file the host put into the work folder usable by the sandbox user."""

    def _file_request(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._conn is None:
            raise GenoteamError(
                f"no kernel runs in this session to copy {request['path']}", "call restart() first"
            )
        try:
            reply = self._conn.request(request, timeout_s=FILE_OP_TIMEOUT_S)
        except (KernelDied, KernelTimeout) as error:
            self._stop_kernel()
            self._dead_reason = f"the kernel failed while copying a file ({type(error).__name__})"
            raise GenoteamError(
                f"copying {request['path']} failed: {self._dead_reason}", "call restart()"
            ) from error
        if reply.get("status") != "ok":
            raise GenoteamError(
                f"copying {request['path']} in the sandbox failed: {reply.get('error_type')}: {reply.get('error_message')}",
                "check the path and its permissions inside the sandbox",
            )
        return reply


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Give a folder tree to the sandbox user (only root can, and only root needs to)."""
    os.chown(path, uid, gid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
