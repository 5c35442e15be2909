"""The kernel: a small Python process that runs analysis cells in one persistent namespace.

It runs INSIDE the sandbox (as /opt/genoteam/kernel.py in the image, or as a subprocess for the
local backend), so it uses the standard library only and imports nothing from genoteam.

Protocol (framed JSON over the process's original stdin/stdout): every message is the ASCII
decimal length of a UTF-8 JSON payload, a newline, then the payload. The kernel first sends
`{"op": "hello", ...}`; then for each request it sends exactly one reply carrying the request's
`id`. Requests: `run` (code, output_limit), `put` (path, data_b64), `get` (path, max_bytes),
`ping`, `shutdown`.

Why fd-level capture: generated code may print from C extensions or subprocesses, which write to
file descriptors 1 and 2 directly; if those reached the protocol stream they would corrupt it.
So the kernel moves the protocol to private descriptors and points fds 1/2 at pipes that
reader threads drain into bounded buffers (the code can print 100 MB without the kernel holding
it, and truncation is always reported).
"""

from __future__ import annotations

import base64
import json
import linecache
import os
import secrets
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO

PROTOCOL_VERSION = 1
MAX_HEADER_BYTES = 24
TRUNCATION_MARKER = "\n[... genoteam: {omitted} bytes of {stream} omitted (limit {limit} bytes) ...]\n"
CLIP_MARKER = "\n[... genoteam: {omitted} characters of {name} omitted (limit {limit} characters) ...]\n"
ERROR_MESSAGE_LIMIT = 8_000  # characters of an exception's message kept (head 3/4, tail 1/4)
TRACEBACK_LIMIT = 20_000  # characters of a traceback kept


def clip_text(text: str, limit: int, name: str) -> str:
    """`text` within `limit` characters: its first 3/4 and last 1/4, saying how much was cut.

    The host applies it again to every reply (a cell can forge frames), so this is one rule.
    """
    if len(text) <= limit:
        return text
    tail = limit // 4
    head = limit - tail
    marker = CLIP_MARKER.format(omitted=len(text) - head - tail, name=name, limit=limit)
    return text[:head] + marker + (text[-tail:] if tail else "")


# ---------------------------------------------------------------- framing (shared with the host)
def encode_frame(message: dict[str, Any]) -> bytes:
    """One message as bytes: length line, then the JSON payload."""
    payload = json.dumps(message, ensure_ascii=False).encode("utf-8")
    return str(len(payload)).encode("ascii") + b"\n" + payload


