"""GEO sample metadata -> clinical rows (trait, Age, Gender), and a rule-based chooser.

Why: GEO has no clinical schema. The trait, age and gender hide in `characteristics` lines
('disease state: RCC', 'age: 56', 'Sex: F'), and when a series has none (GSE781) in the
source name, the title or the free-text description. GenoTEX's analyst reads the distinct
values of each row, picks the rows and writes converters; `geo_select_clinical_features`
applies that choice. `choose_clinical_rows` makes the same choice by explicit rules and says
why in words: it is the offline domain expert.

Rules of the chooser (docs/geo.md has the rationale):
- Candidate rows, in order of trust: characteristics lines, source name, `key = value`
  fields of the description, title, description. A source name describes the material that
  was hybridised; a title is a free label that may name the patient's diagnosis (GSE781's
  'N2 Renal Clear Cell Carcinoma U133A' is a normal sample), so a title decides only when
  nothing more trustworthy splits the samples.
- Trait: each distinct value is labelled 0 when it names a control (normal, healthy,
  control, adjacent, non-tumour, ...), else 1 when it names the trait or a disease; when a
  row holds exactly one control value and one other value, the other value is the case.
  Among rows that split the samples into two classes, a row whose case values name the
  trait beats one naming only a generic disease word, which beats a case found by
  elimination; then the row labelling most samples; ties go to the more trusted row.
- Age: a row whose key is 'age' (not 'stage', 'passage') and whose values give numbers.
- Gender: a row whose key is 'sex' or 'gender', or whose values are male/female words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genoteam.toolkit.geo import characteristics_table

RowKey = int | str
Converter = Callable[[object], float | None]

_CONTROL = re.compile(
    r"\b(normal|healthy|control|controls|ctrl|adjacent|non[- ]?tumou?r(al)?|non[- ]?malignant|"
    r"non[- ]?cancer(ous)?|non[- ]?diseased?|unaffected|disease[- ]free|tumou?r[- ]free|"
    r"wild[- ]?type|untreated donor|donor)\b",
    re.IGNORECASE,
)
_GENERIC_CASE = (
    "tumor|tumour|cancer|carcinoma|malignant|malignancy|neoplasm|neoplastic|patient|patients|"
    "case|cases|disease|diseased|affected|lesion|lesional|metastasis|metastatic|sarcoma|lymphoma|"
    "leukemia|leukaemia|melanoma|adenocarcinoma|glioma|glioblastoma"
)
_TRAIT_STOPWORDS = {"cell", "cells", "type", "the", "and", "of", "syndrome", "disorder", "human", "tissue"}
# Organ words name where a sample comes from, not whether it is a case ('tissue: kidney').
_ANATOMY_WORDS = {
    "kidney",
    "renal",
    "liver",
    "hepatic",
    "lung",
    "pulmonary",
    "breast",
    "brain",
    "skin",
    "heart",
    "cardiac",
    "colon",
    "rectal",
    "blood",
    "bone",
    "marrow",
    "prostate",
    "ovarian",
    "ovary",
    "uterine",
    "cervical",
    "thyroid",
    "pancreatic",
    "pancreas",
    "gastric",
    "stomach",
    "bladder",
    "bile",
    "duct",
    "head",
    "neck",
    "esophageal",
    "oral",
    "adrenal",
    "testicular",
    "muscle",
    "adipose",
    "large",
}
_AGE_KEY = re.compile(r"(^|[^a-z])age([^a-z]|$)", re.IGNORECASE)
_SEX_KEY = re.compile(r"\b(sex|gender)\b", re.IGNORECASE)
_FEMALE = re.compile(r"^\s*(f|female|females|woman|women|girl)\s*$", re.IGNORECASE)
_MALE = re.compile(r"^\s*(m|male|males|man|men|boy)\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MIN_COVERAGE = 0.5


# ----------------------------------------------------------------------------- converters


def value_part(cell: object) -> str | None:
    """'age: 56' -> '56'; 'Age = 70' -> '70'; a value without a key is returned stripped."""
    if not isinstance(cell, str):
        return None
    for separator in (":", "="):
        if separator in cell:
            return cell.split(separator, 1)[1].strip()
    return cell.strip()


def key_part(cell: object) -> str:
    """'age: 56' -> 'age'; '' when the cell has no key."""
    if not isinstance(cell, str):
        return ""
    match = re.match(r"\s*([^:=]+?)\s*[:=]", cell)
    return match.group(1).lower() if match else ""


def convert_age(cell: object) -> float | None:
    """Age in years from 'age: 56', '56 yrs', 'Age = 70', 'age (y): 56.5', '50-60' (midpoint),
    '18 months' (1.5); None when there is no number."""
    value = value_part(cell)
    if not value:
        return None
    numbers = [float(n) for n in _NUMBER.findall(value)]
    if not numbers:
        return None
    years = (
        (numbers[0] + numbers[1]) / 2
        if len(numbers) >= 2 and re.search(r"\d\s*(-|to)\s*\d", value)
        else numbers[0]
    )
    if re.search(r"\bmonths?\b|\bmo\b", value, re.IGNORECASE):
        years /= 12.0
    return years


def convert_gender(cell: object) -> float | None:
    """0 for female, 1 for male (GenoTEX's coding), from 'Sex: F', 'gender: male', 'Female'."""
    value = value_part(cell)
    if not value:
        return None
    if _FEMALE.match(value):
        return 0.0
    if _MALE.match(value):
        return 1.0
    return None


# the parameters of geo_select_clinical_features shadow these names, hence the table
_DEFAULT_CONVERTERS: dict[str, Converter] = {"Age": convert_age, "Gender": convert_gender}


def make_mapping_converter(mapping: dict[str, float]) -> Converter:
    """A converter that looks the whole cell up in `mapping` (unknown cells -> None): the
    transparent form of a trait converter, since every value's label is written down."""

    def convert(cell: object) -> float | None:
        return mapping.get(cell) if isinstance(cell, str) else None

    return convert


def trait_terms(trait: str) -> list[str]:
    """Words of the trait name that identify a case, without organ words
    ('Kidney_Clear_Cell_Carcinoma' -> clear, carcinoma)."""
    words = re.split(r"[_\-\s'()]+", trait.lower())
    return [w for w in words if len(w) >= 3 and w not in _TRAIT_STOPWORDS | _ANATOMY_WORDS]


def case_evidence(value: object, trait: str) -> int:
    """How directly a value names a case: 2 = a word of the trait, 1 = a generic disease word
    (tumour, patient, ...), 0 = neither."""
    value = value_part(value)  # the key ('disease state:') says nothing about this sample
    if not value:
        return 0
    terms = trait_terms(trait)
    if terms and re.search(rf"\b({'|'.join(map(re.escape, terms))})\b", value, re.IGNORECASE):
        return 2
    return 1 if re.search(rf"\b({_GENERIC_CASE})\b", value, re.IGNORECASE) else 0


def label_trait_value(value: object, trait: str) -> float | None:
    """0 for a control value, 1 for a value naming the trait or a disease, None otherwise.
    Control words are checked first: 'normal tissue adjacent to carcinoma' is a control."""
    value = value_part(value)
    if not value:
        return None
    if _CONTROL.search(value):
        return 0.0
    return 1.0 if case_evidence(value, trait) else None


# ----------------------------------------------------------------------------- selection


def _row(table: pd.DataFrame, row: RowKey) -> pd.Series:
    if row in table.index:
        return table.loc[row]
    if isinstance(row, int):
        return table.iloc[row]
    raise KeyError(f"row {row!r} is not in the clinical table (rows: {list(table.index)})")


def get_feature_row(table: pd.DataFrame, row: RowKey, name: str, convert: Converter) -> pd.DataFrame:
    """One converted row as a one-row frame named `name` (float, None -> NaN)."""
    values = _row(table, row).map(convert)
    return pd.DataFrame(
        [pd.to_numeric(values, errors="coerce").astype(float).to_numpy()], index=[name], columns=table.columns
    )


def geo_select_clinical_features(
    table: pd.DataFrame,
    trait: str,
    trait_row: RowKey,
    convert_trait: Converter,
    age_row: RowKey | None = None,
    convert_age: Converter | None = None,
    gender_row: RowKey | None = None,
    convert_gender: Converter | None = None,
) -> pd.DataFrame:
    """GenoTEX's clinical frame: rows trait (named `trait`), Age, Gender; columns = samples.

    `table` is characteristics_table() or clinical_candidate_table(); rows are given by label,
    or by position (an int not among the labels), as GenoTEX's analyst writes them.
    """
    frames = [get_feature_row(table, trait_row, trait, convert_trait)]
    if age_row is not None:
        frames.append(get_feature_row(table, age_row, "Age", convert_age or _DEFAULT_CONVERTERS["Age"]))
    if gender_row is not None:
        frames.append(
            get_feature_row(table, gender_row, "Gender", convert_gender or _DEFAULT_CONVERTERS["Gender"])
        )
    return pd.concat(frames, axis=0)


# ----------------------------------------------------------------------------- candidates


def _description_fields(samples: pd.DataFrame) -> dict[str, pd.Series]:
    """`key = value` / `key: value` fields of the free-text description, one row per key that
    at least half the samples have (GSE781: 'Age = 70; Gender = Female; Right Kidney; ...')."""
    if "description" not in samples.columns:
        return {}
    per_sample: dict[str, dict[str, str]] = {}
    for gsm, text in samples["description"].items():
        fields: dict[str, str] = {}
        for part in re.split(r"[;\n]", text if isinstance(text, str) else ""):
            key = key_part(part)
            if key and key not in fields:
                fields[key] = part.strip()
        per_sample[gsm] = fields
    counts: dict[str, int] = {}
    for fields in per_sample.values():
        for key in fields:
            counts[key] = counts.get(key, 0) + 1
    keep = [k for k, n in counts.items() if n >= _MIN_COVERAGE * len(samples) and k != "keywords"]
    return {
        f"description: {key}": pd.Series(
            {gsm: per_sample[gsm].get(key) for gsm in samples.index}, dtype=object
        )
        for key in keep
    }


def clinical_candidate_table(samples: pd.DataFrame) -> pd.DataFrame:
    """All rows a clinical feature may come from, most trusted first: characteristics lines
    (labelled 0, 1, ... as in GenoTEX), then 'source_name_ch1', 'description: <key>' fields,
    'title' and 'description'. Columns = samples."""
    table = characteristics_table(samples)
    extra: dict[str, pd.Series] = {}
    if "source_name_ch1" in samples.columns:
        extra["source_name_ch1"] = samples["source_name_ch1"]
    extra.update(_description_fields(samples))
    for column in ("title", "description"):
        if column in samples.columns:
            extra[column] = samples[column]
    rows = [table] + [
        pd.DataFrame([s.reindex(samples.index).to_numpy()], index=[k], columns=table.columns)
        for k, s in extra.items()
    ]
    return pd.concat(rows, axis=0).astype(object)


# ----------------------------------------------------------------------------- chooser


@dataclass
class RowEvaluation:
    """How one candidate row labels the samples."""

    row: RowKey
    coverage: float
    classes: int
    mapping: dict[str, float]
    evidence: int = 0  # best case_evidence among the case values (0: case inferred by elimination)


@dataclass
class ClinicalChoice:
    """The chosen rows and converters, with the reasons in words."""

    trait: str
    trait_row: RowKey | None
    trait_mapping: dict[str, float]
    age_row: RowKey | None
    gender_row: RowKey | None
    explanation: list[str] = field(default_factory=list)

    @property
    def is_trait_available(self) -> bool:
        return self.trait_row is not None

    def convert_trait(self) -> Converter:
        return make_mapping_converter(self.trait_mapping)

    def text(self) -> str:
        return "\n".join(self.explanation)


def evaluate_trait_row(values: pd.Series, trait: str) -> RowEvaluation:
    """Label each distinct value of one row (see the module rules) and measure the result."""
    distinct = [v for v in pd.unique(values.dropna().to_numpy()) if isinstance(v, str) and v.strip()]
    mapping = {v: label for v in distinct if (label := label_trait_value(v, trait)) is not None}
    unlabelled = [v for v in distinct if v not in mapping]
    if len(distinct) == 2 and len(unlabelled) == 1 and 0.0 in mapping.values():
        mapping[unlabelled[0]] = 1.0  # the one value that is not the control is the case
    labels = values.map(lambda v: mapping.get(v) if isinstance(v, str) else None)
    coverage = float(labels.notna().mean()) if len(values) else 0.0
    evidence = max((case_evidence(v, trait) for v, label in mapping.items() if label == 1.0), default=0)
    return RowEvaluation(values.name, coverage, len(set(mapping.values())), mapping, evidence)


def _describe_row(row: RowKey) -> str:
    return f"characteristics line {row}" if isinstance(row, int | np.integer) else f"'{row}'"


def _choose_trait(table: pd.DataFrame, trait: str, notes: list[str]) -> RowEvaluation | None:
    evaluations = [evaluate_trait_row(table.loc[row], trait) for row in table.index]
    usable = [e for e in evaluations if e.classes == 2 and e.coverage >= _MIN_COVERAGE]
    if not usable:
        single = [e for e in evaluations if e.classes == 1 and e.coverage >= 0.9]
        if single:
            best = single[0]
            label = next(iter(best.mapping.values()))
            notes.append(
                f"Trait: every sample is labelled {int(label)} by {_describe_row(best.row)}; a single class "
                "(the cohort is biased for this trait)."
            )
            return best
        notes.append(
            f"Trait: no row splits the samples into '{trait}' cases and controls "
            f"(looked at {len(evaluations)} rows: characteristics, source name, description, title)."
        )
        return None
    # a row naming the trait beats one whose case is only 'not control' (treatment: control/drug);
    # then coverage; max keeps the first (most trusted) row on ties
    best = max(usable, key=lambda e: (e.evidence, e.coverage))
    counts = (
        table.loc[best.row].map(lambda v: best.mapping.get(v) if isinstance(v, str) else None).value_counts()
    )
    examples = "; ".join(f"'{v}' -> {int(lab)}" for v, lab in list(best.mapping.items())[:4])
    notes.append(
        f"Trait: {_describe_row(best.row)} labels {best.coverage:.0%} of samples "
        f"({int(counts.get(1.0, 0))} cases, {int(counts.get(0.0, 0))} controls): {examples}."
    )
    _explain_disagreements(table, best, usable, notes)
    return best


def _explain_disagreements(
    table: pd.DataFrame, best: RowEvaluation, usable: list[RowEvaluation], notes: list[str]
) -> None:
    chosen = table.loc[best.row].map(lambda v: best.mapping.get(v) if isinstance(v, str) else None)
    for other in usable:
        if other.row == best.row:
            continue
        values = table.loc[other.row]
        theirs = values.map(lambda v, m=other.mapping: m.get(v) if isinstance(v, str) else None)
        differ = chosen.notna() & theirs.notna() & (chosen != theirs)
        if differ.any():
            gsm = differ[differ].index[0]
            notes.append(
                f"  {_describe_row(other.row)} disagrees for {int(differ.sum())} samples, e.g. {gsm}: "
                f"'{values[gsm]}' vs '{table.loc[best.row, gsm]}'. "
                + (
                    "A title is a free label that can name the patient's diagnosis rather than the "
                    "tissue hybridised; the source name describes the material, so it decides."
                    if other.row == "title"
                    else f"{_describe_row(best.row)} is the more trusted row, so it decides."
                )
            )


def _choose_numeric(
    table: pd.DataFrame, key: re.Pattern, convert: Converter, what: str, notes: list[str]
) -> RowKey | None:
    for row in table.index:
        values = table.loc[row]
        keys = {key_part(v) for v in values.dropna()}
        keyed = any(key.search(k) for k in keys if k)
        converted = values.map(convert)
        coverage = float(converted.notna().mean()) if len(values) else 0.0
        value_only = what == "Gender" and not keys - {""} and coverage >= _MIN_COVERAGE
        if (keyed or value_only) and coverage >= _MIN_COVERAGE:
            distinct = sorted({float(v) for v in converted.dropna()})
            shown = distinct if len(distinct) <= 6 else f"{distinct[0]:g}..{distinct[-1]:g}"
            notes.append(
                f"{what}: {_describe_row(row)} gives values for {coverage:.0%} of samples ({shown})."
            )
            return row
    notes.append(f"{what}: no row records it.")
    return None


def choose_clinical_rows(table: pd.DataFrame, trait: str) -> ClinicalChoice:
    """Pick trait, Age and Gender rows of clinical_candidate_table() and explain the choice."""
    notes: list[str] = []
    best = _choose_trait(table, trait, notes)
    age_row = _choose_numeric(table, _AGE_KEY, convert_age, "Age", notes)
    gender_row = _choose_numeric(table, _SEX_KEY, convert_gender, "Gender", notes)
    return ClinicalChoice(
        trait=trait,
        trait_row=None if best is None else best.row,
        trait_mapping={} if best is None else best.mapping,
        age_row=age_row,
        gender_row=gender_row,
        explanation=notes,
    )


def extract_geo_clinical(samples: pd.DataFrame, trait: str) -> tuple[pd.DataFrame | None, ClinicalChoice]:
    """Candidate rows -> chosen rows -> clinical frame (None when no trait row was found)."""
    table = clinical_candidate_table(samples)
    choice = choose_clinical_rows(table, trait)
    if choice.trait_row is None:
        return None, choice
    frame = geo_select_clinical_features(
        table,
        trait,
        choice.trait_row,
        choice.convert_trait(),
        choice.age_row,
        convert_age,
        choice.gender_row,
        convert_gender,
    )
    return frame, choice
