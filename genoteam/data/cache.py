"""A content-addressed file cache: blobs named by their sha256, plus named references.

Why content-addressed: a downloaded file is stored once under its own checksum, so a corrupted
blob is detected on every read (its content no longer hashes to its name) and the same bytes
fetched under two names are stored once. References (`refs/<namespace>/<key>.json`) map a name
such as a GEO accession to the blobs and metadata of what was fetched, so a second request for
the same accession needs no network at all.

Layout under the cache folder:
```
blobs/sha256/<first two hex>/<sha256>   file contents, read-only
refs/<namespace>/<key>.json             JSON metadata written atomically
tmp/                                    downloads in progress (never read as complete)
locks/                                  one lock file per reference, so concurrent fetches wait
```
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_json

CACHE_ENV = "GENOTEAM_CACHE_DIR"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def default_cache_dir() -> Path:
    """$GENOTEAM_CACHE_DIR, else $XDG_CACHE_HOME/genoteam, else ~/.cache/genoteam."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genoteam"


def sha256_of_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class ContentCache:
    """Blobs by sha256 and JSON references, under one folder."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    # -- blobs
    def blob_path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise GenoteamError(f"not a sha256 digest: {sha256!r}")
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def has_valid_blob(self, sha256: str) -> bool:
        """True when the blob exists and still hashes to its name; a corrupt blob is removed."""
        path = self.blob_path(sha256)
        if not path.is_file():
            return False
        if sha256_of_file(path) != sha256:
            path.unlink(missing_ok=True)
            return False
        return True

    def new_temp_file(self) -> Path:
        """A fresh temporary file inside the cache (same filesystem, so adoption is a rename)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="part-", dir=tmp_dir)
        os.close(fd)
        return Path(name)

    def adopt(self, temp_file: Path, sha256: str | None = None) -> str:
        """Move a finished temporary file into the blob store; returns its sha256."""
        digest = sha256 or sha256_of_file(temp_file)
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and sha256_of_file(target) == digest:
            temp_file.unlink(missing_ok=True)
        else:
            os.chmod(temp_file, 0o444)
            os.replace(temp_file, target)
        return digest

    # -- references
    def ref_path(self, namespace: str, key: str) -> Path:
        for part in (namespace, key):
            if not _KEY.match(part):
                raise GenoteamError(f"invalid cache key {part!r}", "use letters, digits, '.', '_' or '-'")
        return self.root / "refs" / namespace / f"{key}.json"

    def read_ref(self, namespace: str, key: str) -> dict[str, Any] | None:
        path = self.ref_path(namespace, key)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # an unreadable reference is treated as absent and rewritten
        return data if isinstance(data, dict) else None

    def write_ref(self, namespace: str, key: str, data: dict[str, Any]) -> Path:
        return atomic_write_json(self.ref_path(namespace, key), data)

    @contextmanager
    def lock(self, namespace: str, key: str) -> Iterator[None]:
        """Exclusive lock on one reference: two processes fetching one accession fetch it once."""
        self.ref_path(namespace, key)  # validates the key
        lock_dir = self.root / "locks" / namespace
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{key}.lock", "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def copy_out(blob: Path, target: str | os.PathLike[str]) -> Path:
    """Place a cached blob at `target` (hard link when possible, else copy), atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()
        try:
            os.link(blob, tmp)
        except OSError:
            shutil.copyfile(blob, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """A downloaded text file for reading, gzip or not (told by its first bytes, not its name:
    a payload is checked before it has its final name)."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    return (gzip.open if gzipped else open)(path, "rt", encoding="utf-8", errors="replace")
