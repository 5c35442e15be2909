"""Fetching a GEO series' files over HTTPS into the content-addressed cache, once.

NCBI serves GEO's FTP tree over HTTPS (https://ftp.ncbi.nlm.nih.gov/geo/):
```
<base>/series/<stub>/<GSE>/matrix/<GSE>[-GPLnnn]_series_matrix.txt.gz   one per platform
<base>/series/<stub>/<GSE>/soft/<GSE>_family.soft.gz
```
where <stub> is the accession with its last three digits replaced by 'nnn' (GSE781 -> GSEnnn,
GSE12345 -> GSE12nnn). The matrix folder is listed (an HTML index) because multi-platform series
have one matrix per platform; when the listing is unavailable the single-platform name is tried.

Guarantees:
- Timeouts on every request; transient failures (connection errors, timeouts, HTTP 5xx/429/408,
  truncated bodies) are retried with exponential backoff; 404 means "this kind of file does not
  exist for the accession" and is not retried.
- Integrity: the body must match Content-Length, a .gz file must decompress to its end, and an
  expected sha256 (when the caller knows one) must match. Nothing unverified enters the cache.
- Fetched once: the accession's reference in the cache lists its files and their sha256; a
  second call reads the cache and makes no request. Blobs are re-hashed on every use.
- No network: a GenoteamError naming the accession, the URL tried and the cache folder.

The base URL is configurable (argument, or $GENOTEAM_GEO_BASE_URL) so tests serve GEO's layout
from a local HTTP server.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from genoteam.data.cache import ContentCache, copy_out
from genoteam.toolkit.errors import GenoteamError

DEFAULT_GEO_BASE_URL = "https://ftp.ncbi.nlm.nih.gov/geo"
BASE_URL_ENV = "GENOTEAM_GEO_BASE_URL"
GSE = re.compile(r"^GSE[1-9][0-9]*$")
KINDS = ("matrix", "soft")
REF_NAMESPACE = "geo"
USER_AGENT = "genoteam-geo-download/1 (+https://github.com/)"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class DownloadPolicy:
    """How hard to try: `attempts` in total per file, sleeping backoff_s * 2**n (capped) between."""

    timeout_s: float = 60.0
    attempts: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * (2 ** max(0, failures - 1)))


@dataclass(frozen=True)
class GeoFile:
    """One fetched file: where it came from, its checksum and its place in the cache."""

    accession: str
    kind: str
    name: str
    url: str
    sha256: str
    size: int
    path: Path


@dataclass(frozen=True)
class GeoFetchResult:
    accession: str
    files: list[GeoFile]
    missing_kinds: list[str] = field(default_factory=list)
    from_cache: bool = False

    def place_into(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Put the files, under their GEO names, into a GenoTEX-layout cohort folder
        (e.g. DIR/GEO/<Trait>/<GSE>/)."""
        return [copy_out(f.path, Path(folder) / f.name) for f in self.files]


class _NotFound(Exception):
    pass


class _Transient(Exception):
    pass


def series_stub(accession: str) -> str:
    """GSE781 -> 'GSEnnn', GSE12345 -> 'GSE12nnn' (GEO's folder of 1000 accessions)."""
    digits = _check_accession(accession)[3:]
    return f"GSE{digits[:-3]}nnn"


def series_url(accession: str, base_url: str | None = None) -> str:
    base = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_GEO_BASE_URL).rstrip("/")
    scheme = urllib.parse.urlparse(base).scheme
    if scheme not in {"http", "https"}:
        raise GenoteamError(f"GEO base URL {base!r} is not http(s)", f"set {BASE_URL_ENV} to an https:// URL")
    return f"{base}/series/{series_stub(accession)}/{accession}"


def _check_accession(accession: str) -> str:
    if not GSE.match(str(accession)):
        raise GenoteamError(f"{accession!r} is not a GEO series accession", "use an accession such as GSE781")
    return str(accession)


