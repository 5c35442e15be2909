"""GenoTEX's regression procedure, reproduced step by step, with one change of default.

Steps (as GenoTEX's regress.py and tools/statistics.py): standardise genes; choose the LMM when
the batch-effect test fires, else the Lasso; try the penalties 1e-6 ... 1 with 5-fold CV (folds
from a fixed seed, 42, exactly as GenoTEX's shuffle); fit the chosen penalty on all samples;
report genes with non-zero coefficients, by absolute coefficient.

The penalty rule: GenoTEX keeps the penalty whose selected genes overlap the known trait genes
most (precision; 0.1 when none overlaps). That tunes on the answer, so the default here is
`select_by="cv"`, the penalty with the best cross-validated prediction (F1 for a binary trait,
R^2 for a continuous one; ties keep the smaller penalty). `select_by="known-genes"` reproduces
GenoTEX's rule exactly, for comparison with the benchmark; the result records which rule ran.
Next to the list, selection stability: how often each gene is selected across the CV folds at
the chosen penalty (and across bootstrap resamples when asked), the hash of the ordered gene
list the fit saw, the solver's sweep count, and whether the list changes when the columns are
reversed (at a tiny penalty coordinate descent stops early and the answer depends on order).

`genotex_version` ("2024" or "2025") reproduces that year's GenoTEX code instead: its grid and its
known-gene penalty rule (genoteam.toolkit.genotex_versions, with the GenoTEX file:line sources).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.genotex_versions import GenotexVersion, gene_list_sha256, genotex_version
from genoteam.toolkit.stats.design import CLINICAL_COLUMNS
from genoteam.toolkit.stats.genotex_models import PreparedFit, detect_batch_effect, normalize
from genoteam.toolkit.stats.selection import condition_genes, known_genes
from genoteam.toolkit.traits import condition_is_trait

METHOD_GENOTEX = "genotex"
SELECT_BY = ("cv", "known-genes")
PENALTIES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
GENOTEX_SEED = 42


@dataclass
class FoldRun:
    """One penalty under k-fold CV: mean metrics and the genes each fold selected."""

    penalty: float
    prediction: dict[str, float]
    selection: dict[str, float] | None
    selected: np.ndarray  # (k, genes) bool


@dataclass
class GenotexFit:
    """Everything the procedure decided and found, before it is written as JSON."""

    trait: str
    condition: str | None
    model: str  # "lasso" or "lmm"
    penalty_name: str  # "alpha" (Lasso) or "lamda" (LMM), GenoTEX's names
    penalty: float
    select_by: str
    genes: list[str]
    coefficients: np.ndarray  # final model, one per gene
    condition_coefficient: float | None
    cv_performance: dict
    tuning: list[dict]
    stability: np.ndarray  # selection frequency per gene
    stability_kind: str
    stability_resamples: int
    batch_effect: bool
    notes: list[str] = field(default_factory=list)
    gene_order_sha256: str = ""  # the ordered gene list the fit saw (genotex_versions.gene_list_sha256)
    solver_iterations: int = 0  # coordinate-descent sweeps of the final fit
    column_order: dict = field(default_factory=dict)  # the final fit redone on the reversed columns
    genotex_version: str | None = None
    sources: tuple[str, ...] = ()  # where the version's rules come from (GenoTEX file:line)

    def significant(self) -> pd.DataFrame:
        """Genes with non-zero coefficients, largest absolute coefficient first (GenoTEX's list)."""
        table = pd.DataFrame(
            {"Variable": self.genes, "Coefficient": self.coefficients, "stability": self.stability}
        )
        table = table[table["Coefficient"] != 0].copy()
        table["Absolute Coefficient"] = table["Coefficient"].abs()
        return table.sort_values("Absolute Coefficient", ascending=False, kind="mergesort").reset_index(
            drop=True
        )


def fold_indices(n: int, k: int = 5, seed: int = GENOTEX_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """GenoTEX's folds: shuffle 0..n-1 with the legacy seeded generator, cut k blocks of n // k;
    the n % k left-over samples are always in training."""
    indices = np.arange(n)
    np.random.RandomState(seed).shuffle(indices)
    size = n // k
    if size == 0:
        raise GenoteamError(f"{n} samples cannot make {k} CV folds", f"need at least {k} samples")
    folds = []
    for i in range(k):
        test = indices[i * size : (i + 1) * size]
        folds.append((np.setdiff1d(indices, test), test))
    return folds


def prediction_metrics(y_true: np.ndarray, y_pred: np.ndarray, binary: bool) -> dict[str, float]:
    """GenoTEX's metrics: binary predictions thresholded at 0.5 (percentages), else NMSE and R^2.

    Computed as scikit-learn's accuracy/precision/recall/f1 (zero_division=0) and r2_score do,
    to the bit (tests/stats/test_stats_genotex.py), without importing scikit-learn (~1.8 s)."""
    if binary:
        truth, pred = y_true > 0.5, y_pred > 0.5
        tp = float(np.sum(truth & pred))
        n_pred, n_true = float(np.sum(pred)), float(np.sum(truth))
        return {
            "accuracy": float(np.mean(truth == pred)) * 100,
            "precision": (tp / n_pred if n_pred else 0.0) * 100,
            "recall": (tp / n_true if n_true else 0.0) * 100,
            "f1": (2 * tp / (n_pred + n_true) if n_pred + n_true else 0.0) * 100,
        }
    denom = float(np.sum((y_true - np.mean(y_true)) ** 2))
    nmse = float(np.sum((y_true - y_pred) ** 2)) / denom if denom > 0 else float("nan")
    return {"nmse": nmse, "r_squared": _r2(y_true, y_pred)}


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's r2_score of 1-D targets, in its order of operations (columns summed)."""
    t, p = np.asarray(y_true, dtype=float).reshape(-1, 1), np.asarray(y_pred, dtype=float).reshape(-1, 1)
    numerator = (1.0 * (t - p) ** 2).sum(axis=0, dtype=np.float64)
    denominator = (1.0 * (t - np.average(t, axis=0)) ** 2).sum(axis=0, dtype=np.float64)
    if denominator[0] == 0:
        return 1.0 if numerator[0] == 0 else 0.0
    return float(1 - numerator[0] / denominator[0])


def selection_metrics(predicted: list[str], reference: list[str]) -> dict[str, float]:
    """GenoTEX's gene-selection metrics (percentages): precision, recall, F1, Jaccard."""
    pred, ref = set(predicted), set(reference)
    hits = len(pred & ref)
    precision = hits / len(predicted) if predicted else 0.0
    recall = sum(r in pred for r in reference) / len(reference) if reference else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    jaccard = hits / len(pred | ref) if pred | ref else 0.0
    return {"precision": precision * 100, "recall": recall * 100, "f1": f1 * 100, "jaccard": jaccard * 100}


def _mean_of(dicts: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([d[key] for d in dicts])) for key in dicts[0]}


def cross_validate(
    kind: str,
    penalties: Sequence[float],
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray | None,
    genes: list[str],
    reference: list[str] | None,
    k: int = 5,
    seed: int = GENOTEX_SEED,
) -> list[FoldRun]:
    """k-fold CV of each penalty, each fold standardised with its own training statistics.

    Folds outside, penalties inside: a fold's standardisation, residualisation and (LMM) kinship
    rotation do not depend on the penalty, so they are computed once per fold, not per fit."""
    binary = len(np.unique(y)) == 2
    predictions: list[list[dict[str, float]]] = [[] for _ in penalties]
    selections: list[list[dict[str, float]]] = [[] for _ in penalties]
    selected = [np.zeros((k, x.shape[1]), dtype=bool) for _ in penalties]
    for i, (train, test) in enumerate(fold_indices(len(x), k, seed)):
        x_train, x_test = normalize(x[train], x[test])
        z_train, z_test = (None, None) if z is None else normalize(z[train], z[test])
        prepared = PreparedFit(kind, x_train, y[train], z_train)
        for j, penalty in enumerate(penalties):
            model = prepared.fit(penalty)
            predictions[j].append(prediction_metrics(y[test], model.predict(x_test, z_test), binary))
            selected[j][i] = model.gene_coefficients != 0
            if reference is not None:
                chosen = [g for g, s in zip(genes, selected[j][i], strict=True) if s]
                selections[j].append(selection_metrics(chosen, reference))
        del prepared, x_train, x_test  # one fold's matrices alive at a time
    return [
        FoldRun(p, _mean_of(predictions[j]), _mean_of(selections[j]) if selections[j] else None, selected[j])
        for j, p in enumerate(penalties)
    ]


def choose_penalty(
    runs: list[FoldRun], binary: bool, select_by: str, version: GenotexVersion | None = None
) -> tuple[float, dict, FoldRun]:
    """The penalty, GenoTEX's cv_performance dict, and the run of the chosen penalty.

    known-genes: the best CV selection metric against the known genes (precision in GenoTEX's
    2025 code, F1 in its 2024 code), ties to the smaller penalty; when that best is 0 the 2025
    code falls back to 0.1 (the reported selection stays the best run's), the 2024 code has no
    fallback (every penalty ties: the smallest)."""
    metric = "f1" if binary else "r_squared"
    best_pred = max(runs, key=lambda r: (r.prediction[metric], -r.penalty))
    if select_by == "cv":
        return best_pred.penalty, {"prediction": best_pred.prediction}, best_pred
    rule = version or genotex_version("2025")
    best_sel = max(runs, key=lambda r: (r.selection[rule.selection_metric], -r.penalty))
    performance = {"prediction": best_pred.prediction, "selection": best_sel.selection}
    if best_sel.selection[rule.selection_metric] <= 0 and rule.fallback_penalty is not None:
        chosen = rule.fallback_penalty
        return chosen, performance, next((r for r in runs if r.penalty == chosen), best_sel)
    return best_sel.penalty, performance, best_sel


def _bootstrap_stability(
    kind: str, penalty: float, x: np.ndarray, y: np.ndarray, z: np.ndarray | None, resamples: int, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.zeros(x.shape[1])
    for _ in range(resamples):
        rows = rng.integers(0, len(x), len(x))
        xb, _ = normalize(x[rows])
        zb = None if z is None else normalize(z[rows])[0]
        counts += PreparedFit(kind, xb, y[rows], zb).fit(penalty).gene_coefficients != 0
    return counts / resamples


def genotex_regression(
    x: np.ndarray,
    y: np.ndarray,
    genes: list[str],
    trait: str,
    z: np.ndarray | None = None,
    condition: str | None = None,
    select_by: str = "cv",
    task_info: dict | None = None,
    penalties: tuple[float, ...] = PENALTIES,
    k: int = 5,
    seed: int = GENOTEX_SEED,
    bootstrap: int = 0,
    model: str | None = None,
    version: str | None = None,
) -> GenotexFit:
    """The core: batch-effect test, CV over penalties, chosen penalty, final fit on all samples.

    x: samples x genes (no missing values, columns in the order of `genes`); y: the trait; z: the
    condition (or None). `version` ("2024"/"2025") takes that GenoTEX code's grid and its
    known-gene rule, whatever `penalties` and `select_by` say."""
    facts = genotex_version(version)
    if facts is not None:
        penalties, select_by = facts.penalties, "known-genes"
    if select_by not in SELECT_BY:
        raise GenoteamError(f"unknown select_by '{select_by}'", f"use one of {SELECT_BY}")
    if not np.all(np.isfinite(x)):
        raise GenoteamError(
            "gene values are missing", "impute or drop missing gene values before GenoTEX's regression"
        )
    reference = None
    if select_by == "known-genes":
        known = known_genes(task_info, trait, "select_by='known-genes'")
        present = set(genes)
        reference = [g for g in known if g in present]
    batch = detect_batch_effect(x)
    kind = model or ("lmm" if batch else "lasso")
    runs = cross_validate(kind, penalties, x, y, z, genes, reference, k, seed)
    binary = len(np.unique(y)) == 2
    penalty, performance, chosen_run = choose_penalty(runs, binary, select_by, facts)
    notes = []
    if select_by == "known-genes" and not reference:
        fallback = (facts or genotex_version("2025")).fallback_penalty
        rule = f"falls back to penalty {fallback:g}" if fallback else "has no fallback: the smallest penalty"
        notes.append(f"no known gene of '{trait}' is measured: GenoTEX's rule {rule}")
    xn, _ = normalize(x)
    zn = None if z is None else normalize(z)[0]
    final = PreparedFit(kind, xn, y, zn).fit(penalty)
    order = column_order_check(kind, penalty, xn, y, zn, final.gene_coefficients != 0)
    if order["differ"]:
        notes.append(order["warning"])
    if chosen_run.penalty == penalty:
        stability, stability_kind, resamples = chosen_run.selected.mean(axis=0), "cv-folds", k
    else:
        stability = cross_validate(kind, [penalty], x, y, z, genes, None, k, seed)[0].selected.mean(axis=0)
        stability_kind, resamples = "cv-folds", k
    if bootstrap > 0:
        stability = _bootstrap_stability(kind, penalty, x, y, z, bootstrap, seed)
        stability_kind, resamples = "bootstrap", bootstrap
    condition_coef = final.condition_coefficients
    return GenotexFit(
        trait=trait,
        condition=condition,
        model=kind,
        penalty_name="lamda" if kind == "lmm" else "alpha",
        penalty=float(penalty),
        select_by=select_by,
        genes=list(genes),
        coefficients=final.gene_coefficients.astype(float),
        condition_coefficient=float(condition_coef[0]) if condition_coef.size else None,
        cv_performance=performance,
        tuning=[{"penalty": r.penalty, "prediction": r.prediction, "selection": r.selection} for r in runs],
        stability=stability,
        stability_kind=stability_kind,
        stability_resamples=resamples,
        batch_effect=batch,
        notes=notes,
        gene_order_sha256=gene_list_sha256(genes),
        solver_iterations=final.n_iter,
        column_order=order,
        genotex_version=facts.name if facts else None,
        sources=facts.sources if facts else (),
    )


def column_order_check(
    kind: str, penalty: float, xn: np.ndarray, y: np.ndarray, zn: np.ndarray | None, selected: np.ndarray
) -> dict:
    """The final fit redone with the gene columns reversed: how many selected genes change.

    Why: at a tiny penalty coordinate descent meets its tolerance after a sweep or two, so which
    genes get a non-zero coefficient depends on the order it visits them (FINDINGS.md); a list
    that changes with the order is one of many, and the result must say so."""
    reversed_fit = PreparedFit(kind, xn[:, ::-1], y, zn).fit(penalty)
    again = (reversed_fit.gene_coefficients != 0)[::-1]
    differ = int(np.sum(selected != again))
    check = {
        "reversed_selected": int(again.sum()),
        "selected": int(selected.sum()),
        "differ": differ,
        "reversed_iterations": reversed_fit.n_iter,
        "warning": "",
    }
    if differ:
        check["warning"] = (
            f"the selected genes depend on the column order: with the gene columns reversed, {differ} genes "
            f"change ({int(selected.sum())} selected in the source order, {int(again.sum())} reversed) at "
            f"penalty {penalty:g}; read the list as one of many equally good ones"
        )
    return check


def _complete_rows(table: pd.DataFrame, columns: list[str], notes: list[str]) -> pd.DataFrame:
    keep = table[columns].notna().all(axis=1)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} samples dropped: {columns} missing")
    return table[keep]


def genotex_one_step(
    linked: pd.DataFrame,
    trait: str,
    condition: str | None = None,
    select_by: str = "cv",
    task_info: dict | None = None,
    seed: int = GENOTEX_SEED,
    bootstrap: int = 0,
    penalties: tuple[float, ...] = PENALTIES,
    version: str | None = None,
) -> GenotexFit:
    """GenoTEX's one-step question on a linked table: no condition (Age and Gender dropped), or
    Age/Gender as the condition (the trait is residualised on it; the other one is dropped)."""
    if condition_is_trait(condition):
        raise GenoteamError(
            f"condition '{condition}' is another trait: it needs two-step regression",
            "call genotex_two_step with the condition's cohort and a task file",
        )
    if condition is not None and condition not in linked.columns:
        raise GenoteamError(
            f"the linked table has no '{condition}' column", f"pick a cohort with {condition}"
        )
    notes: list[str] = []
    table = _complete_rows(linked, [trait] + ([condition] if condition else []), notes)
    genes = [c for c in table.columns if c not in {trait, *CLINICAL_COLUMNS}]
    z = None if condition is None else table[condition].to_numpy(dtype=float)
    fit = genotex_regression(
        table[genes].to_numpy(dtype=float),
        table[trait].to_numpy(dtype=float),
        genes,
        trait,
        z,
        condition,
        select_by,
        task_info,
        penalties,
        seed=seed,
        bootstrap=bootstrap,
        version=version,
    )
    fit.notes = notes + fit.notes
    return fit


def predict_condition(
    trait_linked: pd.DataFrame, condition_linked: pd.DataFrame, condition: str, regressors: list[str]
) -> np.ndarray:
    """Step one of two-step regression: learn the condition from its genes in the condition's
    cohort, then predict it in the trait's cohort (GenoTEX's models: logistic for a binary
    condition, L1-logistic when genes outnumber samples; linear, or Lasso when p > n)."""
    from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression

    x_c = condition_linked[regressors].to_numpy(dtype=float)
    y_c = condition_linked[condition].to_numpy(dtype=float)
    binary = len(np.unique(y_c)) == 2
    wide = x_c.shape[1] > x_c.shape[0]
    if binary:
        model = (
            LogisticRegression(penalty="l1", solver="liblinear", random_state=42)
            if wide
            else LogisticRegression()
        )
    else:
        model = Lasso() if wide else LinearRegression()
    model.fit(normalize(x_c)[0], y_c)
    x_t = normalize(trait_linked[regressors].to_numpy(dtype=float))[0]
    return model.predict_proba(x_t)[:, 1] if binary else model.predict(x_t)


def genotex_two_step(
    trait_linked: pd.DataFrame,
    condition_linked: pd.DataFrame,
    trait: str,
    condition: str,
    task_info: dict | None,
    select_by: str = "cv",
    seed: int = GENOTEX_SEED,
    bootstrap: int = 0,
    exclude_trait_genes: bool = True,
    penalties: tuple[float, ...] = PENALTIES,
    version: str | None = None,
) -> GenotexFit:
    """GenoTEX's two-step question: the condition, predicted from its known genes, is the
    covariate of the trait's regression. Needs the task file for the condition's genes."""
    regressors = condition_genes(
        task_info, trait, condition, trait_linked.columns, condition_linked.columns, exclude_trait_genes
    )
    if not regressors:
        raise GenoteamError(
            f"no gene known for '{condition}' is measured in both cohorts",
            "pick another cohort pair (select_cohort_pair) or another condition",
        )
    notes: list[str] = []
    condition_table = _complete_rows(condition_linked, [condition, *regressors], notes)
    if condition_table[condition].nunique() < 2:
        raise GenoteamError(f"condition '{condition}' is constant in its cohort", "pick another cohort")
    trait_table = _complete_rows(trait_linked, [trait], notes).drop(
        columns=list(CLINICAL_COLUMNS), errors="ignore"
    )
    z = predict_condition(trait_table, condition_table, condition, regressors)
    genes = [c for c in trait_table.columns if c not in {trait, condition}]
    fit = genotex_regression(
        trait_table[genes].to_numpy(dtype=float),
        trait_table[trait].to_numpy(dtype=float),
        genes,
        trait,
        z,
        condition,
        select_by,
        task_info,
        penalties,
        seed=seed,
        bootstrap=bootstrap,
        version=version,
    )
    fit.notes = notes + [f"condition predicted from {len(regressors)} genes: {regressors[:10]}"] + fit.notes
    return fit
