"""HTTP for every download and query of genoteam.data: timeouts, retries, rate limits, resumes.

Why one module: GEO files, NCBI E-utilities and UCSC Xena all need the same guarantees, and a
rule written once cannot drift:
- a timeout on every request; transient failures (connection errors, timeouts, HTTP
  408/425/429/5xx, bodies that break off) are retried with exponential backoff, while 404/410
  mean "no such file" and are not retried;
- a download that breaks off resumes where it stopped (HTTP Range) instead of starting over,
  also after the process died (the partial file is kept per URL in the cache's tmp/);
- sizes are bounded (a Content-Length or a body larger than the bound is refused);
- requests to one service are spaced to its documented rate (E-utilities: 3 per second, 10 with
  an API key), for every client in this process and, through a lock file in the cache, for every
  process sharing that cache (server workers);
- loopback URLs (tests, local mirrors) never go through a proxy from the environment.
Plain urllib: no extra dependency.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import http.client
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from genoteam.data.cache import ContentCache, sha256_of_file
from genoteam.toolkit.errors import GenoteamError

USER_AGENT = "genoteam/1 (gene-expression analysis; +https://pypi.org/project/genoteam/)"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_TEXT_BYTES = 64 << 20  # a listing or a JSON answer larger than this is not what we asked for
T = TypeVar("T")


@dataclass(frozen=True)
class DownloadPolicy:
    """How hard to try: `attempts` in total per request, sleeping backoff_s * 2**n (capped)
    between them; `max_bytes` bounds one file."""

    timeout_s: float = 60.0
    attempts: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_bytes: int = 4 << 30

    def delay(self, failures: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * (2 ** max(0, failures - 1)))


class NotFound(Exception):
    """The server says the resource does not exist (404/410)."""


class Transient(Exception):
    """A failure worth retrying."""


class RateLimiter:
    """At most `per_second` request starts per second, shared by the threads of this process and,
    with `shared_file`, by every process that uses the same file (server workers share the
    workspace cache): the next allowed start is kept there under an exclusive lock.
    Starts are spaced 10% wider than 1/per_second: a request that leaves a little late must not
    arrive in the same second as the next one's predecessors (the server counts arrivals)."""

    def __init__(self, per_second: float, shared_file: Path | None = None) -> None:
        self.interval = 1.1 / per_second
        self.shared_file = shared_file
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.time()
            if self.shared_file is None:
                start = max(now, self._next)
                self._next = start + self.interval
            else:
                self.shared_file.parent.mkdir(parents=True, exist_ok=True)
                with open(self.shared_file, "a+") as handle:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                    handle.seek(0)
                    try:
                        shared_next = float(handle.read().strip() or 0.0)
                    except ValueError:
                        shared_next = 0.0
                    start = max(now, shared_next)
                    handle.seek(0)
                    handle.truncate()
                    handle.write(f"{start + self.interval:.6f}")
                    handle.flush()
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        if start > now:
            time.sleep(start - now)


