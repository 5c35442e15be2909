"""Offline gene-symbol normalisation against NCBI Entrez Gene (via Debian's org.Hs.eg.db).

Why: probe annotations and papers use old names (P53, HER2, MLL, SEPT9, C10orf54); cohorts
can only be combined and compared with known genes once every row carries the current
official symbol. The table ships with the toolkit (genoteam/toolkit/data, built by
symbols_build.py), so normalisation needs no network and records its source and version.

Three policies (deterministic; docs/geo.md):
- "analyst" (the default): a row whose name is a current symbol keeps its own values; an alias
  is renamed only when it names exactly one gene and that gene is not itself measured in the
  table (otherwise renaming would average two distinct measured genes, e.g. HN1 -> NOTCH1);
  aliases of measured genes and ambiguous aliases are dropped and counted; unknown names are
  dropped. Rows that still share a symbol (case variants, two aliases of one unmeasured gene)
  are averaged.
- "genotex" (GenoTEX's rule, kept for the GenoTEX-faithful modes): a current symbol maps to
  itself, an alias to its gene, an ambiguous alias to the gene with the lowest Entrez Gene ID,
  unknown rows are dropped, and every row landing on one symbol is averaged.
- "genotex-2024" (GenoTEX's 2024 code, `--genotex-version 2024`; toolkit/genotex_versions.py):
  only rows whose name is exactly a current symbol (case included), kept as they are and in the
  table's row order; nothing renamed or averaged (a repeated name keeps its first row).
Every rename, drop and merge is returned in the report, with the table's version.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError, InputFileError

DATA_DIR = Path(__file__).parent / "data"
TABLE_PATH = DATA_DIR / "gene_symbols.tsv.gz"
META_PATH = DATA_DIR / "gene_symbols.meta.json"

SYMBOL_POLICY_ANALYST = "analyst"
SYMBOL_POLICY_GENOTEX = "genotex"
SYMBOL_POLICY_GENOTEX_2024 = "genotex-2024"
SYMBOL_POLICIES = (SYMBOL_POLICY_ANALYST, SYMBOL_POLICY_GENOTEX, SYMBOL_POLICY_GENOTEX_2024)
GENOTEX_POLICIES = (SYMBOL_POLICY_GENOTEX, SYMBOL_POLICY_GENOTEX_2024)  # GenoTEX's code: values as submitted
DEFAULT_SYMBOL_POLICY = SYMBOL_POLICY_ANALYST

# reasons a row is dropped (keys of NormalizationReport.dropped_counts)
DROP_UNKNOWN = "unknown"
DROP_AMBIGUOUS = "ambiguous alias"
DROP_ALIAS_OF_MEASURED = "alias of a measured gene"
DROP_NOT_EXACT = "not an exact current symbol"
DROP_REPEATED = "repeated name"


@dataclass(frozen=True)
class SymbolTable:
    """Current symbols and aliases (upper-cased keys), plus where the table came from.

    `lookup` is GenoTEX's resolution (current symbol, else alias, ambiguous -> lowest Entrez id);
    `symbols` holds only current symbols; `alias_targets` every alias's genes in Entrez order."""

    lookup: dict[str, str]
    source: dict
    ambiguous_aliases: int
    symbols: dict[str, str] = field(default_factory=dict)
    alias_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def resolve(self, name: object) -> str | None:
        """The current symbol for `name` by GenoTEX's rule, or None when the name is unknown."""
        if not isinstance(name, str):
            return None
        return self.lookup.get(name.strip().upper())

    def current(self, name: object) -> str | None:
        """The official symbol when `name` is one (any case), else None."""
        return self.symbols.get(name.strip().upper()) if isinstance(name, str) else None

    def describe(self) -> str:
        """One line naming the source package, its version and the Entrez Gene release."""
        src = self.source.get("source", {})
        return (
            f"{self.source.get('source_package')} {self.source.get('source_package_version')} "
            f"({src.get('EGSOURCENAME', 'Entrez Gene')} {src.get('EGSOURCEDATE', '?')}, "
            f"{self.source.get('genes')} genes)"
        )

    def version(self) -> dict:
        """The pinned version of the table, for the records: package, release, sha256."""
        src = self.source.get("source", {})
        return {
            "package": self.source.get("source_package"),
            "package_version": self.source.get("source_package_version"),
            "entrez_gene_date": src.get("EGSOURCEDATE"),
            "table_sha256": self.source.get("table_sha256"),
        }


