"""GenoTEX's GEO steps for one single-platform cohort, end to end, with the rule-based choices.

read -> gene_mapping.gene_table (scale decided on the probes, probes mapped unless the rows are
already symbols, symbols normalised by the symbol policy) -> clinical rows chosen and explained
-> clinical_data/<cohort>.csv and gene_data/<cohort>.csv, and the cohort record (symbol changes,
scale, batch-like fields, individuals) -> link, clean, bias, record.
A multi-platform series is made into cohorts first (platforms.series_cohorts): platforms on the
same specimens are one cohort, the others one cohort each.
"""

from __future__ import annotations

from pathlib import Path

from genoteam.toolkit import layout
from genoteam.toolkit.clinical_geo import extract_geo_clinical
from genoteam.toolkit.cohort_steps import CohortPreprocessResult, link_and_record, record_unavailable
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.gene_mapping import gene_table
from genoteam.toolkit.geo import GeoSeries
from genoteam.toolkit.sample_design import detect_geo_sample_info
from genoteam.toolkit.symbols import DEFAULT_SYMBOL_POLICY


def preprocess_geo_cohort(
    series: GeoSeries,
    cohort_id: str,
    trait: str,
    output_root: str | Path,
    symbol_policy: str = DEFAULT_SYMBOL_POLICY,
) -> CohortPreprocessResult:
    """Preprocess one platform of a GEO series into the GenoTEX output layout under output_root."""
    platform = series.only_platform()
    result = CohortPreprocessResult(trait, cohort_id, {}, False)
    result.notes += [f"{cohort_id}: {platform.platform_id}, {platform.expression.shape[1]} samples"]
    result.notes += platform.notes

    clinical, choice = extract_geo_clinical(platform.samples, trait)
    result.notes.append(f"clinical choice: {choice.text()}")
    if platform.expression.empty:
        return record_unavailable(result, output_root, False, clinical is not None, "no expression values")
    try:
        genes, gene_report = gene_table(platform.expression, platform.annotation, symbol_policy=symbol_policy)
    except GenoteamError as error:
        return record_unavailable(
            result, output_root, False, clinical is not None, f"probes could not be mapped to genes: {error}"
        )
    result.notes.append(f"gene table: {gene_report.summary()}")
    sample_info = detect_geo_sample_info(platform.samples)
    result.notes += sample_info.notes
    record = gene_report.record() | {"sample_design": sample_info.record()}
    result.written["record"] = layout.update_cohort_record(output_root, trait, cohort_id, record)
    if clinical is None:
        return record_unavailable(
            result, output_root, len(genes) > 0, False, f"no trait information found for '{trait}'"
        )
    result.written["clinical_data"] = layout.write_clinical_data(output_root, trait, cohort_id, clinical)
    result.written["gene_data"] = layout.write_gene_data(output_root, trait, cohort_id, genes)
    return link_and_record(result, clinical, genes, output_root, [gene_report.summary()])
