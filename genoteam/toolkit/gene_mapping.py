"""Probe -> gene mapping from a GEO platform table, and the whole probes -> genes step.

Why: microarray values are per probe; every analysis downstream is per gene. Two collapse rules
(docs/geo.md): "mean" (the analyst's, limma's avereps: on log2 values a gene is the mean of its
probes, and a probe annotated with several genes counts fully for each) and "split-sum"
(GenoTEX's: a probe annotated with n genes gives value/n to each gene, and a gene is the sum
over its probes). Both with two deliberate differences from GenoTEX's code: a gene whose probes
are all missing for a sample stays missing (GenoTEX's pandas sum turns it into 0), and symbols
are split on the annotation's own separators rather than harvested by a regex from free text.
The scale is decided on the probe values before any collapse (stats/scale.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats.scale import ScaleDecision, to_log2_scale
from genoteam.toolkit.symbols import (
    DEFAULT_SYMBOL_POLICY,
    GENOTEX_POLICIES,
    NormalizationReport,
    check_symbol_policy,
    load_symbol_table,
    normalize_gene_symbols,
)

COLLAPSE_MEAN = "mean"
COLLAPSE_SPLIT_SUM = "split-sum"

# Symbol columns we know, in order of preference (matched case-insensitively).
SYMBOL_COLUMNS = (
    "Gene Symbol",
    "GENE_SYMBOL",
    "Gene symbol",
    "Symbol",
    "gene_symbol",
    "GeneSymbol",
    "ILMN_Gene",
    "IDENTIFIER",
    "gene_assignment",
    "ORF",
    "GENE",
    "Gene",
    "GENE_NAME_SYMBOL",
)
# Columns whose cells look like "NM_001 // SYMBOL // description // ... /// NM_002 // ..."
ASSIGNMENT_COLUMNS = ("gene_assignment",)
_EMPTY_TOKENS = {"", "---", "--", "-", "nan", "NaN", "NA", "null", "None"}
_SYMBOL_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-@]*$")
_MULTI_SEPARATORS = re.compile(r"\s*(?:///|//|/|;|,|\|)\s*")  # symbols never contain these


@dataclass
class MappingReport:
    """How many probes became genes, from which columns; notes list anything left out."""

    id_column: str
    symbol_column: str
    probes_in_expression: int
    probes_annotated: int
    probes_mapped: int
    multi_gene_probes: int
    genes: int
    samples: int
    notes: list[str] = field(default_factory=list)
    collapse: str = COLLAPSE_SPLIT_SUM

    def summary(self) -> str:
        rule = "mean of its probes" if self.collapse == COLLAPSE_MEAN else "sum of value/n over its probes"
        return (
            f"{self.probes_mapped} of {self.probes_in_expression} probes mapped to {self.genes} genes "
            f"via column '{self.symbol_column}' ({self.multi_gene_probes} probes with several genes; "
            f"a gene is the {rule})"
        )


def choose_mapping_columns(annotation: pd.DataFrame) -> tuple[str, str]:
    """(probe ID column, gene symbol column) of a platform table, by GEO's usual names.

    The ID is the index when it is named ID (as geo.py returns it) or a column called ID.
    Raises GenoteamError listing the columns when no symbol column is recognised.
    """
    id_column = "ID" if annotation.index.name == "ID" or "ID" in annotation.columns else annotation.index.name
    by_lower = {str(col).lower(): col for col in annotation.columns}
    for name in SYMBOL_COLUMNS:
        if name.lower() in by_lower:
            return str(id_column or "ID"), str(by_lower[name.lower()])
    raise GenoteamError(
        f"no gene symbol column in the platform table (columns: {', '.join(map(str, annotation.columns))})",
        f"pass symbol_column= naming the column that holds gene symbols; known names: {', '.join(SYMBOL_COLUMNS)}",
    )


def parse_gene_cell(cell: object, assignment_style: bool = False) -> list[str]:
    """The distinct gene symbols of one annotation cell, in order.

    'DDR1 /// MIR4640' -> ['DDR1', 'MIR4640']; an Affymetrix gene_assignment cell
    'NM_1 // OR4F17 // olfactory ... /// NM_2 // SEPT9 // ...' -> ['OR4F17', 'SEPT9'].
    Tokens that cannot be symbols (empty, '---', free text with spaces) are skipped.
    """
    if not isinstance(cell, str):
        return []
    if assignment_style:
        tokens = [part.split("//")[1] if part.count("//") >= 1 else "" for part in cell.split("///")]
    else:
        tokens = _MULTI_SEPARATORS.split(cell)
    genes: list[str] = []
    for token in tokens:
        token = token.strip()
        if token in _EMPTY_TOKENS or not _SYMBOL_SHAPE.match(token):
            continue
        if token not in genes:
            genes.append(token)
    return genes


def probe_gene_pairs(annotation: pd.DataFrame, symbol_column: str, id_column: str = "ID") -> pd.DataFrame:
    """Long table (ID, Gene, weight=1/n) with one row per gene of each annotated probe."""
    table = annotation
    if id_column in table.columns:
        table = table.set_index(id_column)
    cells = table[symbol_column]
    assignment = symbol_column.lower() in ASSIGNMENT_COLUMNS
    rows = []
    for probe, cell in zip(table.index.astype(str), cells, strict=True):
        genes = parse_gene_cell(cell, assignment)
        rows.extend((probe, gene, 1.0 / len(genes)) for gene in genes)
    return pd.DataFrame(rows, columns=["ID", "Gene", "weight"])


def collapse_rule(symbol_policy: str) -> str:
    """The probe collapse that goes with a symbol policy: GenoTEX's split-sum, else the mean."""
    return COLLAPSE_SPLIT_SUM if check_symbol_policy(symbol_policy) in GENOTEX_POLICIES else COLLAPSE_MEAN


