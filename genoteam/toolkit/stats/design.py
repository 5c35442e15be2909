"""From a linked cohort table to a design matrix: intercept, trait, covariates.

The linked table (samples in rows) has the trait column, optional 'Age' and 'Gender', then
genes. Samples missing the trait or a covariate are dropped (complete cases on the design, as R's
model.frame does); a covariate that is absent, or constant among the kept samples, is left out
of the design. Every such decision is returned in `notes`, so nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError

CLINICAL_COLUMNS = ("Age", "Gender")


@dataclass
class Design:
    matrix: np.ndarray  # samples x p
    columns: list[str]  # "(Intercept)", trait, covariates
    samples: pd.Index  # the samples kept, in row order
    trait: str
    trait_is_binary: bool
    covariates: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def trait_index(self) -> int:
        return self.columns.index(self.trait)


def gene_columns(linked: pd.DataFrame, trait: str, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The gene columns of a linked table: everything except the trait, Age, Gender and `extra`."""
    skip = {trait, *CLINICAL_COLUMNS, *extra}
    return [c for c in linked.columns if c not in skip]


def is_binary(values: pd.Series | np.ndarray) -> bool:
    """True when the observed values are exactly {0, 1} (GenoTEX's binary trait coding)."""
    observed = pd.unique(pd.Series(values).dropna())
    return len(observed) == 2 and set(np.asarray(observed, dtype=float)) == {0.0, 1.0}


def build_design(
    linked: pd.DataFrame, trait: str, covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS
) -> Design:
    """Design for expression ~ trait + covariates, on the samples where all of them are known."""
    if trait not in linked.columns:
        raise GenoteamError(
            f"trait column '{trait}' is not in the linked table",
            f"columns start with {list(linked.columns[:5])}; pass the trait's column name",
        )
    if linked.index.has_duplicates:
        raise GenoteamError(
            f"sample ids repeat in the linked table, e.g. {list(linked.index[linked.index.duplicated()][:3])}",
            "give every sample (row) a unique id before testing",
        )
    notes: list[str] = []
    present = [c for c in covariates if c in linked.columns]
    for c in covariates:
        if c not in linked.columns:
            notes.append(f"covariate '{c}' is not in the table and was left out")
    clinical = linked[[trait, *present]].apply(pd.to_numeric, errors="coerce")
    keep = clinical.notna().all(axis=1)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} of {len(keep)} samples dropped: trait or covariate missing")
    clinical = clinical[keep]
    if clinical[trait].nunique() < 2:
        raise GenoteamError(
            f"trait '{trait}' takes a single value on the {len(clinical)} usable samples",
            "a trait with one class cannot be tested; this cohort is biased and not usable",
        )
    used = []
    for c in present:
        if clinical[c].nunique() < 2:
            notes.append(f"covariate '{c}' is constant on the kept samples and was left out")
        else:
            used.append(c)
    columns = ["(Intercept)", trait, *used]
    matrix = np.column_stack([np.ones(len(clinical)), clinical[[trait, *used]].to_numpy(dtype=float)])
    if len(clinical) <= len(columns):
        raise GenoteamError(
            f"{len(clinical)} usable samples for a design with {len(columns)} columns",
            "need more samples than design columns; drop covariates or add samples",
        )
    if np.linalg.matrix_rank(matrix) < matrix.shape[1]:
        raise GenoteamError(
            f"the trait and covariates {used} are collinear on the kept samples",
            "drop the covariate that duplicates the trait",
        )
    return Design(matrix, columns, clinical.index, trait, is_binary(clinical[trait]), used, notes)