def write_frame(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(encode_frame(message))
    stream.flush()


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """Read one message; None at a clean end of stream."""
    header = stream.readline(MAX_HEADER_BYTES)
    if not header:
        return None
    if not header.endswith(b"\n") or not header[:-1].isdigit():
        raise ValueError(f"bad frame header {header[:MAX_HEADER_BYTES]!r}")
    size = int(header)
    payload = stream.read(size)
    if len(payload) != size:
        raise ValueError(f"stream ended inside a frame ({len(payload)} of {size} bytes)")
    return json.loads(payload.decode("utf-8"))


# ---------------------------------------------------------------- bounded output capture
class BoundedCapture:
    """Keeps the head and the tail of a byte stream within `limit`, counting what it drops."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = max(0, int(limit))
        self.tail_limit = self.limit // 4
        self.head_limit = self.limit - self.tail_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data and self.tail_limit:
            self.tail += data
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        if not self.truncated:
            return head + self.tail.decode("utf-8", errors="replace")
        omitted = self.total - len(self.head) - len(self.tail)
        marker = TRUNCATION_MARKER.format(omitted=omitted, stream=self.name, limit=self.limit)
        return head + marker + self.tail.decode("utf-8", errors="replace")


class FdPump:
    """Drains one pipe (what fd 1 or 2 now points at) into the current cell's capture.

    `sync()` writes a per-kernel random token into the pipe and waits until the reader has seen
    it, so everything the cell wrote before is in the capture when the reply is built.
    """

    def __init__(self, read_fd: int, write_fd: int, name: str) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.token = b"\x00genoteam-sync-" + secrets.token_hex(8).encode() + b"\x00"
        self.capture = BoundedCapture(name, 0)
        self.lock = threading.Lock()
        self.synced = threading.Event()
        self.pending = b""
        threading.Thread(target=self._drain, name=f"pump-{name}", daemon=True).start()

    def _drain(self) -> None:
        keep = len(self.token) - 1
        while True:
            try:
                chunk = os.read(self.read_fd, 1 << 16)
            except InterruptedError:
                continue
            if not chunk:
                return
            data = self.pending + chunk
            while True:
                index = data.find(self.token)
                if index < 0:
                    break
                with self.lock:
                    self.capture.add(data[:index])
                self.synced.set()
                data = data[index + len(self.token) :]
            # hold back a possible partial token at the end
            cut = max(0, len(data) - keep)
            with self.lock:
                self.capture.add(data[:cut])
            self.pending = data[cut:]

    def reset(self, name: str, limit: int) -> None:
        with self.lock:
            self.capture = BoundedCapture(name, limit)

    def sync(self, timeout_s: float = 5.0) -> bool:
        self.synced.clear()
        os.write(self.write_fd, self.token)  # <= PIPE_BUF, so written atomically
        return self.synced.wait(timeout_s)


# ---------------------------------------------------------------- cgroup counters
# How often the container's cgroup refused a process (pids limit) or OOM-killed one: read before
# and after each cell, so the host learns what the cell ran into even when the kernel survived.
PIDS_EVENTS = (("/sys/fs/cgroup/pids/pids.events", "max"), ("/sys/fs/cgroup/pids.events", "max"))
OOM_EVENTS = (
    ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ("/sys/fs/cgroup/memory.events", "oom_kill"),
)


def cgroup_counter(sources: tuple[tuple[str, str], ...]) -> int | None:
    """The first readable `key value` counter of (file, key) pairs (cgroup v1, v2); None outside a container."""
    for path, wanted in sources:
        try:
            with open(path, encoding="ascii") as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == wanted:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


# ---------------------------------------------------------------- the kernel
class Kernel:
    def __init__(self) -> None:
        self.pid = os.getpid()
        # The protocol keeps private copies of the original stdin/stdout.
        self.proto_in = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
        self.proto_out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)  # input() in a cell sees end of file, never the protocol
        os.close(null_fd)
        self.pumps = []
        for fd, name in ((1, "stdout"), (2, "stderr")):
            read_fd, write_fd = os.pipe()
            os.dup2(write_fd, fd)
            # the pump keeps write_fd: its sync token reaches the pipe even if a cell rebinds fd 1/2
            self.pumps.append(FdPump(read_fd, write_fd, name))
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)  # noqa: SIM115
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self.cell_count = 0

    def hello(self) -> dict[str, Any]:
        return {
            "op": "hello",
            "protocol": PROTOCOL_VERSION,
            "pid": self.pid,
            "python": sys.version.split()[0],
            "cwd": os.getcwd(),
            "uid": os.getuid(),
        }

    def serve(self) -> None:
        write_frame(self.proto_out, self.hello())
        while True:
            request = read_frame(self.proto_in)
            if request is None or request.get("op") == "shutdown":
                if request is not None:
                    write_frame(self.proto_out, {"id": request.get("id"), "status": "ok"})
                return
            reply = self.handle(request)
            if os.getpid() != self.pid:  # a forked child of a cell came back here: never answer
                os._exit(0)
            reply["id"] = request.get("id")
            write_frame(self.proto_out, reply)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        try:
            if op == "run":
                return self.run(str(request.get("code", "")), int(request.get("output_limit", 1_000_000)))
            if op == "put":
                return self.put(str(request["path"]), base64.b64decode(request["data_b64"]))
            if op == "get":
                return self.get(str(request["path"]), int(request.get("max_bytes", 64 << 20)))
            if op == "ping":
                return {"status": "ok", "pid": self.pid}
            return {"status": "error", "error_type": "ProtocolError", "error_message": f"unknown op {op!r}"}
        except Exception as error:  # a broken request must not kill the kernel
            return {"status": "error", "error_type": type(error).__name__, "error_message": str(error)}

    def run(self, code: str, output_limit: int) -> dict[str, Any]:
        self.cell_count += 1
        filename = f"<cell-{self.cell_count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        for pump in self.pumps:
            pump.reset(pump.capture.name, output_limit)
        error: BaseException | None = None
        pids_before, oom_before = cgroup_counter(PIDS_EVENTS), cgroup_counter(OOM_EVENTS)
        started = time.monotonic()
        try:
            compiled = compile(code, filename, "exec")
            exec(compiled, self.namespace)  # noqa: S102 - running the cell is the kernel's job
        except BaseException as caught:  # SystemExit and KeyboardInterrupt are cell errors too
            error = caught
        duration = time.monotonic() - started
        if os.getpid() != self.pid:
            os._exit(1 if error else 0)
        self._flush_streams()
        if error is not None:
            # Drop the kernel's own frame so the traceback starts at the cell.
            tb = error.__traceback__.tb_next if error.__traceback__ is not None else None
            text = clip_text(
                "".join(traceback.format_exception(type(error), error, tb)), TRACEBACK_LIMIT, "traceback"
            )
            error.__traceback__ = None
        reply: dict[str, Any] = {"status": "ok" if error is None else "error", "duration_s": duration}
        if pids_before is not None:
            # a fork bomb's children outlive the cell; the host stops them all when this is set
            reply["pids_limit_hit"] = (cgroup_counter(PIDS_EVENTS) or 0) > pids_before
        if oom_before is not None:
            # a process the cell started was OOM-killed while the kernel itself survived
            reply["oom_kill"] = (cgroup_counter(OOM_EVENTS) or 0) > oom_before
        for pump in self.pumps:
            with pump.lock:
                reply[pump.capture.name] = pump.capture.text()
                reply[f"{pump.capture.name}_truncated"] = pump.capture.truncated
                reply[f"{pump.capture.name}_bytes"] = pump.capture.total
        if error is not None:
            message = clip_text(_message_of(error), ERROR_MESSAGE_LIMIT, "error message")
            reply.update(error_type=type(error).__name__, error_message=message, traceback=text)
        return reply

    def _flush_streams(self) -> None:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:  # a cell may have closed or replaced a stream
                pass
        for pump in self.pumps:
            try:
                pump.sync()
            except OSError:  # cannot happen unless a cell closed the pump's own descriptor
                pass
        # cells may rebind sys.stdout; give the next cell working streams again
        if sys.stdout is None or getattr(sys.stdout, "closed", False):
            sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)  # noqa: SIM115
        if sys.stderr is None or getattr(sys.stderr, "closed", False):
            sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)  # noqa: SIM115

    def put(self, path: str, data: bytes) -> dict[str, Any]:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        return {"status": "ok", "bytes": len(data)}

    def get(self, path: str, max_bytes: int) -> dict[str, Any]:
        size = os.path.getsize(path)
        if size > max_bytes:
            return {
                "status": "error",
                "error_type": "FileTooLarge",
                "error_message": f"{path} has {size} bytes, more than the {max_bytes} bytes allowed over the protocol",
            }
        with open(path, "rb") as handle:
            data = handle.read()
        return {"status": "ok", "data_b64": base64.b64encode(data).decode("ascii"), "bytes": len(data)}


def _message_of(error: BaseException) -> str:
    try:
        return str(error)
    except Exception as broken:  # a hostile __str__
        return f"(the exception's message could not be read: {type(broken).__name__})"


def main() -> None:
    Kernel().serve()


if __name__ == "__main__":
    main()