# ----------------------------------------------------------------------------- HTTP
_DEFAULT = urllib.request.build_opener()
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    host = urllib.parse.urlparse(url).hostname or ""
    # loopback (tests, local mirrors) never goes through a proxy from the environment
    opener = _DIRECT if host in {"127.0.0.1", "localhost", "::1"} else _DEFAULT
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in (404, 410):
            raise _NotFound(f"HTTP {error.code} for {url}") from error
        if error.code in RETRY_STATUS:
            raise _Transient(f"HTTP {error.code} for {url}") from error
        raise GenoteamError(f"HTTP {error.code} fetching {url}", "check the GEO base URL") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise _Transient(f"{type(error).__name__}: {getattr(error, 'reason', error)} for {url}") from error


def _download_to(url: str, dest: Path, timeout: float) -> tuple[str, int]:
    """Stream `url` into `dest`, returning (sha256, size); checks Content-Length."""
    digest = hashlib.sha256()
    size = 0
    with _open(url, timeout) as response:
        expected = response.headers.get("Content-Length")
        try:
            with open(dest, "wb") as out:
                while block := response.read(1 << 20):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
        except (http.client.IncompleteRead, TimeoutError, ConnectionError, OSError) as error:
            raise _Transient(
                f"transfer of {url} broke off after {size} bytes ({type(error).__name__})"
            ) from error
    if expected is not None and expected.isdigit() and int(expected) != size:
        raise _Transient(f"truncated response from {url}: {size} of {expected} bytes")
    return digest.hexdigest(), size


def _check_gzip(path: Path, url: str) -> None:
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
        raise _Transient(f"{url} is not a complete gzip file ({error})") from error


def _fetch_text(url: str, policy: DownloadPolicy, sleep: Callable[[float], None]) -> str:
    def attempt() -> str:
        with _open(url, policy.timeout_s) as response:
            try:
                return response.read().decode("utf-8", errors="replace")
            except (http.client.IncompleteRead, OSError) as error:
                raise _Transient(f"listing {url} broke off ({type(error).__name__})") from error

    return _with_retries(attempt, policy, sleep)


def _with_retries(action: Callable[[], object], policy: DownloadPolicy, sleep: Callable[[float], None]):
    failures: list[str] = []
    for attempt in range(1, max(1, policy.attempts) + 1):
        try:
            return action()
        except _Transient as error:
            failures.append(str(error))
            if attempt < policy.attempts:
                sleep(policy.delay(attempt))
    raise _Transient(f"{len(failures)} attempts failed; last: {failures[-1]}")


# ----------------------------------------------------------------------------- listing
def matrix_names_from_listing(html: str, accession: str) -> list[str]:
    """Series-matrix file names in an HTML folder listing (NCBI's or any server's)."""
    pattern = re.compile(rf"^{re.escape(accession)}(-GPL\d+)?_series_matrix\.txt\.gz$")
    names = {
        urllib.parse.unquote(href.rstrip("/").rsplit("/", 1)[-1])
        for href in re.findall(r'href="([^"]+)"', html)
    }
    return sorted(n for n in names if pattern.match(n))


def _candidate_files(
    accession: str, kind: str, base: str, policy: DownloadPolicy, sleep: Callable[[float], None]
) -> list[tuple[str, str]]:
    """(name, url) pairs to fetch for one kind; empty when GEO has none of that kind."""
    if kind == "soft":
        name = f"{accession}_family.soft.gz"
        return [(name, f"{base}/soft/{name}")]
    try:
        names = matrix_names_from_listing(_fetch_text(f"{base}/matrix/", policy, sleep), accession)
    except _NotFound:
        return []
    if not names:  # a listing we could not parse: try the single-platform name
        names = [f"{accession}_series_matrix.txt.gz"]
    return [(n, f"{base}/matrix/{urllib.parse.quote(n)}") for n in names]