def map_probes_to_genes(
    expression: pd.DataFrame,
    annotation: pd.DataFrame,
    symbol_column: str | None = None,
    id_column: str | None = None,
    collapse: str = COLLAPSE_SPLIT_SUM,
) -> tuple[pd.DataFrame, MappingReport]:
    """Genes x samples from probes x samples by `collapse`: "split-sum" (value/n to each of a
    probe's n genes, summed per gene; GenoTEX) or "mean" (mean of the gene's probes).

    Columns are chosen with choose_mapping_columns unless given. A gene is missing for a
    sample only when all its probes are missing there. Raises GenoteamError when no probe maps.
    """
    if collapse not in (COLLAPSE_MEAN, COLLAPSE_SPLIT_SUM):
        raise GenoteamError(
            f"unknown collapse rule {collapse!r}", f"use {COLLAPSE_MEAN!r} or {COLLAPSE_SPLIT_SUM!r}"
        )
    if symbol_column is None or id_column is None:
        chosen_id, chosen_symbol = choose_mapping_columns(annotation)
        id_column = id_column or chosen_id
        symbol_column = symbol_column or chosen_symbol
    if symbol_column not in annotation.columns:
        raise GenoteamError(
            f"column '{symbol_column}' is not in the platform table (columns: {', '.join(map(str, annotation.columns))})",
            "choose one of the listed columns",
        )
    notes: list[str] = []
    expression = expression.copy()
    expression.index = expression.index.astype(str)
    if expression.index.duplicated().any():
        notes.append(
            f"{int(expression.index.duplicated().sum())} duplicate probe IDs in the expression table; first kept"
        )
        expression = expression[~expression.index.duplicated()]
    pairs = probe_gene_pairs(annotation, symbol_column, id_column).drop_duplicates(["ID", "Gene"])
    annotated_ids = set(pairs["ID"])
    pairs = pairs[pairs["ID"].isin(expression.index)]
    if pairs.empty:
        raise GenoteamError(
            f"no probe of the expression table has a gene in column '{symbol_column}' "
            f"({len(expression)} probes, e.g. {list(expression.index[:3])}; annotated e.g. {sorted(annotated_ids)[:3]})",
            "check that the platform table belongs to this series' platform and that the column holds symbols",
        )
    genes, gene_codes = np.unique(pairs["Gene"].to_numpy(), return_inverse=True)
    probe_pos = expression.index.get_indexer(pairs["ID"])
    shape = (len(genes), len(expression))
    weights = sparse.csr_matrix((pairs["weight"].to_numpy(), (gene_codes, probe_pos)), shape=shape)
    members = sparse.csr_matrix((np.ones(len(pairs)), (gene_codes, probe_pos)), shape=shape)
    values = expression.to_numpy(dtype=float)
    observed = np.isfinite(values)
    counts = np.asarray(members @ observed.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        if collapse == COLLAPSE_MEAN:
            summed = np.asarray(members @ np.where(observed, values, 0.0)) / counts
        else:
            summed = np.asarray(weights @ np.where(observed, values, 0.0))
    summed[counts == 0] = np.nan
    result = pd.DataFrame(summed, index=pd.Index(genes, name="Gene"), columns=expression.columns)
    per_probe = pairs.groupby("ID").size()
    report = MappingReport(
        id_column=str(id_column),
        symbol_column=str(symbol_column),
        probes_in_expression=len(expression),
        probes_annotated=int(expression.index.isin(list(annotated_ids)).sum()),
        probes_mapped=int(per_probe.size),
        multi_gene_probes=int((per_probe > 1).sum()),
        genes=len(result),
        samples=result.shape[1],
        notes=notes,
        collapse=collapse,
    )
    unmapped = report.probes_in_expression - report.probes_mapped
    if unmapped:
        report.notes.append(
            f"{unmapped} probes have no usable gene symbol (controls, unannotated, free text) and are left out"
        )
    return result, report


def share_of_known_symbols(ids: pd.Index, sample_size: int = 2000) -> float:
    """Fraction of (the first sample_size) row IDs that are known gene symbols or aliases:
    high means the table is already per gene (e.g. RNA-seq by symbol) and needs no probe map."""
    head = [str(i) for i in ids[:sample_size]]
    if not head:
        return 0.0
    table = load_symbol_table()
    return sum(table.resolve(i) is not None for i in head) / len(head)


@dataclass
class GeneTableReport:
    """Both steps from probes to normalised genes, for the cohort's record."""

    mapping: MappingReport | None  # None when the IDs were already gene symbols
    normalization: NormalizationReport
    decision: str
    scale: ScaleDecision | None = None

    def summary(self) -> str:
        first = self.mapping.summary() if self.mapping else self.decision
        scale = f"scale: {self.scale.reason}; " if self.scale else ""
        return f"{scale}{first}; then {self.normalization.summary()}"

    def record(self) -> dict:
        """The cohort record's entries for this step (layout.update_cohort_record)."""
        mapping = None
        if self.mapping is not None:
            mapping = {k: v for k, v in vars(self.mapping).items()} | {"summary": self.mapping.summary()}
        return {
            "scale": self.scale.record() if self.scale else None,
            "probe_mapping": mapping,
            "gene_ids": self.decision,
            "symbols": self.normalization.record(),
        }


def measured_on_log2_scale(
    expression: pd.DataFrame, symbol_policy: str = DEFAULT_SYMBOL_POLICY
) -> tuple[pd.DataFrame, ScaleDecision | None]:
    """The measured values on log2 scale (decided here, before any collapse), or, with GenoTEX's
    policy, as submitted (GenoTEX never transforms; the statistics then judge the gene values)."""
    if symbol_policy in GENOTEX_POLICIES:
        return expression, None
    return to_log2_scale(expression)


def gene_table(
    expression: pd.DataFrame,
    annotation: pd.DataFrame | None = None,
    symbol_column: str | None = None,
    symbol_policy: str = DEFAULT_SYMBOL_POLICY,
) -> tuple[pd.DataFrame, GeneTableReport]:
    """Probes (or genes) x samples -> log2-scale, normalised genes x samples.

    The scale is decided on the rows as measured, before any collapse (log2 at most once;
    GenoTEX's policy keeps the values as submitted, as GenoTEX does). The
    IDs are taken as gene symbols when more than half of them are known symbols; otherwise the
    platform annotation is required (GenoteamError when it is missing/empty) and probes are
    collapsed by the rule of `symbol_policy` (collapse_rule). Symbols follow `symbol_policy`.
    """
    check_symbol_policy(symbol_policy)
    known = share_of_known_symbols(expression.index)
    if known > 0.5:
        decision = f"row IDs are already gene symbols ({known:.0%} known), no probe mapping"
        logged, scale = measured_on_log2_scale(expression, symbol_policy)
        genes, normalization = normalize_gene_symbols(logged, policy=symbol_policy)
        return genes, GeneTableReport(None, normalization, decision, scale)
    if annotation is None or annotation.empty:
        raise GenoteamError(
            f"the expression rows are probe IDs (e.g. {list(expression.index[:3])}; {known:.0%} are gene symbols) "
            "and no platform annotation table was given",
            "read the family SOFT (read_geo_cohort) or the platform's .annot file (read_platform_annotation)",
        )
    logged, scale = measured_on_log2_scale(expression, symbol_policy)
    mapped, mapping = map_probes_to_genes(
        logged, annotation, symbol_column, collapse=collapse_rule(symbol_policy)
    )
    genes, normalization = normalize_gene_symbols(mapped, policy=symbol_policy)
    decision = f"row IDs are probes ({known:.0%} look like symbols): mapped through '{mapping.symbol_column}'"
    return genes, GeneTableReport(mapping, normalization, decision, scale)
