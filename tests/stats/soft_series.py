"""Write a small GEO family SOFT file from real values, for end-to-end and R peer checks.

Why: the tests need series with a known property (log2 scale, a planted batch shift) built from
real expression values; writing GEO's own format lets the project's readers and R GEOquery both
read the same bytes, so nothing in between is trusted.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd


def write_family_soft(
    folder: Path,
    gse: str,
    values: pd.DataFrame,
    symbols: pd.Series,
    characteristics: dict[str, list[str]],
    gpl: str = "GPL96",
) -> Path:
    """`folder/<gse>_family.soft.gz` with one platform (ID, Gene Symbol) and one sample per column
    of `values` (probes x GSM), each with its characteristics lines ("key: value")."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{gse}_family.soft.gz"
    lines = [
        "^DATABASE = GeoMiame",
        f"^SERIES = {gse}",
        f"!Series_title = {gse} built from real expression values for a test",
        f"!Series_geo_accession = {gse}",
        "!Series_summary = Test series.",
        "!Series_overall_design = Cases and controls.",
        "!Series_type = Expression profiling by array",
        *[f"!Series_sample_id = {gsm}" for gsm in values.columns],
        f"!Series_platform_id = {gpl}",
        f"^PLATFORM = {gpl}",
        f"!Platform_title = {gpl} subset",
        f"!Platform_geo_accession = {gpl}",
        "!Platform_organism = Homo sapiens",
        f"!Platform_data_row_count = {len(values)}",
        "#ID = Probe set ID",
        "#Gene Symbol = gene symbol",
        "!platform_table_begin",
        "ID\tGene Symbol",
        *[f"{probe}\t{symbols[probe]}" for probe in values.index],
        "!platform_table_end",
    ]
    for gsm in values.columns:
        lines += [
            f"^SAMPLE = {gsm}",
            f"!Sample_title = sample {gsm}",
            f"!Sample_geo_accession = {gsm}",
            "!Sample_type = RNA",
            "!Sample_channel_count = 1",
            "!Sample_source_name_ch1 = tissue",
            "!Sample_organism_ch1 = Homo sapiens",
            *[f"!Sample_characteristics_ch1 = {line}" for line in characteristics[gsm]],
            f"!Sample_platform_id = {gpl}",
            f"!Sample_series_id = {gse}",
            f"!Sample_data_row_count = {len(values)}",
            "#ID_REF = ",
            "#VALUE = log2 signal",
            "!sample_table_begin",
            "ID_REF\tVALUE",
            *[f"{probe}\t{value:.17g}" for probe, value in values[gsm].items()],
            "!sample_table_end",
        ]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
