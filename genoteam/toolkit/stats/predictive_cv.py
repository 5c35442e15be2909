"""Cross-validated prediction for the per-gene method, so its output has a `cv_performance` too.

Inside each fold (GenoTEX's folds), the moderated t is run on the training samples only, the
top genes are kept, and an L2-penalised logistic (binary trait) or ridge (continuous trait)
model on those genes plus the covariates predicts the held-out samples. Gene selection inside
the fold keeps the estimate honest; the metrics are GenoTEX's.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats.association import moderated_t_test
from genoteam.toolkit.stats.design import CLINICAL_COLUMNS, build_design, gene_columns
from genoteam.toolkit.stats.genotex import GENOTEX_SEED, fold_indices, normalize, prediction_metrics


def cv_top_genes_performance(
    linked: pd.DataFrame,
    trait: str,
    covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS,
    top: int = 50,
    k: int = 5,
    seed: int = GENOTEX_SEED,
) -> dict:
    """{"prediction": mean fold metrics, "model": what predicted, "top_genes": top}."""
    binary = build_design(linked, trait, covariates).trait_is_binary
    runs = []
    for x_train, y_train, x_test, y_test in fold_features(linked, trait, covariates, top, k, seed):
        if binary:
            pred = l2_logistic_probabilities(x_train, y_train, x_test)
        else:
            pred = ridge_predictions(x_train, y_train, x_test)
        runs.append(prediction_metrics(y_test, pred, binary))
    mean = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
    model = "l2-logistic" if binary else "ridge"
    return {"prediction": mean, "model": f"{model} on the top {top} moderated-t genes of each training fold"}


def fold_features(
    linked: pd.DataFrame,
    trait: str,
    covariates: tuple[str, ...] | list[str],
    top: int,
    k: int,
    seed: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per GenoTEX fold: (x_train, y_train, x_test, y_test), the fold's top moderated-t genes of
    the training samples plus the covariates, standardised by the training statistics."""
    design = build_design(linked, trait, covariates)
    table = linked.loc[design.samples]
    gene_set = set(gene_columns(linked, trait, covariates))
    y = table[trait].to_numpy(dtype=float)
    for train, test in fold_indices(len(table), k, seed):
        train_table = table.iloc[train]
        if design.trait_is_binary and train_table[trait].nunique() < 2:
            raise GenoteamError(
                "a CV training fold has one trait class", "too few samples of the minority class"
            )
        ranked = moderated_t_test(train_table, trait, design.covariates)
        chosen = [g for g in ranked["gene"].tolist() if g in gene_set][:top]
        x = table[chosen + design.covariates].to_numpy(dtype=float)
        fill = np.nanmean(x[train], axis=0)
        x = np.where(np.isnan(x), fill, x)  # genes missing in a sample: the training mean
        x_train, x_test = normalize(x[train], x[test])
        yield x_train, y[train], x_test, y[test]


def ridge_predictions(x: np.ndarray, y: np.ndarray, x_new: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Ridge regression with an unpenalised intercept (scikit-learn's Ridge(alpha) objective),
    solved in closed form on centred data: a few dozen features, no library needed."""
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc = x - x_mean
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - y_mean))
    return x_new @ w + (y_mean - x_mean @ w)


def l2_logistic_probabilities(
    x: np.ndarray, y: np.ndarray, x_new: np.ndarray, c: float = 1.0, tol: float = 1e-10
) -> np.ndarray:
    """P(y = 1) from an L2-penalised logistic regression with an unpenalised intercept, the
    objective of scikit-learn's LogisticRegression(C=c): C * log-loss + ||w||^2 / 2, minimised
    by Newton's method to a gradient below `tol` (scikit-learn's lbfgs stops near the same optimum
    at 1e-4, so probabilities agree to ~1e-4 and the thresholded predictions are the same)."""
    design = np.column_stack([np.ones(len(x)), x])
    penalty = np.full(design.shape[1], 1.0 / c)
    penalty[0] = 0.0
    beta = np.zeros(design.shape[1])

    def objective(b: np.ndarray) -> float:
        eta = design @ b
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * np.sum(penalty * b * b))

    for _ in range(100):
        prob = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (prob - y) + penalty * beta
        if np.max(np.abs(gradient)) < tol:
            break
        hessian = (design * (prob * (1 - prob))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian + 1e-12 * np.eye(len(beta)), gradient)
        size, current = 1.0, objective(beta)
        while objective(beta - size * step) > current and size > 1e-8:  # backtracking
            size /= 2
        beta = beta - size * step
    return 1.0 / (1.0 + np.exp(-(np.column_stack([np.ones(len(x_new)), x_new]) @ beta)))