# ----------------------------------------------------------------------------- fetch
def fetch_geo_series(
    accession: str,
    kinds: Iterable[str] = KINDS,
    *,
    base_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    policy: DownloadPolicy | None = None,
    expected_sha256: Mapping[str, str] | None = None,
    offline: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> GeoFetchResult:
    """The series-matrix and/or family SOFT files of `accession`, from the cache or downloaded.

    `expected_sha256` maps file names to known checksums (verified when given). `offline=True`
    never touches the network (an uncached accession is an error). Raises GenoteamError when no
    requested file can be obtained."""
    accession = _check_accession(accession)
    kinds = sorted(set(kinds), key=KINDS.index) if kinds else list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise GenoteamError(f"unknown GEO file kind(s) {unknown}", f"choose among {list(KINDS)}")
    cache = ContentCache(cache_dir)
    policy = policy or DownloadPolicy()
    key = f"{accession}-{'-'.join(kinds)}"
    with cache.lock(REF_NAMESPACE, key):
        cached = _from_cache(cache, key, accession, expected_sha256)
        if cached is not None:
            return cached
        if offline:
            raise GenoteamError(
                f"GEO {accession} is not in the cache {cache.root} and offline mode forbids downloading it",
                f"run once with network access, or place its files in <input>/GEO/<Trait>/{accession}/",
            )
        result = _download(cache, accession, kinds, base_url, policy, expected_sha256 or {}, sleep)
        cache.write_ref(
            REF_NAMESPACE,
            key,
            {
                "accession": accession,
                "kinds": kinds,
                "missing_kinds": result.missing_kinds,
                "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "files": [
                    {"kind": f.kind, "name": f.name, "url": f.url, "sha256": f.sha256, "size": f.size}
                    for f in result.files
                ],
            },
        )
        return result


def _from_cache(
    cache: ContentCache, key: str, accession: str, expected: Mapping[str, str] | None
) -> GeoFetchResult | None:
    ref = cache.read_ref(REF_NAMESPACE, key)
    if not ref or not ref.get("files"):
        return None
    files = []
    for entry in ref["files"]:
        sha = entry.get("sha256", "")
        if expected and entry["name"] in expected and expected[entry["name"]] != sha:
            return None
        if not cache.has_valid_blob(sha):  # missing or corrupt: fetch again
            return None
        files.append(
            GeoFile(
                accession,
                entry["kind"],
                entry["name"],
                entry["url"],
                sha,
                entry["size"],
                cache.blob_path(sha),
            )
        )
    return GeoFetchResult(accession, files, list(ref.get("missing_kinds", [])), from_cache=True)


def _download(
    cache: ContentCache,
    accession: str,
    kinds: list[str],
    base_url: str | None,
    policy: DownloadPolicy,
    expected: Mapping[str, str],
    sleep: Callable[[float], None],
) -> GeoFetchResult:
    base = series_url(accession, base_url)
    files: list[GeoFile] = []
    missing: list[str] = []
    try:
        for kind in kinds:
            found = False
            for name, url in _candidate_files(accession, kind, base, policy, sleep):
                try:
                    files.append(
                        _download_one(cache, accession, kind, name, url, policy, expected.get(name), sleep)
                    )
                    found = True
                except _NotFound:
                    continue
            if not found:
                missing.append(kind)
    except _Transient as error:
        raise GenoteamError(
            f"could not download GEO {accession} from {base}: {error}; nothing usable is cached for it in {cache.root}",
            f"check the network (or {BASE_URL_ENV}), then retry; or place its files in <input>/GEO/<Trait>/{accession}/",
        ) from error
    if not files:
        raise GenoteamError(
            f"GEO {accession}: no {' or '.join(kinds)} file found under {base}",
            "check the accession (is it a public series?) and the GEO base URL",
        )
    return GeoFetchResult(accession, files, missing)


def _download_one(
    cache: ContentCache,
    accession: str,
    kind: str,
    name: str,
    url: str,
    policy: DownloadPolicy,
    expected_sha: str | None,
    sleep: Callable[[float], None],
) -> GeoFile:
    def attempt() -> GeoFile:
        temp = cache.new_temp_file()
        try:
            sha, size = _download_to(url, temp, policy.timeout_s)
            if name.endswith(".gz"):
                _check_gzip(temp, url)
            if expected_sha and sha != expected_sha:
                raise _Transient(f"{url}: sha256 {sha} differs from the expected {expected_sha}")
            cache.adopt(temp, sha)
            return GeoFile(accession, kind, name, url, sha, size, cache.blob_path(sha))
        finally:
            temp.unlink(missing_ok=True)

    return _with_retries(attempt, policy, sleep)
