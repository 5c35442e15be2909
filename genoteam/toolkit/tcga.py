"""TCGA (UCSC Xena) cohorts: the files of a cohort folder, the expression matrix, and the
clinical features (trait, Age, Gender) with GenoTEX's conventions.

A cohort folder (GenoTEX's input layout: `<input>/TCGA/TCGA_<Name>_(<CODE>)/`) holds
`TCGA.<CODE>.sampleMap_<CODE>_clinicalMatrix` (tab-separated, samples in rows, ~100 columns) and,
for some cohorts, `TCGA.<CODE>.sampleMap_HiSeqV2_PANCAN.gz` (genes in rows, samples in columns).

Rules (see docs/data.md for the reasoning):
- Trait from the sample barcode: the two digits after the last '-' are the TCGA sample type;
  01-09 tumour -> 1, 10-19 normal -> 0, anything else (20 control, 50 cell line, 60 xenograft,
  unparsable) -> missing. GenoTEX maps "anything else" to -1, a third class; we make it missing,
  so such samples are dropped with the other samples without a trait.
- Gender: 'female' -> 0, 'male' -> 1 (case-insensitive), anything else missing (GenoTEX's rule).
- Age in years: the first number in the cell, truncated to whole years (GenoTEX takes the first
  digit run, which is the same for positive numbers); `days_to_birth` (negative days) becomes
  floor(-days / 365.25). Ages outside 0-120 are missing.
- Choice among candidate columns: most valid values; ties go to the column earliest in the
  preference order (a directly recorded age at diagnosis before a derived one; `gender` before
  study-specific copies such as `Gender_nature2012`).
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError, InputFileError

AGE_RANGE_YEARS = (0.0, 120.0)
DAYS_PER_YEAR = 365.25

# Candidate columns, in preference order (earlier wins ties). Each pattern is matched against the
# whole column name, case-insensitively. Age columns whose unit is days say so in `DAY_COLUMNS`.
AGE_COLUMN_PATTERNS: tuple[str, ...] = (
    r"age_at_initial_pathologic_diagnosis",
    r"age_at_diagnosis",
    r"age_at_index",
    r"age",
    r"age_at_initial_pathologic_diagnosis_.+",  # study copies, e.g. ..._nature2012
    r"cde_dxage",
    r"days_to_birth",
)
DAY_COLUMNS = re.compile(r"days_to_birth", re.IGNORECASE)
GENDER_COLUMN_PATTERNS: tuple[str, ...] = (r"gender", r"sex", r"(gender|sex)_.+")


# ----------------------------------------------------------------------------- files
@dataclass(frozen=True)
class TcgaCohortFiles:
    """The files of one Xena cohort folder; `genes` is None when the folder has no expression."""

    folder: Path
    clinical: Path
    genes: Path | None


def find_tcga_files(cohort_dir: str | Path) -> TcgaCohortFiles:
    """Locate the clinical matrix ('clinicalMatrix' in the name) and the expression matrix
    ('PANCAN' in the name), as GenoTEX does, but with clear errors instead of an IndexError."""
    folder = Path(cohort_dir)
    if not folder.is_dir():
        raise InputFileError(
            folder, "TCGA cohort folder not found", "check the input folder (DIR/TCGA/<cohort>/)"
        )
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    clinical = [n for n in names if "clinicalmatrix" in n.lower()]
    genes = [n for n in names if "pancan" in n.lower()]
    if not clinical:
        raise InputFileError(
            folder,
            f"no clinical matrix (a file with 'clinicalMatrix' in its name) among {names}",
            "download TCGA.<CODE>.sampleMap_<CODE>_clinicalMatrix from UCSC Xena into this folder",
        )
    return TcgaCohortFiles(folder, folder / clinical[0], folder / genes[0] if genes else None)


def read_tcga_clinical(path: str | Path) -> pd.DataFrame:
    """The clinical matrix: samples (barcodes) as the index, clinical columns as columns."""
    path = Path(path)
    df = _read_table(path, "clinical matrix")
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise InputFileError(path, "clinical matrix has no samples or no columns", "re-download the file")
    df.index = df.index.astype(str)
    if not df.index.is_unique:
        raise InputFileError(path, "duplicated sample ids in the clinical matrix", "re-download the file")
    return df


def read_tcga_genes(path: str | Path) -> pd.DataFrame:
    """The Xena expression matrix (e.g. HiSeqV2_PANCAN, log2 RSEM): genes as rows, samples as
    columns, float values."""
    path = Path(path)
    df = _read_table(path, "expression matrix")
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise InputFileError(path, "expression matrix has no genes or no samples", "re-download the file")
    try:
        values = df.apply(pd.to_numeric, errors="raise").astype(float)
    except (ValueError, TypeError) as error:
        raise InputFileError(
            path,
            f"expression matrix has non-numeric values ({error})",
            "is this really a Xena expression file?",
        ) from error
    values.index = values.index.astype(str)
    values.columns = values.columns.astype(str)
    values.index.name = "Gene"
    if values.isna().all().all():
        raise InputFileError(path, "expression matrix has no values", "re-download the file")
    return values


def _read_table(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError(path, f"{what} not found", "check the TCGA cohort folder")
    if path.stat().st_size == 0:
        raise InputFileError(path, f"{what} is an empty file", "re-download it from UCSC Xena")
    try:
        return pd.read_csv(path, sep="\t", index_col=0, low_memory=False, compression="infer")
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise InputFileError(
            path, f"{what} is a corrupt or truncated gzip file ({error})", "re-download it from UCSC Xena"
        ) from error
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputFileError(
            path, f"{what} is not a tab-separated table ({error})", "re-download it"
        ) from error


# ----------------------------------------------------------------------------- converters
def tcga_sample_type(barcode: str) -> int | None:
    """The TCGA sample-type code: the two digits after the last '-' ('TCGA-3X-AAV9-01' -> 1,
    'TCGA-..-11A' -> 11); None when there are no two digits there. A longer aliquot barcode
    (TCGA-W5-AA2R-01A-11R-A41I-07) ends with its sequencing centre, so its fourth field is read."""
    parts = str(barcode).split("-")
    if len(parts) > 4 and parts[0].upper() == "TCGA":
        parts = parts[:4]
    tail = parts[-1] if len(parts) > 1 else ""
    return int(tail[:2]) if len(tail) >= 2 and tail[:2].isdigit() else None


def tcga_convert_trait(barcode: str) -> float:
    """1.0 tumour (01-09), 0.0 normal (10-19), NaN otherwise (never a third class)."""
    code = tcga_sample_type(barcode)
    if code is not None and 1 <= code <= 9:
        return 1.0
    if code is not None and 10 <= code <= 19:
        return 0.0
    return math.nan


def tcga_convert_gender(cell: object) -> float:
    """GenoTEX's convention: female -> 0, male -> 1, anything else NaN."""
    text = cell.strip().lower() if isinstance(cell, str) else None
    return {"female": 0.0, "male": 1.0}.get(text, math.nan) if text else math.nan


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _first_number(cell: object) -> float:
    if isinstance(cell, int | float | np.integer | np.floating) and not isinstance(cell, bool):
        return float(cell)
    match = _NUMBER.search(str(cell)) if isinstance(cell, str) else None
    return float(match.group()) if match else math.nan


