"""GenoTEX's evaluation metrics, as pure functions over lists, sets and tables.

Why a re-implementation: the quality claims of genoteam are measured against the GenoTEX
benchmark, so every figure must mean what it means in GenoTEX's own evaluator (eval.py and
utils/metrics.py of github.com/Liu-Hy/GenoTEX). The definitions below follow that evaluator,
including its edge cases (empty lists, NaN and constant columns, padding to 20,000 genes);
docs/evaluation.md lists each one and the few places where genoteam reports more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from genoteam.evaluation.constants import GENOTEX_N_GENES

# GenoTEX pads a predicted gene list to this many genes when it ranks it (AUROC, GSEA-ES).

UNCONDITIONAL = "Unconditional one-step"
CONDITIONAL = "Conditional one-step"
TWO_STEP = "Two-step"
OVERALL = "Overall"
QUESTION_CATEGORIES = (UNCONDITIONAL, CONDITIONAL, TWO_STEP)


# ---------------------------------------------------------------- dataset filtering / selection


def jaccard(first: Iterable[object], second: Iterable[object]) -> float:
    """|A n B| / |A u B|, and 0 when both are empty (GenoTEX's convention)."""
    a, b = set(first), set(second)
    union = len(a | b)
    return 0.0 if union == 0 else len(a & b) / union


def confusion_metrics(tp: int, fp: int, tn: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 and accuracy in percent; a ratio with a zero denominator is 0."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = tp + tn + fp + fn
    accuracy = (tp + tn) / total if total else 0.0
    return {
        "precision": precision * 100,
        "recall": recall * 100,
        "f1": f1 * 100,
        "accuracy": accuracy * 100,
    }


def filtering_confusion(
    ref_info: Mapping[str, Mapping[str, object]], pred_info: Mapping[str, Mapping[str, object]]
) -> dict[str, int]:
    """Counts of the is_available decision over every cohort named in either cohort_info.

    A cohort missing from one side counts as not available on that side, as in GenoTEX.
    """
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    for cohort in set(ref_info) | set(pred_info):
        ref_ok = bool(ref_info.get(cohort, {}).get("is_available", False))
        pred_ok = bool(pred_info.get(cohort, {}).get("is_available", False))
        key = ("tp" if pred_ok else "fn") if ref_ok else ("fp" if pred_ok else "tn")
        counts[key] += 1
    return counts


def gene_regressors(
    trait: str,
    condition: str,
    trait_columns: Iterable[str],
    condition_columns: Iterable[str],
    condition_genes: Sequence[str],
) -> list[str]:
    """Known condition genes measured in both linked tables (GenoTEX's two-step regressors)."""
    in_trait = set(trait_columns) - {"Age", "Gender", trait}
    in_condition = set(condition_columns) - {"Age", "Gender", condition}
    common = in_trait & in_condition
    if not common or not condition_genes:
        return []
    return [g for g in condition_genes if g in common]


# ---------------------------------------------------------------- preprocessing: CSC


def as_samples_by_features(table: pd.DataFrame, subtask: str) -> pd.DataFrame:
    """Rows = samples, columns = features, as GenoTEX compares them.

    Gene and clinical tables are stored features x samples, so they are transposed; the linked
    table is already samples x features.
    """
    oriented = table if subtask == "linked" else table.T
    oriented = oriented.copy()
    oriented.index.name = None
    oriented.columns.name = None
    return oriented


def mean_feature_correlation(pred: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Mean Pearson correlation, over shared samples, of each shared feature (column).

    GenoTEX's handling: missing values are filled with the column mean (0 if the column is all
    missing); columns that are constant in either table are left out of the mean; with no
    shared sample or feature, or no non-constant shared feature, the result is 0.
    """
    samples = pred.index.intersection(ref.index)
    features = pred.columns.intersection(ref.columns)
    if len(samples) == 0 or len(features) == 0:
        return 0.0
    x = _filled(pred.loc[samples, features])
    y = _filled(ref.loc[samples, features])
    x_std, y_std = x.std(axis=0), y.std(axis=0)
    valid = (x_std != 0) & (y_std != 0)
    if not np.any(valid):
        return 0.0
    xc = x[:, valid] - x[:, valid].mean(axis=0)
    yc = y[:, valid] - y[:, valid].mean(axis=0)
    corr = (xc * yc).sum(axis=0) / (x.shape[0] * x_std[valid] * y_std[valid])
    return float(np.mean(np.nan_to_num(corr, nan=0.0)))


def _filled(frame: pd.DataFrame) -> np.ndarray:
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    return numeric.fillna(numeric.mean()).fillna(0.0).to_numpy(dtype=float)


def composite_similarity(pred: pd.DataFrame, ref: pd.DataFrame) -> dict[str, float]:
    """CSC = column Jaccard x sample Jaccard x mean feature correlation (samples in rows).

    An empty table on either side scores 0 on every part, as in GenoTEX.
    """
    if pred.empty or ref.empty:
        return zero_similarity()
    attributes = jaccard(pred.columns, ref.columns)
    samples = jaccard(pred.index, ref.index)
    correlation = mean_feature_correlation(pred, ref)
    return {
        "attributes_jaccard": attributes,
        "samples_jaccard": samples,
        "feature_correlation": correlation,
        "composite_similarity_correlation": attributes * samples * correlation,
    }


def looks_transposed(pred: pd.DataFrame, ref: pd.DataFrame) -> bool:
    """True when pred's rows match ref's columns better than its columns do.

    A diagnostic only (the score is GenoTEX's either way): GenoTEX writes GEO clinical tables
    features x samples but TCGA ones samples x features, and its evaluator transposes both, so
    a table written in the other orientation scores near 0 without any other sign.
    """
    straight = jaccard(pred.columns, ref.columns) + jaccard(pred.index, ref.index)
    crossed = jaccard(pred.index, ref.columns) + jaccard(pred.columns, ref.index)
    return crossed > straight


def zero_similarity() -> dict[str, float]:
    return {
        "attributes_jaccard": 0.0,
        "samples_jaccard": 0.0,
        "feature_correlation": 0.0,
        "composite_similarity_correlation": 0.0,
    }


# ---------------------------------------------------------------- statistical analysis


def gene_precision(pred: Sequence[str], ref: Sequence[str]) -> float:
    """Share of predicted entries (duplicates count) found in ref; 1 if both empty, 0 if only pred is."""
    if len(pred) == 0:
        return 1.0 if len(ref) == 0 else 0.0
    ref_set = set(ref)
    return sum(g in ref_set for g in pred) / len(pred)


def gene_recall(pred: Sequence[str], ref: Sequence[str]) -> float:
    """Share of reference entries found in pred; 1 if both empty, 0 if only ref is."""
    if len(ref) == 0:
        return 1.0 if len(pred) == 0 else 0.0
    pred_set = set(pred)
    return sum(g in pred_set for g in ref) / len(ref)


def gene_f1(pred: Sequence[str], ref: Sequence[str]) -> float:
    precision, recall = gene_precision(pred, ref), gene_recall(pred, ref)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def gene_jaccard(pred: Sequence[str], ref: Sequence[str]) -> float:
    """Jaccard of the two gene sets (GenoMAS's definition; 0 when both are empty)."""
    return jaccard(pred, ref)


def auroc_padded(pred: Sequence[str], ref: Sequence[str], n_genes: int = GENOTEX_N_GENES) -> float:
    """GenoTEX's AUROC of a ranked gene list padded with unselected genes to n_genes.

    The i-th of k predicted genes scores k - i, the n_genes - k padding genes score 0. Labels
    are 1 only for predicted genes that are in ref: reference genes that were not predicted are
    not placed among the padding (GenoTEX's choice). NaN when ref is empty (or has n_genes
    genes) or when the labels are all one class, e.g. no predicted gene is in ref.
    """
    pred = list(pred)[:n_genes]
    ref_set = set(ref)
    if len(ref_set) == 0 or len(ref_set) == n_genes:
        return float("nan")
    k = len(pred)
    labels = np.zeros(n_genes, dtype=bool)
    labels[:k] = [g in ref_set for g in pred]
    scores = np.zeros(n_genes, dtype=float)
    scores[:k] = np.arange(k, 0, -1, dtype=float)
    return _roc_auc(labels, scores)


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUROC with ties counted one half; NaN when one class is absent."""
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # imported when used: scipy.stats takes ~1 s

    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gsea_enrichment_score(ranked: Sequence[str], ref: Sequence[str]) -> float:
    """Unweighted running-sum enrichment score: the maximum of the walk down the ranking.

    Each entry in ref steps +1/Nh and each other entry -1/Nm, where Nh counts ranked entries in
    ref and Nm the rest (GenoTEX's utils/metrics.py). NaN when Nh is 0 or every entry is a hit.
    """
    ref_set = set(ref)
    hits = np.fromiter((g in ref_set for g in ranked), dtype=bool, count=len(ranked))
    n_hits = int(hits.sum())
    n_total = hits.size
    if n_hits == 0 or n_hits == n_total:
        return float("nan")
    steps = np.where(hits, 1.0 / n_hits, -1.0 / (n_total - n_hits))
    return float(np.max(np.cumsum(steps)))


def gsea_padded(pred: Sequence[str], ref: Sequence[str], n_genes: int = GENOTEX_N_GENES) -> float:
    """GSEA-ES of pred followed by n_genes - len(pred) padding genes that are never hits.

    NaN when pred is longer than n_genes (GenoTEX does not score that case).
    """
    tail = n_genes - len(pred)
    if tail < 0:
        return float("nan")
    ranked = list(pred) + [None] * tail  # None is never a gene symbol, so never a hit
    return gsea_enrichment_score(ranked, ref)  # type: ignore[arg-type]


def evaluate_gene_selection(
    pred: Sequence[str], ref: Sequence[str], n_genes: int = GENOTEX_N_GENES
) -> dict[str, float]:
    """GenoTEX's per-question gene metrics (precision, recall, F1, Jaccard in percent; AUROC; GSEA-ES)."""
    return {
        "precision": gene_precision(pred, ref) * 100,
        "recall": gene_recall(pred, ref) * 100,
        "f1": gene_f1(pred, ref) * 100,
        "jaccard": gene_jaccard(pred, ref) * 100,
        "auroc": auroc_padded(pred, ref, n_genes),
        "gsea_es": gsea_padded(pred, ref, n_genes),
    }


# ---------------------------------------------------------------- aggregation


def question_category(condition: str | None) -> str:
    """GenoTEX's question types: no condition, Age/Gender (one-step), another trait (two-step)."""
    if condition is None or condition.lower() == "none":
        return UNCONDITIONAL
    if condition.lower() in ("age", "gender"):
        return CONDITIONAL
    return TWO_STEP


def average_metrics(rows: Sequence[Mapping[str, object]], decimals: int | None = 2) -> dict[str, float]:
    """Mean of every numeric field of the first row over all rows, ignoring NaN (GenoTEX rounds to 2).

    A field that is NaN in every row stays NaN. Non-numeric fields (trait, file names) are skipped.
    """
    if not rows:
        return {}
    averaged: dict[str, float] = {}
    for key, first in rows[0].items():
        if isinstance(first, bool) or not isinstance(first, int | float):
            continue
        values = np.array([float(row[key]) for row in rows if key in row], dtype=float)  # type: ignore[arg-type]
        finite = values[~np.isnan(values)]
        mean = float(finite.mean()) if finite.size else float("nan")
        averaged[key] = float(np.round(mean, decimals)) if decimals is not None else mean
    return averaged


def aggregate_by_category(
    per_question: Mapping[tuple[str, str | None], Mapping[str, object]], decimals: int | None = 2
) -> dict[str, dict[str, float]]:
    """Averages per question type and over all questions, keyed as GenoTEX prints them."""
    grouped: dict[str, list[Mapping[str, object]]] = {name: [] for name in QUESTION_CATEGORIES}
    for (_, condition), metrics in per_question.items():
        grouped[question_category(condition)].append(metrics)
    result = {name: average_metrics(rows, decimals) for name, rows in grouped.items()}
    result[OVERALL] = average_metrics([m for rows in grouped.values() for m in rows], decimals)
    return result
