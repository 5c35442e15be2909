"""What the samples' metadata says about the design: batch-like fields, individuals, the comparison.

Why: a trait tested without the batches it was processed in can find the batches instead, and a
tumour tested against normal tissue of the same patients is a paired comparison. This module
only detects and records (per cohort, in the cohort record); stats/design.py decides what goes
into the model, so one rule decides and every engine records the same facts.

Rules (docs/statistics.md, "Batches, pairing"):
- Batch-like fields: a sample field whose key names a processing unit (batch, run, scan /
  processing / hybridisation / extraction date, centre, plate, lot, lane, flow cell, chip), from
  GEO characteristics lines or `key = value` fields of the description; for TCGA, the
  clinical matrix's `batch_number` and, when the sample ids are full aliquot barcodes
  (TCGA-XX-YYYY-01A-11R-A12B-07), the plate (A12B) and the sequencing centre (07). The Xena
  sample ids (TCGA-XX-YYYY-01) carry neither; the tissue source site (XX) is the patient's
  hospital, a property of the patient, and is not treated as a batch.
- Individuals: GEO fields keyed patient / individual / donor / subject (id), pair; TCGA the
  participant (the first 12 characters of the barcode).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from genoteam.toolkit.clinical_geo import clinical_candidate_table, key_part, value_part

BATCH_KEY = re.compile(
    r"\b(batch(es)?|run|scan(ning)?[ _-]?date|process(ing|ed)?[ _-]?date|hybri[dz]i[sz]ation[ _-]?date|"
    r"hyb[ _-]?date|extraction[ _-]?date|array[ _-]?date|cent(er|re)|plate|lot|lane|flow[ _-]?cell|chip)\b",
    re.IGNORECASE,
)
INDIVIDUAL_KEY = re.compile(
    r"^(patient|individual|donor|subject|case|pair)([ _-]?(id|number|no\.?|#))?$", re.IGNORECASE
)
TCGA_BATCH_COLUMNS = ("batch_number",)
_TCGA_ALIQUOT = re.compile(r"^TCGA-\w{2}-\w{4}-\d{2}[A-Z]-\d{2}[A-Z]-(\w{4})-(\d{2})$", re.IGNORECASE)


@dataclass
class SampleInfo:
    """Per-sample facts a model may use: batch-like fields and individuals, with notes."""

    batches: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {sample: level}
    individuals: dict[str, str] = field(default_factory=dict)  # sample -> individual id
    individual_source: str = ""
    comparison: str = ""  # what the trait compares, when the source fixes it (TCGA)
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict:
        """The cohort record's `sample_design` entry."""
        return {
            "batches": self.batches,
            "individuals": self.individuals,
            "individual_source": self.individual_source,
            "comparison": self.comparison,
            "notes": self.notes,
        }

    @classmethod
    def from_record(cls, record: dict | None) -> SampleInfo:
        record = record or {}
        return cls(
            batches={
                str(k): {str(s): str(v) for s, v in m.items()} for k, m in record.get("batches", {}).items()
            },
            individuals={str(s): str(v) for s, v in record.get("individuals", {}).items()},
            individual_source=str(record.get("individual_source", "")),
            comparison=str(record.get("comparison", "")),
            notes=list(record.get("notes", [])),
        )


def _row_key(label: object, cells: pd.Series) -> str:
    """The key of a candidate row: 'description: lot batch' -> 'lot batch'; a characteristics
    line -> the most common key of its cells ('batch: 1' -> 'batch')."""
    if isinstance(label, str):
        return label.split(":", 1)[1].strip() if label.startswith("description:") else ""
    keys = cells.dropna().map(key_part)
    keys = keys[keys != ""]
    return str(keys.mode().iloc[0]) if len(keys) else ""


def detect_geo_sample_info(samples: pd.DataFrame) -> SampleInfo:
    """Batch-like fields and individuals from a GEO series' sample table (one row per GSM)."""
    info = SampleInfo()
    table = clinical_candidate_table(samples)
    for label, cells in table.iterrows():
        key = _row_key(label, cells)
        if not key:
            continue
        values = {str(s): value_part(v) for s, v in cells.items() if value_part(v)}
        if BATCH_KEY.search(key):
            info.batches[key] = values
            info.notes.append(
                f"batch-like field '{key}' ({len(set(values.values()))} levels, {len(values)} samples)"
            )
        elif INDIVIDUAL_KEY.match(key) and not info.individuals:
            info.individuals, info.individual_source = values, f"sample field '{key}'"
    if not info.batches:
        info.notes.append("no batch-like sample field (batch, run, scan/processing date, centre, plate, lot)")
    return info


def tcga_participant(barcode: str) -> str:
    """'TCGA-W5-AA2R-11' -> 'TCGA-W5-AA2R' (the individual)."""
    return str(barcode)[:12]


def detect_tcga_sample_info(samples: list[str], clinical: pd.DataFrame) -> SampleInfo:
    """Batches (batch_number, aliquot plate and centre), participants and the tumour-vs-normal
    statement of a TCGA cohort, for the samples of its expression matrix."""
    from genoteam.toolkit.tcga import tcga_convert_trait  # tcga imports this module in its steps

    labels = [tcga_convert_trait(s) for s in samples]
    n_tumour, n_normal = labels.count(1.0), labels.count(0.0)
    with_tumour = {tcga_participant(s) for s, label in zip(samples, labels, strict=True) if label == 1.0}
    paired = sum(
        1
        for s, label in zip(samples, labels, strict=True)
        if label == 0.0 and tcga_participant(s) in with_tumour
    )
    info = SampleInfo(
        comparison=(
            f"tumour vs normal tissue: the trait is the TCGA sample type of each barcode, 01-09 tumour (1, "
            f"{n_tumour} samples) vs 10-19 normal tissue (0, {n_normal} samples, {paired} of them from "
            "patients who also gave a tumour sample), not patients vs healthy controls"
        )
    )
    for column in TCGA_BATCH_COLUMNS:
        if column in clinical.columns:
            values = clinical[column].reindex(samples).dropna().astype(str)
            info.batches[column] = values.to_dict()
            info.notes.append(
                f"batch-like field '{column}' from the clinical matrix ({values.nunique()} levels)"
            )
    parts = [_TCGA_ALIQUOT.match(s) for s in samples]
    if samples and all(parts):
        info.batches["plate"] = {s: m.group(1) for s, m in zip(samples, parts, strict=True)}
        info.batches["centre"] = {s: m.group(2) for s, m in zip(samples, parts, strict=True)}
        info.notes.append("plate and sequencing centre taken from the aliquot barcodes")
    else:
        info.notes.append(
            "the sample ids are sample barcodes (TCGA-XX-YYYY-NN), without plate or sequencing centre; "
            "the tissue source site is the patient's hospital, not a processing batch, and is not used"
        )
    info.individuals = {s: tcga_participant(s) for s in samples}
    info.individual_source = "TCGA participant (first 12 characters of the barcode)"
    return info
