"""What every backend shares: the cell/restart/file/close logic on top of a kernel connection.

A backend (docker, local) only says how to launch a kernel, how to kill it for real, why it died,
and where its folders are; the rules of a session (timeouts kill, a dead kernel is reported and
never silently replaced, output limits, replay) live here once.
"""

from __future__ import annotations

import base64
import logging
import posixpath
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from genoteam.sandbox import hostfs, lifecycle
from genoteam.sandbox.api import CellResult, CellStatus, SessionSpec
from genoteam.sandbox.kernel import ERROR_MESSAGE_LIMIT, TRACEBACK_LIMIT, clip_text
from genoteam.sandbox.pool import Slot
from genoteam.sandbox.quota import QuotaWatch
from genoteam.sandbox.transport import KernelConnection, KernelDied, KernelProtocolError, KernelTimeout
from genoteam.toolkit.errors import GenoteamError

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 60.0
FILE_OP_TIMEOUT_S = 120.0
PROTOCOL_FILE_LIMIT = 64 << 20  # files outside the mounted folders travel through the kernel
PROTOCOL_BROKEN = "the previous cell broke the kernel protocol and the kernel was stopped"


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
        self._watch: QuotaWatch | None = None
        # who starts this session's kernels: the cluster node (lifecycle.NODE_ENV) and process
        self.node = lifecycle.current_node()
        self.owner = lifecycle.owner_id()

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

    def _writable_folders(self) -> list[Path]:
        return [host for _path, host, writable in self._mounts() if writable]

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
            "node": self.node,
            "owner": self.owner,
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
        self._watch = QuotaWatch(self._writable_folders(), self.spec.limits, self._on_quota).start()

    def _on_quota(self, reason: str) -> None:
        """Called from the watch thread: stop the kernel now (the running cell reports why)."""
        log.warning("sandbox session %s: %s; stopping its kernel", self.session_id, reason)
        self._kill()

    def _stop_kernel(self, connection: KernelConnection | None = None) -> None:
        """Stop the kernel and free what it held. The stream is closed BEFORE the kill: an unread
        stream full of output would otherwise make the engine hold the kill until it times out."""
        connection = connection or self._conn
        self._conn = None
        if self._watch is not None:
            self._watch.stop()
        try:
            if connection is not None:
                connection.close()
        finally:
            try:
                self._kill()
            finally:
                self._dispose()
                for folder in self._writable_folders():
                    try:
                        hostfs.clear_special_bits(folder)
                    except OSError as error:  # never let the clean-up stop the session's close
                        log.warning("clearing setuid/setgid bits under %s failed: %s", folder, error)

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
            if self._quota_breach() is not None:
                return self._quota_result(started)
            return self._kernel_stopped(
                f"the previous cell ran past its {timeout:g}s timeout and the kernel was killed",
                started,
                status=CellStatus.timeout,
                error_type="CellTimeout",
                error_message=f"the cell ran longer than {timeout:g}s and was stopped; its kernel was killed "
                "(the namespace is lost: restart(replay=[...]) rebuilds it)",
            )
        except KernelProtocolError as broken:
            return self._kernel_stopped(
                PROTOCOL_BROKEN,
                started,
                status=CellStatus.protocol_error,
                error_type="ProtocolError",
                error_message=clip_text(
                    f"the kernel's reply broke the protocol ({broken}); the kernel was stopped "
                    "(restart(replay=[...]) rebuilds the namespace)",
                    ERROR_MESSAGE_LIMIT,
                    "error message",
                ),
            )
        except KernelDied as died:
            if self._quota_breach() is not None:
                return self._quota_result(started)
            diagnostics = self._conn.diagnostic_text() if self._conn else ""
            status, why = self._why_dead()
            return self._kernel_stopped(
                f"the previous cell ended the kernel: {why}",
                started,
                status=status,
                stderr=diagnostics,
                error_type="OutOfMemory" if status is CellStatus.out_of_memory else "KernelDied",
                error_message=f"{why} ({died})",
            )
        if self._quota_breach() is not None:  # broken right at the end: the kernel is being killed
            return self._quota_result(started)
        try:
            return self._result(reply)
        except (TypeError, ValueError) as wrong:  # well-formed JSON with the wrong fields
            return self._kernel_stopped(
                PROTOCOL_BROKEN,
                started,
                status=CellStatus.protocol_error,
                error_type="ProtocolError",
                error_message=f"the kernel's reply broke the protocol ({str(wrong)[:300]}); the kernel was stopped",
            )

    def _kernel_stopped(self, dead_reason: str, started: float, **result: Any) -> CellResult:
        """Stop the kernel a cell ended, timed out or broke, and say so: `dead_reason` is what the
        next cell is told, `result` this cell's CellResult fields."""
        self._stop_kernel()
        self._dead_reason = dead_reason
        return CellResult(duration_s=time.monotonic() - started, **result)

    def _quota_breach(self) -> str | None:
        """Why the watch stopped the kernel (it records the reason before it kills), or None."""
        return self._watch.reason if self._watch is not None else None

    def _quota_result(self, started: float) -> CellResult:
        reason = self._quota_breach() or "the work folder is over its quota"
        return self._kernel_stopped(
            f"the previous cell broke the disk quota ({reason}) and the kernel was stopped",
            started,
            status=CellStatus.disk_quota,
            error_type="DiskQuotaExceeded",
            error_message=f"{reason}; the kernel and all its processes were stopped. Write less (or "
            "raise SandboxLimits.disk_bytes/disk_files); the files already written stay in the work folder",
        )

    def _result(self, reply: dict[str, Any]) -> CellResult:
        """A CellResult from the kernel's reply, checked field by field and clipped on the host
        (code in the sandbox can write its own frames, so nothing in them is trusted)."""
        limit = self.spec.limits.output_limit_bytes + 512  # the kernel's own clip plus its marker
        fields = {
            "stdout": _field(reply, "stdout", str, ""),
            "stderr": _field(reply, "stderr", str, ""),
            "error_type": _field(reply, "error_type", str, None),
            "error_message": _field(reply, "error_message", str, None),
            "traceback": _field(reply, "traceback", str, None),
        }
        if reply.get("status") not in ("ok", "error"):
            raise ValueError(f"reply status {str(reply.get('status'))[:40]!r} is neither ok nor error")
        duration = _field(reply, "duration_s", (int, float), 0.0)
        reply = {
            **reply,
            "stdout": clip_text(fields["stdout"], limit, "stdout"),
            "stderr": clip_text(fields["stderr"], limit, "stderr"),
            "error_type": clip_text(fields["error_type"], 200, "error type")
            if fields["error_type"]
            else None,
            "error_message": (
                clip_text(fields["error_message"], ERROR_MESSAGE_LIMIT, "error message")
                if fields["error_message"] is not None
                else None
            ),
            "traceback": (
                clip_text(fields["traceback"], TRACEBACK_LIMIT, "traceback")
                if fields["traceback"] is not None
                else None
            ),
            "duration_s": float(duration),
        }
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
            stdout_truncated=bool(reply.get("stdout_truncated", False)) or len(fields["stdout"]) > limit,
            stderr_truncated=bool(reply.get("stderr_truncated", False)) or len(fields["stderr"]) > limit,
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
    def _host_path(self, sandbox_path: str) -> tuple[Path, Path, bool] | None:
        """(mounted host folder, host path, writable) behind `sandbox_path`; None when not mounted.

        The path is mapped lexically; links are never followed (hostfs opens every component with
        O_NOFOLLOW), so code in the sandbox cannot make the host read or write outside the folder.
        """
        normal = posixpath.normpath(sandbox_path)
        for prefix, host_dir, writable in self._mounts():
            relative = posixpath.relpath(normal, prefix)
            if relative == ".." or relative.startswith("../"):
                continue
            if relative == ".":
                raise GenoteamError(f"{sandbox_path} is a folder, not a file", "name a file inside it")
            return host_dir, host_dir / relative, writable
        return None

    def put_file(self, host_path: Path, sandbox_path: str) -> None:
        self._check_open()
        host_path = Path(host_path)
        data = host_path.read_bytes()
        mapped = self._host_path(sandbox_path)
        if mapped is not None:
            root, target, writable = mapped
            if not writable:
                raise GenoteamError(
                    f"{sandbox_path} is in a read-only input folder", f"put files under {self.work_path}"
                )
            try:
                hostfs.write_bytes(root, target, data)
            except hostfs.UnsafeFile as error:
                raise GenoteamError(f"cannot put {sandbox_path}: {error.problem}", error.hint) from error
            self._hand_over(target)
            return
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
        if mapped is not None:
            root, source, _ = mapped
            try:
                data = hostfs.read_bytes(root, source)
            except FileNotFoundError as error:
                raise GenoteamError(
                    f"{sandbox_path} does not exist in the sandbox", "check the path"
                ) from error
            except hostfs.UnsafeFile as error:
                raise GenoteamError(f"cannot get {sandbox_path}: {error.problem}", error.hint) from error
        else:
            reply = self._file_request({"op": "get", "path": sandbox_path, "max_bytes": PROTOCOL_FILE_LIMIT})
            data = base64.b64decode(_field(reply, "data_b64", str, ""))
        host_path.parent.mkdir(parents=True, exist_ok=True)
        host_path.write_bytes(data)

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


def _field(reply: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """reply[name] when it has the expected type (absent: `default`); ValueError otherwise."""
    value = reply.get(name, default)
    if value is default or isinstance(value, kind) and not isinstance(value, bool):
        return value
    raise ValueError(f"reply field {name!r} is a {type(value).__name__}")
