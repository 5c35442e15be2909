"""Byte pipes to a kernel process, and the framed request/reply conversation over them.

Two transports carry the same protocol (genoteam.sandbox.kernel): a Docker attach socket
(stdout and stderr multiplexed in 8-byte-header frames) and a local subprocess's pipes. Both
read with a deadline, so a cell that never answers is noticed on time and can be killed.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import subprocess
import time
from typing import Any, Protocol

from genoteam.sandbox.kernel import encode_frame

STDOUT, STDERR = 1, 2
DIAGNOSTIC_BYTES = 16_384  # how much of the kernel's own stderr is kept to explain a crash
# Code in the sandbox can reach the kernel's descriptors and write a forged header; the host must
# not buffer without bound (replies hold at most two bounded outputs or one 64 MB file in base64).
MAX_FRAME_BYTES = 256 << 20


class KernelTimeout(Exception):
    """No reply before the deadline."""


class KernelDied(Exception):
    """The kernel's stream ended: the process (or its container) is gone."""


class KernelProtocolError(Exception):
    """The kernel wrote something that is not a well-formed reply (code in the sandbox can)."""


class Transport(Protocol):
    def send(self, data: bytes) -> None: ...

    def read(self, timeout_s: float | None) -> tuple[int, bytes]:
        """One chunk as (STDOUT or STDERR, data); (STDOUT, b"") at end of stream; KernelTimeout."""
        ...

    def close(self) -> None: ...


def _wait_readable(fds: list[Any], timeout_s: float | None) -> list[Any]:
    ready, _, _ = select.select(fds, [], [], None if timeout_s is None else max(0.0, timeout_s))
    if not ready:
        raise KernelTimeout()
    return ready


class DockerAttachTransport:
    """The raw attach socket of a container started with stdin open and no TTY."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._sock: socket.socket = getattr(raw, "_sock", raw)
        self._buffer = bytearray()
        self._eof = False

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as error:
            raise KernelDied(f"cannot write to the kernel: {error}") from error

    def _fill(self, deadline: float | None) -> None:
        _wait_readable([self._sock], None if deadline is None else deadline - time.monotonic())
        try:
            chunk = self._sock.recv(1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            self._eof = True
        self._buffer += chunk

    def read(self, timeout_s: float | None) -> tuple[int, bytes]:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if len(self._buffer) >= 8:
                stream, size = struct.unpack(">BxxxL", bytes(self._buffer[:8]))
                if len(self._buffer) >= 8 + size:
                    data = bytes(self._buffer[8 : 8 + size])
                    del self._buffer[: 8 + size]
                    return (STDERR if stream == 2 else STDOUT), data
            if self._eof:
                return STDOUT, b""
            self._fill(deadline)

    def close(self) -> None:
        for closer in (self._sock, self._raw):
            try:
                closer.close()
            except OSError:
                pass


class SubprocessTransport:
    """stdin/stdout/stderr pipes of a local kernel process."""

    def __init__(self, process: subprocess.Popen) -> None:
        assert process.stdin and process.stdout and process.stderr
        self._process = process
        self._out = process.stdout.fileno()
        self._err = process.stderr.fileno()
        self._open = {self._out, self._err}

    def send(self, data: bytes) -> None:
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(data)
            self._process.stdin.flush()
        except (OSError, ValueError) as error:
            raise KernelDied(f"cannot write to the kernel: {error}") from error

    def read(self, timeout_s: float | None) -> tuple[int, bytes]:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._open:
            ready = _wait_readable(
                sorted(self._open), None if deadline is None else deadline - time.monotonic()
            )
            fd = self._out if self._out in ready else ready[0]
            data = os.read(fd, 1 << 20)
            if data:
                return (STDOUT if fd == self._out else STDERR), data
            self._open.discard(fd)
        return STDOUT, b""

    def close(self) -> None:
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


def decode_payload(payload: bytes) -> dict[str, Any]:
    """One frame's JSON object, or KernelProtocolError saying what is wrong with it."""
    try:  # the C decoder raises RecursionError on deep nesting instead of crashing
        message = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise KernelProtocolError(
            f"the kernel's reply is not valid JSON ({type(error).__name__}: {str(error)[:200]}): "
            f"{payload[:80]!r}"
        ) from error
    if not isinstance(message, dict):
        raise KernelProtocolError(f"the kernel's reply is a JSON {type(message).__name__}, not an object")
    return message


class KernelConnection:
    """Framed JSON requests and replies over a transport; collects the kernel's own stderr."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self.diagnostics = bytearray()
        self._next_id = 0

    def _read_message(self, deadline: float | None) -> dict[str, Any]:
        while True:
            newline = self._buffer.find(b"\n", 0, 32)
            if newline >= 0:
                header = bytes(self._buffer[:newline])
                if not header.isdigit():
                    raise KernelProtocolError(
                        f"the kernel wrote something that is not a frame: {bytes(self._buffer[:80])!r}"
                    )
                size = int(header)
                if size > MAX_FRAME_BYTES:
                    raise KernelProtocolError(
                        f"the kernel announced a {size}-byte frame, more than the {MAX_FRAME_BYTES} allowed"
                    )
                end = newline + 1 + size
                if len(self._buffer) >= end:
                    payload = bytes(self._buffer[newline + 1 : end])
                    del self._buffer[:end]
                    return decode_payload(payload)
            elif len(self._buffer) >= 32:
                raise KernelProtocolError(
                    f"the kernel wrote something that is not a frame: {bytes(self._buffer[:80])!r}"
                )
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise KernelTimeout()
            stream, data = self.transport.read(remaining)
            if stream == STDERR:
                self.diagnostics += data
                del self.diagnostics[:-DIAGNOSTIC_BYTES]
                continue
            if not data:
                raise KernelDied("the kernel's stream ended")
            self._buffer += data

    def hello(self, timeout_s: float) -> dict[str, Any]:
        message = self._read_message(time.monotonic() + timeout_s)
        if message.get("op") != "hello":
            raise KernelDied(f"the kernel did not greet as expected: {str(message)[:200]}")
        return message

    def request(self, message: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
        """Send one request and wait for its reply (KernelTimeout / KernelDied otherwise)."""
        self._next_id += 1
        message = dict(message, id=self._next_id)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.transport.send(encode_frame(message))
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                return reply

    def diagnostic_text(self) -> str:
        return self.diagnostics.decode("utf-8", errors="replace")

    def close(self) -> None:
        self.transport.close()
