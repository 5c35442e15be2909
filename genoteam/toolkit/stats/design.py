"""From a linked cohort table to a design matrix: intercept, trait, covariates, batches, pairs.

The linked table (samples in rows) has the trait column, optional 'Age' and 'Gender', then
genes. Samples missing the trait or a covariate are dropped (complete cases on the design, as R's
model.frame does); a covariate that is absent, or constant among the kept samples, is left out
of the design. Batch-like fields and individuals come from the cohort record (SampleInfo, see
toolkit/sample_design.py) and enter by the rules of docs/statistics.md ("Batches, pairing"):
- a batch field is a factor (treatment coding, first level in sorted order the reference; a
  sample without a value is its own level); it is used when it has 2 or more levels, fewer
  levels than half the samples, and the design stays full rank with 2 or more residual df;
  a batch whose levels each hold one trait class is confounded with the trait: it is left out
  and the notes say the trait effect cannot be told apart from it;
- pairing (a binary trait, individuals with both a case and a control sample) is used when
  there are at least MIN_PAIRS pairs and the paired samples are at least half of the samples:
  the model is then fitted on the paired samples with one column per individual (limma's
  paired design, `~ individual + trait`), covariates constant within individuals (Age, Gender)
  are absorbed by them; otherwise pairing is only reported.
Every decision is returned in `notes` and `sample_design`, so nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.sample_design import SampleInfo

CLINICAL_COLUMNS = ("Age", "Gender")
MIN_PAIRS = 3
MISSING_LEVEL = "(missing)"


@dataclass
class Design:
    matrix: np.ndarray  # samples x p
    columns: list[str]  # "(Intercept)", trait, covariates, batch and individual columns
    samples: pd.Index  # the samples kept, in row order
    trait: str
    trait_is_binary: bool
    covariates: list[str]
    notes: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)  # batch fields in the model
    paired: bool = False
    sample_design: dict = field(default_factory=dict)  # what was found and decided, for the result

    @property
    def trait_index(self) -> int:
        return self.columns.index(self.trait)

    def trait_counts(self) -> dict[str, int] | None:
        """Samples per class of a 0/1 trait ({"1": cases, "0": controls}); None for a continuous trait."""
        if not self.trait_is_binary:
            return None
        values = self.matrix[:, self.trait_index]
        return {"1": int((values == 1).sum()), "0": int((values == 0).sum())}


def gene_columns(linked: pd.DataFrame, trait: str, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The gene columns of a linked table: everything except the trait, Age, Gender and `extra`."""
    skip = {trait, *CLINICAL_COLUMNS, *extra}
    return [c for c in linked.columns.tolist() if c not in skip]


def is_binary(values: pd.Series | np.ndarray) -> bool:
    """True when the observed values are exactly {0, 1} (GenoTEX's binary trait coding)."""
    observed = pd.unique(pd.Series(values).dropna())
    return len(observed) == 2 and set(np.asarray(observed, dtype=float)) == {0.0, 1.0}


def _full_rank(matrix: np.ndarray) -> bool:
    return bool(np.linalg.matrix_rank(matrix) == matrix.shape[1])


def _dummies(levels: pd.Series, name: str) -> tuple[np.ndarray, list[str]]:
    """Treatment-coded columns of a factor (R's default contrasts): one per non-reference level."""
    ordered = sorted(levels.unique())
    columns = [f"{name}[{level}]" for level in ordered[1:]]
    matrix = np.column_stack([(levels == level).to_numpy(dtype=float) for level in ordered[1:]])
    return matrix, columns


def _pairs(trait: pd.Series, individuals: dict[str, str]) -> tuple[pd.Series, list[str]]:
    """Individual of each kept sample, and the individuals with both a case and a control."""
    who = pd.Series({s: individuals.get(str(s)) for s in trait.index}, dtype=object)
    classes = pd.DataFrame({"who": who, "trait": trait}).dropna().groupby("who")["trait"].nunique()
    return who, sorted(classes.index[classes == 2])


def _apply_pairing(
    clinical: pd.DataFrame, trait: str, info: SampleInfo, pairing: str, binary: bool, report: dict
) -> tuple[pd.DataFrame, pd.Series | None, list[str]]:
    """The samples to fit and, when pairing is used, each sample's individual; with notes."""
    notes: list[str] = []
    if not info.individuals or not binary:
        return clinical, None, notes
    who, paired = _pairs(clinical[trait], info.individuals)
    in_pairs = who.isin(paired)
    report["pairing"] = {
        "individual_source": info.individual_source,
        "pairs": len(paired),
        "paired_samples": int(in_pairs.sum()),
        "samples": len(clinical),
        "used": False,
    }
    if not paired:
        return clinical, None, notes
    text = (
        f"pairing: {len(paired)} individuals ({info.individual_source}) contribute both trait classes "
        f"({int(in_pairs.sum())} of {len(clinical)} samples)"
    )
    enough = len(paired) >= MIN_PAIRS and in_pairs.sum() * 2 >= len(clinical)
    if pairing == "off" or not enough:
        why = (
            "pairing is off"
            if pairing == "off"
            else (f"the paired model needs at least {MIN_PAIRS} pairs making up at least half of the samples")
        )
        notes.append(f"{text}; not used ({why}): samples treated as independent")
        return clinical, None, notes
    report["pairing"]["used"] = True
    dropped = int((~in_pairs).sum())
    notes.append(
        f"{text}; paired model used: expression ~ trait + individual on the paired samples"
        + (f", {dropped} unpaired samples left out" if dropped else "")
    )
    return clinical[in_pairs.to_numpy()], who[in_pairs], notes


