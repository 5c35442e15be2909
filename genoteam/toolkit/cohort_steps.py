"""The steps every cohort ends with, whatever its source (GEO or TCGA).

Link clinical and gene data, handle missing values, judge bias, record the cohort in
cohort_info.json and write the linked table only when the cohort is usable (GenoTEX's order).
One function, so the GEO and TCGA paths cannot drift apart.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genoteam.toolkit import cohort_info, layout, linking


@dataclass
class CohortPreprocessResult:
    """What preprocessing one cohort produced: its record, the files written and every step's report."""

    trait: str
    cohort_id: str
    record: dict
    is_usable: bool
    written: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # the linked table as written (usable cohorts only), so that statistics in the same process
    # need not read back the CSV just written; the caller drops it when it is not needed
    linked: pd.DataFrame | None = field(default=None, repr=False, compare=False)


def record_unavailable(
    result: CohortPreprocessResult, output_root: str | Path, gene_ok: bool, trait_ok: bool, why: str
) -> CohortPreprocessResult:
    """Record a cohort filtered out before linking (no gene data or no trait), with the reason."""
    info_path = layout.OutputLayout(output_root).cohort_info_path(result.trait)
    record = cohort_info.initial_record(gene_ok, trait_ok)
    if record is None:  # both available: the caller should not have come here
        raise ValueError("record_unavailable needs a missing gene or trait")
    record["note"] = why
    cohort_info.update_cohort_info(info_path, result.cohort_id, record)
    result.notes.append(why)
    result.record, result.is_usable = record, False
    result.written["cohort_info"] = info_path
    return result


def link_and_record(
    result: CohortPreprocessResult,
    clinical: pd.DataFrame,
    genes: pd.DataFrame,
    output_root: str | Path,
    note_parts: list[str],
) -> CohortPreprocessResult:
    """Link (inner, on samples), clean, judge bias, record, and write the linked table if usable.

    A gene table with no value, or in which no gene varies, is no gene data (docs/data.md)."""
    trait, cohort = result.trait, result.cohort_id
    why_no_genes = lacks_gene_data(genes)
    if why_no_genes:
        return record_unavailable(result, output_root, False, clinical.shape[1] > 0, why_no_genes)
    linked, link_report = linking.link_clinical_genetic_data_with_report(clinical, genes, how="inner")
    linked, missing_report = linking.handle_missing_values_with_report(linked, trait)
    linked, bias_report = linking.judge_and_remove_biased_features_with_report(linked, trait)
    result.notes += [link_report.summary(), missing_report.summary(), bias_report.summary()]
    record = cohort_info.final_record(
        is_gene_available=len(genes) > 0,
        is_trait_available=clinical.shape[1] > 0,
        is_biased=bias_report.trait_biased,
        df=linked,
        note="; ".join(part for part in [*note_parts, bias_report.summary()] if part),
    )
    info_path = layout.OutputLayout(output_root).cohort_info_path(trait)
    cohort_info.update_cohort_info(info_path, cohort, record)
    result.record, result.is_usable = record, bool(record["is_usable"])
    result.written["cohort_info"] = info_path
    if result.is_usable:
        result.written["linked"] = layout.write_linked_data(output_root, trait, cohort, linked)
        result.linked = linked
    return result


def lacks_gene_data(genes: pd.DataFrame) -> str:
    """Why a genes x samples table carries no gene data ('' when it does): every value missing, or
    no gene varying across the samples (a submitter's placeholder matrix); GenoTEX would link
    either and call the first a cohort without samples, the second usable."""
    if genes.size == 0:
        return "no expression values"
    values = genes.to_numpy(dtype=float, copy=False)
    with warnings.catch_warnings():  # all-missing genes: NaN, said below
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanmin(values, axis=1), np.nanmax(values, axis=1)  # fmin/fmax: no copy
    if np.isnan(low).all():
        return "no expression values (every value is missing)"
    if not (high > low).any():
        return "no gene varies across the samples (every gene has one value)"
    return ""


def usability_verdict(record: dict) -> str:
    """One short phrase saying whether a cohort_info record is usable and, if not, why."""
    if record.get("is_usable"):
        return f"usable ({record.get('sample_size')} samples)"
    if record.get("is_gene_available") is False:
        return "not usable: no gene expression data"
    if record.get("is_trait_available") is False:
        return "not usable: no trait information"
    if record.get("is_biased"):
        return "not usable: the trait is biased (too few samples in one class, or one class only)"
    return "not usable"