def tcga_convert_age(cell: object, in_days: bool = False) -> float:
    """Age in whole years, or NaN when absent or outside 0-120 years."""
    value = _first_number(cell)
    if math.isnan(value):
        return math.nan
    years = -value / DAYS_PER_YEAR if in_days else value
    years = float(math.floor(years))
    low, high = AGE_RANGE_YEARS
    return years if low <= years <= high else math.nan


# ----------------------------------------------------------------------------- column choice
@dataclass(frozen=True)
class ColumnChoice:
    """Which clinical column was chosen for a feature, and why (printed for reviewers)."""

    feature: str
    column: str | None
    valid_counts: dict[str, int] = field(default_factory=dict)
    reason: str = ""


def _candidates(columns: list[str], patterns: tuple[str, ...]) -> list[str]:
    ordered: list[str] = []
    for pattern in patterns:
        regex = re.compile(pattern, re.IGNORECASE)
        ordered += [c for c in columns if regex.fullmatch(c) and c not in ordered]
    return ordered


def tcga_age_candidates(clinical: pd.DataFrame) -> list[str]:
    """Columns that may hold the age at diagnosis, in preference order (ages of other events,
    such as age_began_smoking_in_years or asbestos_exposure_age, are not candidates)."""
    return _candidates([str(c) for c in clinical.columns], AGE_COLUMN_PATTERNS)


