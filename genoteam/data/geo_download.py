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
- Transport (genoteam.data.http): timeouts, retries with backoff, resumed transfers, size bounds;
  404 means "this kind of file does not exist for the accession" and is not retried.
- Integrity: the body must match Content-Length, a .gz file must decompress to its end, an
  expected sha256 (when the caller knows one) must match, and the content must be the kind asked
  for (a series matrix has its value table, a family SOFT its series and samples). Nothing
  unverified enters the cache.
- Fetched once: the accession's reference in the cache lists its files and their sha256; a
  second call reads the cache and makes no request. Blobs are re-hashed on every use.
- No network: a GenoteamError naming the accession, the URL tried and the cache folder.

The base URL is configurable (argument, or $GENOTEAM_GEO_BASE_URL) so tests serve GEO's layout
from a local HTTP server.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from genoteam.data.cache import ContentCache, copy_out, open_text
from genoteam.data.http import (
    DownloadPolicy,
    NotFound,
    PayloadCheck,
    Transient,
    download_to_cache,
    fetch_text,
)
from genoteam.toolkit.errors import GenoteamError

DEFAULT_GEO_BASE_URL = "https://ftp.ncbi.nlm.nih.gov/geo"
BASE_URL_ENV = "GENOTEAM_GEO_BASE_URL"
GSE = re.compile(r"^GSE[1-9][0-9]*$")
KINDS = ("matrix", "soft")
REF_NAMESPACE = "geo"


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
        names = matrix_names_from_listing(fetch_text(f"{base}/matrix/", policy, sleep), accession)
    except NotFound:
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
                except NotFound:
                    continue
            if not found:
                missing.append(kind)
    except Transient as error:
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
    sha, size = download_to_cache(cache, url, name, policy, sleep, expected_sha, payload_check(kind, name))
    return GeoFile(accession, kind, name, url, sha, size, cache.blob_path(sha))


def payload_check(kind: str, name: str) -> PayloadCheck:
    """The expected content of a GEO file: a series matrix has its value table, a family SOFT
    its ^SERIES and sample records (an HTML error page or another file is refused)."""
    markers = ("!series_matrix_table_begin",) if kind == "matrix" else ("^SERIES", "^SAMPLE")

    def check(path: Path) -> None:
        found = _markers_in(path, markers)
        missing = [m for m in markers if m not in found]
        if missing:
            raise GenoteamError(
                f"GEO file {name} lacks {', '.join(missing)}: not a {kind} file, rejected and not cached",
                "check the GEO base URL; retry later if GEO served an error page",
            )

    return check


def _markers_in(path: Path, markers: tuple[str, ...], limit: int = 1 << 30) -> set[str]:
    """Which line-start markers occur in a (possibly gzipped) text file, reading at most `limit`."""
    found: set[str] = set()
    read = 0
    with open_text(path) as handle:
        for line in handle:
            read += len(line)
            found.update(m for m in markers if line.startswith(m))
            if len(found) == len(markers) or read > limit:
                break
    return found
