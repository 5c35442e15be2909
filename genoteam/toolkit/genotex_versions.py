"""GenoTEX-faithful modes, named by the GenoTEX code they follow (`--genotex-version 2024|2025`).

Why: GenoTEX's published gold outputs came from its 2024 code; its current (2025) code differs in
preprocessing and in the penalty rule. Comparing with a benchmark means reproducing the code that
produced it, fact by fact. Each fact below names where it comes from (public history of GenoTEX
and its GenoMAS toolkit; docs/statistics.md, "GenoTEX versions"):

2024 (the first published gold outputs)
- genes kept in the source file's row order, never sorted; only rows whose name is already a
  current symbol, kept as they are (no renaming, no averaging; symbol policy "genotex-2024" of
  toolkit/symbols.py, probes collapsed by their mean as that code's groupby does): GenoMAS utils_org.py at a37fd66,
  lines 186-212 (a mygene exact-symbol query and no groupby; the sorting groupby arrived on
  2024-05-21 in 33479ab, utils/preprocess.py:211). Offline, "current symbol" means an exact
  official symbol of the shipped symbol table.
- penalty: the best cross-validated F1 of the selected genes against the known genes, ties to
  the smaller alpha, no fallback: GenoMAS utils/statistics.py at 139a3e1, lines 464-465.
- penalty grid 1e-6, 1e-4, 1e-2, 1: GenoTEX code/statistics.py at cbae2e9, line 45.
2025 (GenoTEX's current code, genoteam's behaviour before the modes existed)
- symbols normalised through aliases and rows sharing a symbol averaged (sorted by the
  groupby); penalty by the best CV precision against the known genes, 0.1 when no penalty
  selects a known gene; grid 1e-6 ... 1 in powers of ten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from genoteam.toolkit.errors import GenoteamError

GENOTEX_VERSIONS = ("2024", "2025")


@dataclass(frozen=True)
class GenotexVersion:
    """What one GenoTEX code version does, as data the procedure reads."""

    name: str
    penalties: tuple[float, ...]
    selection_metric: str  # the known-gene metric the penalty maximises: "f1" or "precision"
    fallback_penalty: float | None  # the penalty when no penalty selects a known gene (None: none)
    symbol_policy: str  # toolkit/symbols.py: "genotex-2024" (exact current symbols) or "genotex"
    sources: tuple[str, ...]


VERSIONS = {
    "2024": GenotexVersion(
        "2024",
        (1e-6, 1e-4, 1e-2, 1.0),
        "f1",
        None,
        "genotex-2024",
        (
            "GenoMAS utils_org.py@a37fd66:186-212 (exact-symbol query, no groupby, source row order)",
            "GenoMAS utils/statistics.py@139a3e1:464-465 (best CV F1 against known genes, ties to the smaller alpha)",
            "GenoTEX code/statistics.py@cbae2e9:45 (grid 1e-6, 1e-4, 1e-2, 1)",
        ),
    ),
    "2025": GenotexVersion(
        "2025",
        (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0),
        "precision",
        0.1,
        "genotex",
        ("GenoTEX's current code: best CV precision against known genes, 0.1 when none overlaps",),
    ),
}


def genotex_version(name: str | None) -> GenotexVersion | None:
    """The version's facts (None for genoteam's own procedure); an unknown name is an error."""
    if name is None:
        return None
    if name not in VERSIONS:
        raise GenoteamError(f"unknown GenoTEX version {name!r}", f"use one of {', '.join(GENOTEX_VERSIONS)}")
    return VERSIONS[name]


def gene_list_sha256(genes: Sequence[str]) -> str:
    """The hash of an ordered gene list (one name per line): equal lists in equal order only."""
    return hashlib.sha256("\n".join(map(str, genes)).encode("utf-8")).hexdigest()
