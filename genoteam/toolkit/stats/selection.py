"""Inputs of GenoTEX's procedure: the task file (known genes per trait) and cohort selection.

The task file is GenoTEX's metadata/task_info.json: {trait: {"related_genes": [...],
"conditions": [...]}}. This module is the one home of GenoTEX's cohort selection, used by the
statistics, both engines and the evaluator:

- A cohort competes when its record says `is_usable` is true (GenoTEX tests `== True`, so a
  missing or null flag means no); for the condition Age (Gender) its `has_age` (`has_gender`)
  must be true as well. A missing or non-numeric `sample_size` ranks below every number.
- One-step questions take the largest competing cohort. Two-step questions rank every
  (trait cohort, condition cohort) pair by the product of sample sizes, trait rank then
  condition rank on equal products (GenoTEX builds the pairs from its two ranked lists), and
  take the first pair that shares at least one condition gene.
- Ties on sample size: GenoTEX sorts with pandas' default (unstable) quicksort, so its tie order
  depends on the numpy build and the file order (on numpy 2.x with AVX-512 the first-listed cohort
  loses ties in 1 of 6 random files). Here a tie goes to the smaller `cohort_order_key`
  (GEO series before TCGA, accession and platform numbers compared as numbers): the answer never
  depends on the order records were written in, i.e. on which cohort finished first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from genoteam.toolkit.cohort_info import cohort_order_key
from genoteam.toolkit.errors import GenoteamError, InputFileError
from genoteam.toolkit.traits import CLINICAL_CONDITIONS


def load_task_info(path: str | Path) -> dict:
    """Read a GenoTEX task file, checking that it has the expected shape."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputFileError(
            path, "task file not found", "pass --task-info with GenoTEX's task_info.json"
        ) from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputFileError(
            path, f"not valid JSON ({error})", "pass GenoTEX's metadata/task_info.json"
        ) from error
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and "related_genes" in v for v in data.values()
    ):
        raise InputFileError(
            path, "not a task file: each trait needs a 'related_genes' list", "use GenoTEX's format"
        )
    return data


def known_genes(task_info: dict | None, entity: str, purpose: str) -> list[str]:
    """Known genes of a trait or condition; without a task file, a clear error naming the purpose.

    A trait absent from the file has no known genes (GenoTEX returns an empty list too)."""
    if task_info is None:
        raise GenoteamError(
            f"{purpose} needs the genes known for '{entity}', and no task file was given",
            "pass --task-info FILE (GenoTEX's task_info.json format)",
        )
    entry = task_info.get(entity)
    return list(entry.get("related_genes", [])) if entry else []


def condition_genes(
    task_info: dict | None,
    trait: str,
    condition: str,
    trait_columns: list[str] | pd.Index,
    condition_columns: list[str] | pd.Index,
    exclude_trait_genes: bool = True,
) -> list[str]:
    """Genes that link a condition cohort to a trait cohort in two-step regression: known for the
    condition, measured in both cohorts, and (by default) not known for the trait itself.

    GenoTEX's code does not exclude the trait's genes; exclude_trait_genes=False reproduces it."""
    wanted = known_genes(task_info, condition, "two-step regression through condition genes")
    trait_known = set(known_genes(task_info, trait, "two-step regression")) if exclude_trait_genes else set()
    skip = {"Age", "Gender", trait, condition}
    common = (set(trait_columns) - skip) & (set(condition_columns) - skip)
    return [g for g in wanted if g in common and g not in trait_known]


def _is_true(value: object) -> bool:
    """GenoTEX's `flag == True` on a JSON value: true and 1 pass; null, missing, "True" do not."""
    return type(value) in (bool, int, float) and value == 1


def _size(record: Mapping[str, object]) -> float:
    value = record.get("sample_size")
    if type(value) in (int, float) and value == value:  # NaN != NaN
        return float(value)  # type: ignore[arg-type]
    return -math.inf


def ranked_cohorts(
    cohort_info: Mapping[str, Mapping[str, object]], condition: str | None = None
) -> list[str]:
    """Competing cohorts, largest sample size first, ties by `cohort_order_key` (module doc)."""
    flag = f"has_{condition.lower()}" if condition in CLINICAL_CONDITIONS else None
    competing = [
        str(cohort)
        for cohort, record in cohort_info.items()
        if isinstance(record, Mapping)
        and _is_true(record.get("is_usable"))
        and (flag is None or _is_true(record.get(flag)))
    ]
    return sorted(competing, key=lambda c: (-_size(cohort_info[c]), cohort_order_key(c)))


def select_one_step_cohort(
    cohort_info: Mapping[str, Mapping[str, object]], condition: str | None = None
) -> str | None:
    """The largest usable cohort (with Age/Gender when that is the condition), or None."""
    ranked = ranked_cohorts(cohort_info, condition)
    return ranked[0] if ranked else None


def rank_cohort_pairs(
    trait_info: Mapping[str, Mapping[str, object]], condition_info: Mapping[str, Mapping[str, object]]
) -> list[tuple[str, str, float]]:
    """All usable (trait cohort, condition cohort) pairs, largest sample-size product first
    (-inf when a size is unknown); equal products keep trait rank, then condition rank."""
    pairs = []
    for t in ranked_cohorts(trait_info):
        for c in ranked_cohorts(condition_info):
            sizes = _size(trait_info[t]), _size(condition_info[c])
            pairs.append((t, c, sizes[0] * sizes[1] if min(sizes) > -math.inf else -math.inf))
    return sorted(pairs, key=lambda pair: -pair[2])  # sorted() is stable


def select_cohort_pair(
    trait_info: dict,
    condition_info: dict,
    load: Callable[[str, str], pd.DataFrame],
    trait: str,
    condition: str,
    task_info: dict | None,
    exclude_trait_genes: bool = True,
) -> tuple[str, str, list[str]] | None:
    """First pair (by sample-size product) whose cohorts share condition genes.

    `load(entity, cohort_id)` returns a linked table; it is called only for the pairs tried."""
    for trait_cohort, condition_cohort, _ in rank_cohort_pairs(trait_info, condition_info):
        genes = condition_genes(
            task_info,
            trait,
            condition,
            load(trait, trait_cohort).columns,
            load(condition, condition_cohort).columns,
            exclude_trait_genes,
        )
        if genes:
            return trait_cohort, condition_cohort, genes
    return None
