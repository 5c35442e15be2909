"""Inputs of GenoTEX's procedure: the task file (known genes per trait) and cohort selection.

The task file is GenoTEX's metadata/task_info.json: {trait: {"related_genes": [...],
"conditions": [...]}}. Cohort selection follows GenoTEX: one-step questions use the largest
usable cohort (that also has Age or Gender when the condition is Age or Gender); two-step
questions rank every (trait cohort, condition cohort) pair by the product of sample sizes and
take the first pair that shares at least one condition gene. Ties keep the cohort_info order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from genoteam.toolkit.errors import GenoteamError, InputFileError

CLINICAL_CONDITIONS = ("Age", "Gender")


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


def _usable(cohort_info: dict, condition: str | None) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(cohort_info, orient="index")
    if table.empty or "is_usable" not in table:
        return pd.DataFrame(columns=["sample_size"])
    keep = table["is_usable"].astype(bool)
    if condition in CLINICAL_CONDITIONS:
        flag = f"has_{condition.lower()}"
        keep &= table.get(flag, pd.Series(False, index=table.index)).astype(bool)
    return table[keep].sort_values("sample_size", ascending=False, kind="mergesort")


def select_one_step_cohort(cohort_info: dict, condition: str | None = None) -> str | None:
    """The largest usable cohort (with Age/Gender when that is the condition), or None."""
    ranked = _usable(cohort_info, condition)
    return None if ranked.empty else str(ranked.index[0])


def rank_cohort_pairs(trait_info: dict, condition_info: dict) -> list[tuple[str, str, int]]:
    """All usable (trait cohort, condition cohort) pairs, largest sample-size product first."""
    a, b = _usable(trait_info, None), _usable(condition_info, None)
    pairs = [
        (str(t), str(c), int(a.at[t, "sample_size"]) * int(b.at[c, "sample_size"]))
        for t in a.index
        for c in b.index
    ]
    return sorted(pairs, key=lambda pair: -pair[2])  # sorted() is stable: ties keep the order


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
