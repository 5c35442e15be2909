"""A real HTTP server on 127.0.0.1 serving a folder in GEO's URL layout, with fault injection.

The server is Python's http.server (folder listings included, as NCBI's HTTPS mirror has), in a
thread. Faults are set per URL path: fail the first N requests with HTTP 503, cut the body short
(with or without a Content-Length), or stall longer than the client's timeout. Every request is
logged so tests can prove a cached accession causes no request at all.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Faults:
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> number of 503 answers
    truncate: dict[str, int] = field(default_factory=dict)  # path -> number of truncated answers (-1: always)
    truncate_without_length: set[str] = field(default_factory=set)
    stall_s: dict[str, float] = field(default_factory=dict)


@dataclass
class GeoServer:
    root: Path  # the served folder: <root>/geo/series/...
    base_url: str  # what the client gets as GEO base URL
    faults: Faults
    requests: list[str]

    def count(self, suffix: str) -> int:
        return sum(1 for r in self.requests if r.endswith(suffix))

    def add(self, accession: str, kind: str, source: Path, name: str | None = None) -> str:
        """Place `source` where GEO keeps it (symlink); returns the URL path the client requests."""
        digits = accession[3:]
        folder = self.root / "geo" / "series" / f"GSE{digits[:-3]}nnn" / accession / kind
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (name or source.name)
        try:
            target.symlink_to(source)
        except OSError:
            shutil.copyfile(source, target)
        return "/" + str(target.relative_to(self.root))


def _handler(root: Path, faults: Faults, log: list[str], lock: threading.Lock):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            with lock:
                log.append(path)
                failing = faults.fail_first.get(path, 0)
                if failing > 0:
                    faults.fail_first[path] = failing - 1
                truncating = faults.truncate.get(path, 0)
                if truncating > 0:
                    faults.truncate[path] = truncating - 1
            if path in faults.stall_s:
                time.sleep(faults.stall_s[path])
            if failing > 0:
                self.send_error(503, "simulated outage")
                return
            if truncating != 0 or path in faults.truncate_without_length:
                body = (root / path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if path not in faults.truncate_without_length:
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            super().do_GET()

    return Handler


@pytest.fixture
def geo_server(tmp_path: Path) -> Iterator[GeoServer]:
    """An empty GEO tree on a free loopback port; tests add files with `add_geo_file`."""
    root = tmp_path / "served"
    (root / "geo" / "series").mkdir(parents=True)
    faults = Faults()
    log: list[str] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, faults, log, threading.Lock()))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield GeoServer(root, f"http://{host}:{port}/geo", faults, log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