def tcga_gender_candidates(clinical: pd.DataFrame) -> list[str]:
    return _candidates([str(c) for c in clinical.columns], GENDER_COLUMN_PATTERNS)


def tcga_age_values(clinical: pd.DataFrame, column: str) -> pd.Series:
    in_days = bool(DAY_COLUMNS.fullmatch(column))
    return clinical[column].map(lambda cell: tcga_convert_age(cell, in_days=in_days)).astype(float)


def tcga_gender_values(clinical: pd.DataFrame, column: str) -> pd.Series:
    return clinical[column].map(tcga_convert_gender).astype(float)


def _choose(feature: str, clinical: pd.DataFrame, candidates: list[str], convert) -> ColumnChoice:
    counts = {c: int(convert(clinical, c).notna().sum()) for c in candidates}
    usable = {c: n for c, n in counts.items() if n > 0}
    if not usable:
        why = f"no candidate column for {feature}" if not candidates else f"no valid values in {candidates}"
        return ColumnChoice(feature, None, counts, why)
    best = max(usable.values())
    column = next(c for c in candidates if usable.get(c) == best)  # preference order breaks ties
    reason = f"{column!r} has the most valid {feature} values ({best} of {len(clinical)} samples)"
    if len(usable) > 1:
        reason += f"; candidates: {counts}"
    return ColumnChoice(feature, column, counts, reason)


def choose_age_column(clinical: pd.DataFrame) -> ColumnChoice:
    """The age column with the most valid ages (0-120 years); ties go to the preferred column."""
    return _choose("Age", clinical, tcga_age_candidates(clinical), tcga_age_values)


def choose_gender_column(clinical: pd.DataFrame) -> ColumnChoice:
    """The gender column with the most FEMALE/MALE values; ties go to the preferred column."""
    return _choose("Gender", clinical, tcga_gender_candidates(clinical), tcga_gender_values)


# ----------------------------------------------------------------------------- features
def tcga_select_clinical_features(
    clinical: pd.DataFrame, trait: str, age_col: str | None = None, gender_col: str | None = None
) -> pd.DataFrame:
    """Rows [trait, Age?, Gender?] x samples (GenoTEX's clinical orientation, the one its evaluator
    reads), float values with NaN for missing. Age and Gender rows appear only when a column is
    given; an unknown column name is an error, not a silent omission."""
    for column in (age_col, gender_col):
        if column is not None and column not in clinical.columns:
            raise GenoteamError(
                f"clinical column {column!r} not found",
                f"choose among {tcga_age_candidates(clinical) + tcga_gender_candidates(clinical)}",
            )
    rows = {trait: clinical.index.to_series().map(tcga_convert_trait).astype(float)}
    if age_col is not None:
        rows["Age"] = tcga_age_values(clinical, age_col)
    if gender_col is not None:
        rows["Gender"] = tcga_gender_values(clinical, gender_col)
    features = pd.DataFrame(rows).T
    features.columns = clinical.index.astype(str)
    features.columns.name = None
    return features