def _add_batches(
    matrix: np.ndarray,
    columns: list[str],
    clinical: pd.DataFrame,
    trait: str,
    binary: bool,
    info: SampleInfo,
    report: dict,
) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Add each batch field that keeps the design full rank; say why any other is left out."""
    notes: list[str] = []
    used: list[str] = []
    n = len(clinical)
    decisions = report.setdefault("batches", {})
    for name, values in info.batches.items():
        levels = pd.Series(
            [values.get(str(s)) or MISSING_LEVEL for s in clinical.index], index=clinical.index
        )
        k = levels.nunique()
        if k < 2:
            decisions[name] = "one level on the kept samples: nothing to adjust"
            continue
        if k * 2 > n:
            decisions[name] = f"{k} levels for {n} samples: nearly one per sample, not a batch; not used"
            notes.append(f"batch-like field '{name}' {decisions[name]}")
            continue
        extra, names = _dummies(levels, name)
        trial = np.column_stack([matrix, extra])
        classes = pd.DataFrame({"b": levels, "t": clinical[trait]}).groupby("b")["t"].nunique()
        if binary and (classes < 2).all():
            decisions[name] = "confounded with the trait (each level holds one trait class): not used"
            notes.append(
                f"batch '{name}' is confounded with the trait: every level holds one class, so the trait "
                "effect cannot be separated from the batch; analysed without it, and the genes found may "
                "reflect the batch"
            )
            continue
        if not _full_rank(trial) or n - trial.shape[1] < 2:
            why = "makes the design rank-deficient" if not _full_rank(trial) else "leaves under 2 residual df"
            decisions[name] = f"{why} (confounded with the trait or the other columns): not used"
            notes.append(f"batch '{name}' {decisions[name]}; analysed without it")
            continue
        matrix, columns = trial, columns + names
        used.append(name)
        partial = ""
        if binary:
            mixed = int((classes == 2).sum())
            partial = f"; {mixed} of {k} levels hold both trait classes"
        decisions[name] = f"used as a covariate ({k} levels{partial})"
        notes.append(f"batch '{name}' {decisions[name]}")
    return matrix, columns, used, notes


def build_design(
    linked: pd.DataFrame,
    trait: str,
    covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS,
    sample_info: SampleInfo | None = None,
    pairing: str = "auto",
) -> Design:
    """Design for expression ~ trait + covariates (+ batches, + individuals when paired), on the
    samples where the trait and covariates are known. `pairing` is "auto" or "off"."""
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
    if pairing not in ("auto", "off"):
        raise GenoteamError(f"unknown pairing mode {pairing!r}", "use 'auto' or 'off'")
    info = sample_info or SampleInfo()
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
    binary = is_binary(clinical[trait])
    report: dict = {"comparison": info.comparison} if info.comparison else {}
    clinical, individuals, pair_notes = _apply_pairing(clinical, trait, info, pairing, binary, report)
    notes += pair_notes
    columns = ["(Intercept)", trait]
    matrix = np.column_stack([np.ones(len(clinical)), clinical[trait].to_numpy(dtype=float)])
    if individuals is not None:
        extra, names = _dummies(individuals.astype(str), "individual")
        matrix, columns = np.column_stack([matrix, extra]), columns + names
    used = []
    for c in present:
        if clinical[c].nunique() < 2:
            notes.append(f"covariate '{c}' is constant on the kept samples and was left out")
            continue
        trial = np.column_stack([matrix, clinical[c].to_numpy(dtype=float)])
        if individuals is not None and not _full_rank(trial):
            notes.append(f"covariate '{c}' is a property of the individual: absorbed by the paired model")
            continue
        matrix, columns = trial, columns + [c]
        used.append(c)
    # covariates go before batch and individual columns would be nicer, but their order does not
    # change any coefficient; the trait stays column 1
    matrix, columns, batches, batch_notes = _add_batches(
        matrix, columns, clinical, trait, binary, info, report
    )
    notes += batch_notes
    if len(clinical) <= len(columns):
        raise GenoteamError(
            f"{len(clinical)} usable samples for a design with {len(columns)} columns",
            "need more samples than design columns; drop covariates or add samples",
        )
    if not _full_rank(matrix):
        raise GenoteamError(
            f"the trait and covariates {used} are collinear on the kept samples",
            "drop the covariate that duplicates the trait",
        )
    design = Design(matrix, columns, clinical.index, trait, binary, used, notes)
    design.batches, design.paired, design.sample_design = batches, individuals is not None, report
    return design
