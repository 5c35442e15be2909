"""Cross-validated prediction for the per-gene method, so its output has a `cv_performance` too.

Inside each fold (GenoTEX's folds), the moderated t is run on the training samples only, the
top genes are kept, and an L2-penalised logistic (binary trait) or ridge (continuous trait)
model on those genes plus the covariates predicts the held-out samples. Gene selection inside
the fold keeps the estimate honest; the metrics are GenoTEX's.
"""

from __future__ import annotations

import warnings

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
    from sklearn.linear_model import LogisticRegression, Ridge  # imported when used: ~0.6 s

    design = build_design(linked, trait, covariates)
    table = linked.loc[design.samples]
    gene_set = set(gene_columns(linked, trait, covariates))
    y = table[trait].to_numpy(dtype=float)
    runs = []
    for train, test in fold_indices(len(table), k, seed):
        train_table = table.iloc[train]
        if design.trait_is_binary and train_table[trait].nunique() < 2:
            raise GenoteamError(
                "a CV training fold has one trait class", "too few samples of the minority class"
            )
        ranked = moderated_t_test(train_table, trait, design.covariates)
        chosen = [g for g in ranked["gene"] if g in gene_set][:top]
        features = chosen + design.covariates
        x = table[features].to_numpy(dtype=float)
        fill = np.nanmean(x[train], axis=0)
        x = np.where(np.isnan(x), fill, x)  # genes missing in a sample: the training mean
        x_train, x_test = normalize(x[train], x[test])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if design.trait_is_binary:
                model = LogisticRegression(max_iter=1000).fit(x_train, y[train])
                pred = model.predict_proba(x_test)[:, 1]
            else:
                pred = Ridge(alpha=1.0).fit(x_train, y[train]).predict(x_test)
        runs.append(prediction_metrics(y[test], pred, design.trait_is_binary))
    mean = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
    model = "l2-logistic" if design.trait_is_binary else "ridge"
    return {"prediction": mean, "model": f"{model} on the top {top} moderated-t genes of each training fold"}