@dataclass(frozen=True)
class TcgaClinical:
    """Clinical features of a cohort (rows trait/Age/Gender x samples) and how they were chosen."""

    features: pd.DataFrame
    age: ColumnChoice
    gender: ColumnChoice
    n_tumour: int
    n_normal: int
    n_missing_trait: int

    def summary(self) -> str:
        return (
            f"{self.features.shape[1]} samples: {self.n_tumour} tumour, {self.n_normal} normal, "
            f"{self.n_missing_trait} without a tumour/normal label; Age: {self.age.reason}; "
            f"Gender: {self.gender.reason}"
        )


def extract_tcga_clinical(clinical: pd.DataFrame, trait: str) -> TcgaClinical:
    """Trait, Age and Gender of a cohort with the columns chosen by the documented rule."""
    age = choose_age_column(clinical)
    gender = choose_gender_column(clinical)
    features = tcga_select_clinical_features(clinical, trait, age.column, gender.column)
    labels = features.loc[trait]
    return TcgaClinical(
        features=features,
        age=age,
        gender=gender,
        n_tumour=int((labels == 1).sum()),
        n_normal=int((labels == 0).sum()),
        n_missing_trait=int(labels.isna().sum()),
    )


# ----------------------------------------------------------------------------- one cohort, end to end
def preprocess_tcga_cohort(
    cohort_dir: str | Path,
    trait: str,
    output_root: str | Path,
    normalize_genes=None,
    cohort_id: str = "TCGA",
    symbol_policy: str | None = None,
):
    """GenoTEX's TCGA steps for one cohort folder, writing the GenoTEX output layout:
    initial availability check (a cohort without an expression matrix is recorded as without
    gene data and stops there), clinical features -> clinical_data/<cohort>.csv, the gene table
    -> gene_data/<cohort>.csv, then the shared tail (cohort_steps.link_and_record): link,
    missing values, bias, the final record, and the linked table only when usable.

    The gene table: with `symbol_policy` ("analyst" or "genotex"), gene_mapping.gene_table
    (scale decided on the measured values, symbols normalised by the policy, every change in the
    cohort record); else `normalize_genes` (a callable taking genes x samples and returning it,
    or (frame, report)); neither keeps Xena's symbols. The cohort record also gets the
    tumour-vs-normal statement, the participants and any batch-like fields (sample_design)."""
    from genoteam.toolkit import layout
    from genoteam.toolkit.cohort_steps import CohortPreprocessResult, link_and_record, record_unavailable
    from genoteam.toolkit.gene_mapping import gene_table
    from genoteam.toolkit.sample_design import detect_tcga_sample_info

    folder = Path(cohort_dir)
    files = find_tcga_files(folder)
    clinical = read_tcga_clinical(files.clinical)
    result = CohortPreprocessResult(trait, cohort_id, {}, False)
    if files.genes is None:
        why = f"{folder.name} has no expression matrix (no file with 'PANCAN' in its name)"
        return record_unavailable(result, output_root, False, True, why)
    genes = read_tcga_genes(files.genes)

    extracted = extract_tcga_clinical(clinical, trait)
    result.notes.append(extracted.summary())
    result.written["clinical_data"] = layout.write_clinical_data(
        output_root, trait, cohort_id, extracted.features
    )
    sample_info = detect_tcga_sample_info(list(genes.columns), clinical)
    result.notes += [f"comparison: {sample_info.comparison}", *sample_info.notes]
    record: dict = {"sample_design": sample_info.record()}
    if symbol_policy is not None:
        genes, gene_report = gene_table(genes, symbol_policy=symbol_policy)
        result.notes.append(f"gene table: {gene_report.summary()}")
        record |= gene_report.record()
    elif normalize_genes is not None:
        normalized = normalize_genes(genes)
        if isinstance(normalized, tuple):
            normalized, report = normalized
            result.notes.append(f"gene symbols: {report.summary() if hasattr(report, 'summary') else report}")
        genes = normalized
    result.written["record"] = layout.update_cohort_record(output_root, trait, cohort_id, record)
    result.written["gene_data"] = layout.write_gene_data(output_root, trait, cohort_id, genes)
    return link_and_record(result, extracted.features, genes, output_root, [extracted.summary()])