@dataclass
class NormalizationReport:
    """What normalisation did to the rows of one table: counts, and every change by name."""

    rows_in: int
    rows_unchanged: int
    rows_renamed: int
    rows_dropped_unknown: int
    genes_out: int
    rows_merged: int
    source: str
    dropped_examples: list[str] = field(default_factory=list)
    renamed_examples: dict[str, str] = field(default_factory=dict)
    policy: str = SYMBOL_POLICY_GENOTEX
    table_version: dict = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # old name -> current symbol
    dropped: dict[str, str] = field(default_factory=dict)  # name -> reason (DROP_*; with the gene)
    merged: dict[str, list[str]] = field(default_factory=dict)  # symbol -> the row names averaged
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # ambiguous alias -> its genes

    @property
    def dropped_counts(self) -> dict[str, int]:
        counts = {DROP_UNKNOWN: 0, DROP_AMBIGUOUS: 0, DROP_ALIAS_OF_MEASURED: 0}
        for reason in self.dropped.values():
            key = reason.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        return counts

    def summary(self) -> str:
        counts = self.dropped_counts
        not_exact = counts.get(DROP_NOT_EXACT, 0)
        return (
            f"{self.rows_in} rows -> {self.genes_out} genes (symbol policy {self.policy}: "
            f"{self.rows_unchanged} kept, {self.rows_renamed} renamed, "
            f"{counts[DROP_ALIAS_OF_MEASURED]} dropped as aliases of measured genes, "
            f"{counts[DROP_AMBIGUOUS]} dropped as ambiguous aliases, {counts[DROP_UNKNOWN]} unknown dropped, "
            + (f"{not_exact} not an exact current symbol dropped, " if not_exact else "")
            + f"{self.rows_merged} merged by averaging); source {self.source}"
        )

    def record(self) -> dict:
        """Everything, JSON-ready: the per-cohort record of renames, drops and merges."""
        data = asdict(self)
        data["dropped_counts"] = self.dropped_counts
        data["summary"] = self.summary()
        return data


def _build_lookup(
    rows: pd.DataFrame,
) -> tuple[dict[str, str], int, dict[str, str], dict[str, tuple[str, ...]]]:
    """GenoTEX's lookup, the ambiguous-alias count, the current symbols and every alias's genes."""
    rows = rows.sort_values("entrez_id")
    lookup: dict[str, str] = {}
    targets: dict[str, list[str]] = {}
    for symbol, aliases in zip(rows["symbol"].tolist(), rows["aliases"].tolist(), strict=True):
        if isinstance(aliases, str) and aliases:
            for key in aliases.upper().split("|"):
                genes = targets.setdefault(key, [])
                if symbol not in genes:
                    genes.append(symbol)  # rows are sorted by Entrez id: the first has the lowest
                lookup.setdefault(key, symbol)
    ambiguous = sum(1 for genes in targets.values() if len(genes) > 1)
    symbols = {symbol.upper(): symbol for symbol in rows["symbol"].tolist()}
    lookup.update(symbols)  # a current symbol always wins
    return lookup, ambiguous, symbols, {k: tuple(v) for k, v in targets.items()}


@lru_cache(maxsize=4)
def load_symbol_table(table_path: Path = TABLE_PATH, meta_path: Path = META_PATH) -> SymbolTable:
    """Load the shipped table (cached). Raises InputFileError when it is missing or damaged."""
    try:
        with gzip.open(table_path, "rt", encoding="utf-8") as handle:
            rows = pd.read_csv(handle, sep="\t", dtype={"entrez_id": int, "symbol": str, "aliases": str})
        meta = json.loads(Path(meta_path).read_text(encoding="utf-8"))
    except (OSError, EOFError, ValueError) as error:
        raise InputFileError(
            table_path,
            f"the gene symbol table cannot be read ({error})",
            "regenerate it: python -m genoteam.toolkit.symbols_build --sqlite "
            "/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite",
        ) from error
    lookup, ambiguous, symbols, targets = _build_lookup(rows)
    return SymbolTable(lookup, meta, ambiguous, symbols, targets)


def normalize_symbol(name: str) -> str | None:
    """The current official symbol for one gene name by GenoTEX's rule, or None when unknown."""
    return load_symbol_table().resolve(name)


def check_symbol_policy(policy: str) -> str:
    """`policy` when it is one of SYMBOL_POLICIES, else a GenoteamError naming them."""
    if policy not in SYMBOL_POLICIES:
        raise GenoteamError(f"unknown symbol policy {policy!r}", f"use one of {', '.join(SYMBOL_POLICIES)}")
    return policy


def _analyst_targets(names: list[str], table: SymbolTable) -> tuple[list[str | None], dict, dict]:
    """Per row the symbol it becomes (None: dropped), the drop reasons and the ambiguous aliases."""
    current = [table.current(name) for name in names]
    measured = {symbol for symbol in current if symbol is not None}
    out: list[str | None] = []
    dropped: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for name, symbol in zip(names, current, strict=True):
        if symbol is not None:
            out.append(symbol)
            continue
        genes = table.alias_targets.get(name.strip().upper(), ())
        out.append(None)
        if not genes:
            dropped[name] = DROP_UNKNOWN
        elif len(genes) > 1:
            dropped[name] = f"{DROP_AMBIGUOUS}: {'|'.join(genes)}"
            ambiguous[name] = list(genes)
        elif genes[0] in measured:
            dropped[name] = f"{DROP_ALIAS_OF_MEASURED}: {genes[0]}"
        else:
            out[-1] = genes[0]
    return out, dropped, ambiguous


