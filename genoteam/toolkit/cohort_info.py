"""The per-trait `cohort_info.json` record, with GenoTEX's fields and rules.

`preprocess/<Trait>/cohort_info.json` maps cohort id (GSE accession, or "TCGA") to:
is_usable, is_gene_available, is_trait_available, is_available, is_biased, has_age, has_gender,
sample_size, note. GenoTEX's evaluator scores dataset filtering on `is_available` and selects the
usable cohort with the largest `sample_size` (the one with Age/Gender for those conditions).

Rules (GenoTEX's validate_and_save_cohort_info):
- Initial check (is_final=False): when gene and trait data are both available nothing is written
  (preprocessing goes on); otherwise a record with is_available False and the rest None.
- Final check: the preprocessed (linked) table overrides the flags when it is abnormal: no rows
  -> no gene and no trait data; 4 columns or fewer -> no gene data. is_available = gene and
  trait available; is_usable = available and not biased; is_biased, has_age, has_gender and
  sample_size are recorded only for available cohorts (None otherwise).

Updates are read-modify-write under an exclusive lock (several cohorts of one trait may be
preprocessed at once) and written atomically, so the file is always complete JSON. Records are
kept in `cohort_order_key` order, so the file's bytes do not depend on which cohort finished
first (GenoTEX's evaluator reads ties in file order; see toolkit/stats/selection.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_json, read_cohort_info  # the file's one reader

COHORT_INFO_FIELDS = (
    "is_usable",
    "is_gene_available",
    "is_trait_available",
    "is_available",
    "is_biased",
    "has_age",
    "has_gender",
    "sample_size",
    "note",
)
MIN_LINKED_COLUMNS = 5  # trait + Age + Gender + at least 2 more: GenoTEX flags <= 4 columns


def cohort_order_key(cohort: str) -> tuple[int, tuple[tuple[int, str], ...]]:
    """The documented order of cohorts (record order, selection ties): GEO cohorts (GSE<n>,
    GSE<n>_GPL<m>) before TCGA, then the id with its numbers compared as numbers (GSE781 < GSE1000)."""
    parts = tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", cohort) if p)
    return (1 if cohort.upper().startswith("TCGA") else 0, parts)


def initial_record(is_gene_available: bool, is_trait_available: bool) -> dict[str, Any] | None:
    """The record of a cohort filtered out before preprocessing, or None when it passes."""
    if is_gene_available and is_trait_available:
        return None
    return {
        "is_usable": False,
        "is_gene_available": bool(is_gene_available),
        "is_trait_available": bool(is_trait_available),
        "is_available": False,
        "is_biased": None,
        "has_age": None,
        "has_gender": None,
        "sample_size": None,
        "note": None,
    }


def final_record(
    is_gene_available: bool, is_trait_available: bool, is_biased: bool, df: pd.DataFrame, note: str = ""
) -> dict[str, Any]:
    """The record of a preprocessed cohort, from its linked table (samples x [trait, Age, Gender, genes])."""
    if df is None or is_biased is None:
        raise GenoteamError("a final cohort record needs the linked table and the trait bias verdict")
    gene_ok, trait_ok = bool(is_gene_available), bool(is_trait_available)
    if len(df) <= 0 or len(df.columns) < MIN_LINKED_COLUMNS:
        gene_ok = False
        if len(df) <= 0:
            trait_ok = False
    available = gene_ok and trait_ok
    return {
        "is_usable": bool(available and is_biased is False),
        "is_gene_available": gene_ok,
        "is_trait_available": trait_ok,
        "is_available": available,
        "is_biased": bool(is_biased) if available else None,
        "has_age": ("Age" in df.columns) if available else None,
        "has_gender": ("Gender" in df.columns) if available else None,
        "sample_size": int(len(df)) if available else None,
        "note": note,
    }


def validate_and_save_cohort_info(
    is_final: bool,
    cohort: str,
    info_path: str | os.PathLike[str],
    is_gene_available: bool,
    is_trait_available: bool,
    is_biased: bool | None = None,
    df: pd.DataFrame | None = None,
    note: str = "",
) -> bool:
    """GenoTEX's function: record the cohort and return whether it is usable (always False for
    the initial check). A record that is not written (initial check passed) is said so."""
    if not is_final:
        record = initial_record(is_gene_available, is_trait_available)
        if record is None:
            print(f"cohort {cohort}: gene and trait data available, preprocessing continues (no record yet)")
            return False
    else:
        if df is None or is_biased is None:
            raise GenoteamError(
                f"final validation of cohort {cohort} needs df (the linked table) and is_biased",
                "pass df=linked_data and is_biased=<trait bias verdict>",
            )
        record = final_record(is_gene_available, is_trait_available, is_biased, df, note)
    update_cohort_info(info_path, cohort, record)
    print(f"cohort {cohort}: {json.dumps(record)}")
    return bool(record["is_usable"])


def validate_record(record: dict[str, Any]) -> None:
    missing = [f for f in COHORT_INFO_FIELDS if f not in record]
    if missing:
        raise GenoteamError(f"cohort record lacks GenoTEX fields {missing}", "build it with final_record()")


@contextmanager
def _locked(info_path: Path) -> Iterator[None]:
    lock_path = info_path.with_name(info_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def update_cohort_info(
    info_path: str | os.PathLike[str], cohort: str, record: dict[str, Any]
) -> dict[str, Any]:
    """Set `record` for `cohort` in the JSON file (created when absent); returns all records."""
    validate_record(record)
    path = Path(info_path)
    with _locked(path):
        records = read_cohort_info(path) if path.exists() else {}
        records[str(cohort)] = record
        records = {c: records[c] for c in sorted(records, key=cohort_order_key)}
        atomic_write_json(path, records)
    return records


def restore_cohort_record(
    info_path: str | os.PathLike[str], cohort: str, record: dict[str, Any] | None
) -> bool:
    """Put `cohort`'s record back to `record` (None: remove it), under the file's lock.

    Why: a rejected attempt of an agent may have written a record; the attempt is undone, and so
    must its record be. Returns whether the file changed."""
    path = Path(info_path)
    if not path.is_file():
        return False
    with _locked(path):
        records = read_cohort_info(path)
        if records.get(str(cohort)) == record:
            return False
        if record is None:
            records.pop(str(cohort), None)
        else:
            records[str(cohort)] = record
        records = {c: records[c] for c in sorted(records, key=cohort_order_key)}
        atomic_write_json(path, records)
    return True
