"""How much memory a cohort needs, decided from its files before any work starts.

Preprocessing holds the expression matrix several times over (parsed text, the float table, the
symbol-level table, the linked table, the statistics' design copies): measured at 20,000 genes,
the peak is about BYTES_PER_VALUE bytes per expression value on top of the loaded libraries
(docs/benchmarks.md). A cohort whose estimate exceeds the memory its process may use is refused
before starting, with an `out_of_memory` outcome that says how much it would need, instead of a
kernel killed half-way. The same estimates bound how many cohorts run at once (pipeline/parallel.py).

The number of values comes from the file itself without parsing it: the samples from the header
line, the text bytes per row from the first rows, and the uncompressed size from the gzip trailer.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from genoteam.data.catalogue import Cohort
from genoteam.pipeline.api import CohortOutcome, MemoryNeed

BYTES_PER_VALUE = 40  # peak bytes per expression value (measured ~38.5 at 20,000 genes)
BASE_BYTES = 250 * 2**20  # interpreter, numpy/pandas/scipy/sklearn and the kernel (measured ~160-230 MB)
OUT_OF_MEMORY = "out_of_memory"
_PROBE_BYTES = 1 << 20  # text read from the start of a file to learn its row shape


@dataclass(frozen=True)
class CohortSize:
    """Estimated shape of a cohort's expression matrix and the memory it needs."""

    cohort: str
    samples: int
    rows: int
    source_file: str

    @property
    def values(self) -> int:
        return self.samples * self.rows

    @property
    def needed_bytes(self) -> int:
        return BASE_BYTES + BYTES_PER_VALUE * self.values


def human(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MB"


def _uncompressed_size(path: Path) -> int:
    """Bytes of text in a gzip file, from its trailer (ISIZE, modulo 4 GiB), made at least as
    large as the compressed size times the smallest plausible ratio for a wrapped value."""
    if not path.name.endswith(".gz"):
        return path.stat().st_size
    compressed = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(0, compressed - 4))
        isize = struct.unpack("<I", handle.read(4))[0]
    while isize < compressed:  # ISIZE wrapped (> 4 GiB of text): add back whole 4 GiB turns
        isize += 2**32
    return isize


def _head(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        return handle.read(_PROBE_BYTES).splitlines()[:-1] or [""]


def _matrix_size(cohort: str, path: Path, lines: list[str], table_start: int) -> CohortSize | None:
    """Rows x samples of a tab-separated matrix whose header is lines[table_start]."""
    rows = [line for line in lines[table_start + 1 :] if line and not line.startswith("!")][:200]
    if table_start >= len(lines) or not rows:
        return None
    samples = len(lines[table_start].split("\t")) - 1
    text_before = sum(len(line) + 1 for line in lines[: table_start + 1])
    bytes_per_row = sum(len(r) + 1 for r in rows) / len(rows)
    n_rows = max(len(rows), round((_uncompressed_size(path) - text_before) / bytes_per_row))
    return CohortSize(cohort, max(samples, 0), n_rows, path.name)


def estimate_cohort(cohort: Cohort) -> CohortSize | None:
    """The size of the cohort's expression matrix (Xena matrix, GEO series matrix, else the family
    SOFT file), or None when it has none we can size: only what can be estimated is refused."""
    sizes: dict[str, list[CohortSize]] = {"matrix": [], "soft": []}
    for f in cohort.files:
        try:
            found = _file_size(cohort, f.path, f.name.lower())
        except (OSError, EOFError, zlib.error, UnicodeError, struct.error, ValueError):
            continue  # an unreadable file: its reader will say what is wrong with it
        if found is not None:
            sizes[found[0]].append(found[1])
    found_sizes = sizes["matrix"] or sizes["soft"]
    return max(found_sizes, key=lambda s: s.values) if found_sizes else None


def _file_size(cohort: Cohort, path: Path, name: str) -> tuple[str, CohortSize] | None:
    """("matrix" | "soft", its size) for an expression file of the cohort, else None."""
    if cohort.source == "TCGA" and "pancan" in name:
        size, kind = _matrix_size(cohort.id, path, _head(path), 0), "matrix"
    elif cohort.source == "GEO" and "series_matrix" in name:
        lines = _head(path)
        begin = next((i for i, ln in enumerate(lines) if ln.startswith("!series_matrix_table_begin")), None)
        size = None if begin is None else _matrix_size(cohort.id, path, lines, begin + 1)
        kind = "matrix"
    elif cohort.source == "GEO" and "soft" in name:
        size, kind = _soft_size(cohort.id, path), "soft"
    else:
        return None
    return None if size is None else (kind, size)


def _soft_size(cohort: str, path: Path) -> CohortSize | None:
    """A family SOFT file holds one table per sample (and the platform's): values ~ text bytes
    divided by the bytes of one sample-table row, measured on the first sample's rows."""
    lines = _head(path)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("!sample_table_begin")), None)
    if start is None:
        return None
    rows = [ln for ln in lines[start + 2 : start + 202] if ln and not ln.startswith("!")]
    if not rows:
        return None
    bytes_per_value = sum(len(r) + 1 for r in rows) / len(rows)
    values = int(_uncompressed_size(path) / bytes_per_value)
    return CohortSize(cohort, 1, values, path.name)  # samples x rows unknown apart: 1 x values


def memory_limit_bytes() -> int:
    """Memory this process may use: the cgroup limit when there is one, else physical memory."""
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def refusal(size: CohortSize | None, limit_bytes: int, where: str, remedy: str) -> MemoryNeed | None:
    """What a cohort that cannot fit in `limit_bytes` needs (its refusal), else None."""
    if size is None or size.needed_bytes <= limit_bytes:
        return None
    return MemoryNeed(
        needed_bytes=size.needed_bytes,
        limit_bytes=limit_bytes,
        limit=where,
        rows=size.rows,
        samples=size.samples,
        source_file=size.source_file,
        remedy=remedy,
    )


def refusal_message(cohort: str, need: MemoryNeed) -> str:
    """The refusal in words: the cohort, its shape, the memory it needs, the limit, what to do."""
    shape = (
        f"{need.rows:,} rows x {need.samples:,} samples"
        if need.samples > 1
        else f"{need.rows * need.samples:,} values"
    )
    return (
        f"{OUT_OF_MEMORY}: cohort {cohort} ({shape} in {need.source_file}) needs about "
        f"{human(need.needed_bytes)} of memory and {need.limit} allows {human(need.limit_bytes)}; "
        f"not started. {need.remedy}"
    )


def refused_outcome(cohort: str, trait: str, size: CohortSize, need: MemoryNeed) -> CohortOutcome:
    """The cohort's out_of_memory outcome: the reason in words and its figures."""
    return CohortOutcome(
        cohort=cohort, trait=trait, usable=False, error=refusal_message(size.cohort, need), out_of_memory=need
    )