def normalize_gene_symbols(
    df: pd.DataFrame, table: SymbolTable | None = None, policy: str = DEFAULT_SYMBOL_POLICY
) -> tuple[pd.DataFrame, NormalizationReport]:
    """Rename the index (genes) of `df` to current symbols by `policy`, drop the rest, average
    rows sharing a symbol.

    `df` is genes x samples (GenoTEX's gene_data orientation). Returns the new frame (index
    sorted) and a report naming every rename, drop and merge, the policy and the table version.
    """
    check_symbol_policy(policy)
    table = table or load_symbol_table()
    if policy == SYMBOL_POLICY_GENOTEX_2024:
        return _exact_current_symbols(df, table)
    names = [str(name) for name in df.index]
    if policy == SYMBOL_POLICY_ANALYST:
        targets, dropped, ambiguous = _analyst_targets(names, table)
    else:
        targets = [table.resolve(name) for name in names]
        dropped = {name: DROP_UNKNOWN for name, t in zip(names, targets, strict=True) if t is None}
        ambiguous = {}
    resolved = np.array(targets, dtype=object)
    known = np.array([t is not None for t in targets], dtype=bool)
    merged_frame = _average_duplicates(df, known, resolved, df.index.name or "Gene")
    renamed = {n: t for n, t in zip(names, targets, strict=True) if t is not None and t != n}
    sources: dict[str, list[str]] = {}
    for name, target in zip(names, targets, strict=True):
        if target is not None:
            sources.setdefault(target, []).append(name)
    merged = {symbol: rows for symbol, rows in sorted(sources.items()) if len(rows) > 1}
    report = NormalizationReport(
        rows_in=len(df),
        rows_unchanged=int(known.sum()) - len(renamed),
        rows_renamed=len(renamed),
        rows_dropped_unknown=sum(1 for reason in dropped.values() if reason == DROP_UNKNOWN),
        genes_out=len(merged_frame),
        rows_merged=int(known.sum() - len(merged_frame)),
        source=table.describe(),
        dropped_examples=sorted(n for n, r in dropped.items() if r == DROP_UNKNOWN)[:20],
        renamed_examples=dict(list(renamed.items())[:20]),
        policy=policy,
        table_version=table.version(),
        renamed=renamed,
        dropped=dropped,
        merged=merged,
        ambiguous=ambiguous,
    )
    return merged_frame, report


def _exact_current_symbols(df: pd.DataFrame, table: SymbolTable) -> tuple[pd.DataFrame, NormalizationReport]:
    """GenoTEX 2024's symbol step offline (GenoMAS utils_org.py@a37fd66:186-212: an exact-symbol
    query and no groupby): rows named exactly by a current symbol, values and order untouched."""
    names = [str(name) for name in df.index]
    exact = np.array([table.current(name) == name for name in names], dtype=bool)
    first = ~pd.Index(names).duplicated()
    keep = exact & first
    dropped = {n: DROP_NOT_EXACT for n, e in zip(names, exact, strict=True) if not e}
    dropped |= {n: DROP_REPEATED for n, e, f in zip(names, exact, first, strict=True) if e and not f}
    report = NormalizationReport(
        rows_in=len(df),
        rows_unchanged=int(keep.sum()),
        rows_renamed=0,
        rows_dropped_unknown=int((~exact).sum()),
        genes_out=int(keep.sum()),
        rows_merged=0,
        source=table.describe(),
        dropped_examples=[n for n, r in dropped.items() if r == DROP_NOT_EXACT][:20],
        policy=SYMBOL_POLICY_GENOTEX_2024,
        table_version=table.version(),
        dropped=dropped,
    )
    return df[keep], report


def _average_duplicates(
    df: pd.DataFrame, known: np.ndarray, names: np.ndarray, index_name: str
) -> pd.DataFrame:
    """The known rows of `df` renamed to `names`, sorted by name, rows sharing a name averaged
    (NaN skipped): `groupby(level=0, sort=True).mean()` of the renamed rows (a merged value may
    differ from a whole-table groupby in its last bit: pandas' summation order depends on shape).

    Why not that groupby: on a 20,000 x 2,000 TCGA table it took ~2 s and a transient ~4x the
    table (1.2 GB, the pipeline's peak); here only the rows of repeated names are grouped and the
    rest is one row selection (~0.3 GB, ~1 s). Tables that are not all float64 keep the groupby."""
    if not known.any() or not all(t == np.float64 for t in df.dtypes):
        kept = df.iloc[known]
        kept.index = pd.Index(names[known].tolist(), name=index_name)
        return kept.groupby(level=0, sort=True).mean()
    positions = np.flatnonzero(known)
    positions = positions[np.argsort(names[positions], kind="stable")]
    index = pd.Index(names[positions].tolist(), name=index_name)
    first = ~index.duplicated(keep="first")
    data = df.to_numpy()  # a view when the table is one float block, as the readers give it
    values = data[positions[first]]  # one row per name, in name order: the only full copy
    repeated = index.duplicated(keep=False)
    if repeated.any():
        subset = pd.DataFrame(data[positions[repeated]], index=index[repeated], columns=df.columns)
        means = subset.groupby(level=0, sort=True).mean()
        values[index[first].get_indexer(means.index)] = means.to_numpy()
    return pd.DataFrame(values, index=index[first], columns=df.columns, copy=False)