_LIMITERS: dict[tuple[str, float, str], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def rate_limiter(service_url: str, per_second: float, shared_dir: Path | None = None) -> RateLimiter:
    """The one limiter of a service (scheme + host + port) at a rate, for the whole process, and
    for every process using `shared_dir` (a file per service there)."""
    parts = urllib.parse.urlparse(service_url)
    service = f"{parts.scheme}://{parts.netloc}"
    shared = None
    if shared_dir is not None:
        shared = Path(shared_dir) / f"rate-{hashlib.sha256(service.encode()).hexdigest()[:16]}.next"
    key = (service, per_second, str(shared))
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault(key, RateLimiter(per_second, shared))


_DEFAULT = urllib.request.build_opener()
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def open_url(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> http.client.HTTPResponse:
    """Open `url`; NotFound for 404/410, Transient for what may pass, GenoteamError otherwise."""
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
    )
    opener = _DIRECT if (urllib.parse.urlparse(url).hostname or "") in LOOPBACK else _DEFAULT
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in (404, 410):
            raise NotFound(f"HTTP {error.code} for {url}") from error
        if error.code in RETRY_STATUS:
            raise Transient(f"HTTP {error.code} for {url}") from error
        raise GenoteamError(f"HTTP {error.code} fetching {url}", "check the base URL") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise Transient(f"{type(error).__name__}: {getattr(error, 'reason', error)} for {url}") from error


def with_retries(action: Callable[[], T], policy: DownloadPolicy, sleep: Callable[[float], None]) -> T:
    failures: list[str] = []
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            return action()
        except Transient as error:
            failures.append(str(error))
            if attempt < policy.attempts:
                sleep(policy.delay(attempt))
    raise Transient(f"{len(failures)} attempts failed; last: {failures[-1]}")


def fetch_text(
    url: str,
    policy: DownloadPolicy,
    sleep: Callable[[float], None] = time.sleep,
    limiter: RateLimiter | None = None,
) -> str:
    """A small text answer (a folder listing, a JSON document), retried, size-bounded."""

    def attempt() -> str:
        if limiter is not None:
            limiter.wait()
        with open_url(url, policy.timeout_s) as response:
            try:
                body = response.read(MAX_TEXT_BYTES + 1)
            except (http.client.IncompleteRead, OSError) as error:
                raise Transient(f"answer from {url} broke off ({type(error).__name__})") from error
        if len(body) > MAX_TEXT_BYTES:
            raise GenoteamError(f"answer from {url} exceeds {MAX_TEXT_BYTES:,} bytes", "check the base URL")
        return body.decode("utf-8", errors="replace")

    return with_retries(attempt, policy, sleep)


def partial_path(tmp_dir: Path, url: str) -> Path:
    """Where the unfinished download of `url` lives, so a later attempt or run resumes it."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return tmp_dir / f"partial-{hashlib.sha256(url.encode()).hexdigest()[:32]}"


def _too_large(url: str, size: int, policy: DownloadPolicy) -> GenoteamError:
    return GenoteamError(
        f"{url} is {size:,} bytes, over the download bound of {policy.max_bytes:,} bytes",
        "raise the bound (max_bytes / --max-download-mb) if this file is really needed",
    )


def download_resumable(url: str, dest: Path, policy: DownloadPolicy) -> int:
    """One attempt at completing `dest` from `url`, continuing from the bytes already in `dest`
    (Range request); returns the final size. Transient when the transfer breaks off (the bytes
    received are kept for the next attempt)."""
    have = dest.stat().st_size if dest.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = open_url(url, policy.timeout_s, headers)
    except GenoteamError as error:
        if have and "HTTP 416" in error.problem:  # our partial is longer than the file: start over
            dest.unlink(missing_ok=True)
            raise Transient(f"{url}: kept partial download no longer fits; starting over") from error
        raise
    with response:
        resumed = have > 0 and response.status == 206 and _range_start(response) == have
        length = response.headers.get("Content-Length")
        total = (have if resumed else 0) + (int(length) if length and length.isdigit() else 0)
        if total > policy.max_bytes:
            raise _too_large(url, total, policy)
        size = have if resumed else 0
        try:
            with open(dest, "ab" if resumed else "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
                    size += len(block)
                    if size > policy.max_bytes:
                        out.close()
                        dest.unlink(missing_ok=True)
                        raise _too_large(url, size, policy)
        except (http.client.IncompleteRead, TimeoutError, ConnectionError, OSError) as error:
            raise Transient(
                f"transfer of {url} broke off after {size:,} bytes ({type(error).__name__})"
            ) from error
    if length and length.isdigit() and size != (have if resumed else 0) + int(length):
        raise Transient(f"truncated response from {url}: {size:,} bytes, expected {total:,}")
    return size


def _range_start(response: http.client.HTTPResponse) -> int | None:
    """The first byte a 206 answer carries (`Content-Range: bytes START-END/TOTAL`)."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def check_gzip(path: Path, url: str) -> None:
    """A .gz payload must decompress to its end (catches truncation without a Content-Length)."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
        raise Transient(f"{url} is not a complete gzip file ({error})") from error


PayloadCheck = Callable[[Path], None]  # raises GenoteamError when the content is not what was asked for


def download_to_cache(
    cache: ContentCache,
    url: str,
    name: str,
    policy: DownloadPolicy,
    sleep: Callable[[float], None] = time.sleep,
    expected_sha: str | None = None,
    check: PayloadCheck | None = None,
) -> tuple[str, int]:
    """Download `url` (resuming broken transfers) and verify it before it enters the cache:
    gzip integrity for .gz names, the expected sha256 when one is published, and `check` (the
    expected columns). Returns (sha256, size). A payload that fails verification is deleted and
    never cached: a corrupt gzip or a checksum mismatch is retried from scratch, a failed
    `check` is final (GenoteamError)."""
    partial = partial_path(cache.root / "tmp", url)

    def attempt() -> tuple[str, int]:
        size = download_resumable(url, partial, policy)
        try:
            if name.endswith(".gz"):
                check_gzip(partial, url)
            sha = sha256_of_file(partial)
            if expected_sha and sha != expected_sha:
                raise Transient(f"{url}: sha256 {sha} differs from the expected {expected_sha}")
            if check is not None:
                check(partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        cache.adopt(partial, sha)
        return sha, size

    return with_retries(attempt, policy, sleep)
