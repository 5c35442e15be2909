"""GenoTEX's metrics on small examples computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genoteam.evaluation import metrics as m
from genoteam.toolkit.stats.selection import rank_cohort_pairs, select_one_step_cohort


def test_jaccard_of_sets_and_of_two_empty_sets():
    # {a,b,c} & {b,c,d} = {b,c} (2); union {a,b,c,d} (4) -> 0.5
    assert m.jaccard("abc", "bcd") == 0.5
    assert m.jaccard([], []) == 0.0  # GenoTEX: empty union scores 0


def test_confusion_metrics_in_percent():
    # tp=2 fp=1 tn=3 fn=2: precision 2/3, recall 2/4, f1 = 2*(1/3)/(7/6) = 4/7, accuracy 5/8
    got = m.confusion_metrics(tp=2, fp=1, tn=3, fn=2)
    assert got["precision"] == pytest.approx(200 / 3)
    assert got["recall"] == pytest.approx(50.0)
    assert got["f1"] == pytest.approx(400 / 7)
    assert got["accuracy"] == pytest.approx(62.5)
    assert m.confusion_metrics(0, 0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0}


def test_filtering_counts_cohorts_missing_on_one_side_as_not_available():
    ref = {"A": {"is_available": True}, "B": {"is_available": True}, "C": {"is_available": False}}
    pred = {"A": {"is_available": True}, "C": {"is_available": True}, "D": {"is_available": False}}
    # A: both -> tp; B: ref only (absent in pred) -> fn; C: pred only -> fp; D: neither -> tn
    assert m.filtering_confusion(ref, pred) == {"tp": 1, "fp": 1, "tn": 1, "fn": 1}


INFO = {
    "GSE1": {"is_usable": True, "sample_size": 50, "has_age": False, "has_gender": True},
    "GSE2": {"is_usable": True, "sample_size": 80, "has_age": True, "has_gender": False},
    "GSE3": {"is_usable": False, "sample_size": 200, "has_age": True, "has_gender": True},
    "TCGA": {"is_usable": True, "sample_size": 80, "has_age": True, "has_gender": True},
}


def test_one_step_selection_is_the_largest_usable_cohort_with_the_condition():
    assert (
        select_one_step_cohort(INFO, None) == "GSE2"
    )  # 80 ties with TCGA: GEO before TCGA (cohort_order_key)
    assert select_one_step_cohort(INFO, "Age") == "GSE2"
    assert select_one_step_cohort(INFO, "Gender") == "TCGA"  # GSE2 lacks gender, GSE3 unusable
    # GenoTEX filters on 'Age'/'Gender' case-sensitively: 'age' applies no has_age filter
    assert select_one_step_cohort({"X": {"is_usable": True, "sample_size": 9}}, "age") == "X"
    assert select_one_step_cohort({"X": {"is_usable": False, "sample_size": 9}}, None) is None


def test_two_step_pairs_are_ranked_by_product_of_sizes_stably():
    trait = {
        "T1": {"is_usable": True, "sample_size": 10},
        "T2": {"is_usable": True, "sample_size": 20},
        "T3": {"is_usable": False, "sample_size": 99},
    }
    cond = {"C1": {"is_usable": True, "sample_size": 5}, "C2": {"is_usable": True, "sample_size": 10}}
    # products: T1C1 50, T1C2 100, T2C1 100, T2C2 200; on equal products the larger trait cohort
    # comes first (GenoTEX crosses its two ranked lists, then sorts by product)
    assert [(t, c) for t, c, _ in rank_cohort_pairs(trait, cond)] == [
        ("T2", "C2"),
        ("T2", "C1"),
        ("T1", "C2"),
        ("T1", "C1"),
    ]


def test_gene_regressors_are_known_condition_genes_in_both_tables_in_known_gene_order():
    trait_cols = ["TraitA", "Age", "Gender", "G1", "G2", "G3"]
    cond_cols = ["TraitB", "Age", "G2", "G3", "G4"]
    # common genes {G2, G3}; known genes in their own order: G3, G4 (absent), G2, G9 (absent)
    assert m.gene_regressors("TraitA", "TraitB", trait_cols, cond_cols, ["G3", "G4", "G2", "G9"]) == [
        "G3",
        "G2",
    ]
    assert m.gene_regressors("TraitA", "TraitB", trait_cols, cond_cols, []) == []


def test_csc_multiplies_column_jaccard_sample_jaccard_and_mean_correlation():
    ref = pd.DataFrame(
        {"f1": [1, 2, 3, 4], "f2": [1, 2, 3, 4], "f3": [0, 1, 0, 1]}, index=["s1", "s2", "s3", "s4"]
    )
    pred = pd.DataFrame(
        {"f1": [2, 4, 6, 0], "f2": [1, 3, 2, 0], "f4": [1, 1, 1, 1]}, index=["s1", "s2", "s3", "s5"]
    )
    # columns {f1,f2} of {f1..f4}: 2/4; samples {s1,s2,s3} of {s1..s5}: 3/5
    # on s1..s3: f1 ref 1,2,3 vs pred 2,4,6 -> r = 1
    #            f2 ref 1,2,3 vs pred 1,3,2: centred (-1,0,1).(-1,1,0) = 1, norms sqrt2*sqrt2 -> r = 0.5
    got = m.composite_similarity(pred, ref)
    assert got["attributes_jaccard"] == pytest.approx(0.5)
    assert got["samples_jaccard"] == pytest.approx(0.6)
    assert got["feature_correlation"] == pytest.approx(0.75)
    assert got["composite_similarity_correlation"] == pytest.approx(0.5 * 0.6 * 0.75)


def test_correlation_fills_nan_with_column_mean_and_leaves_out_constant_columns():
    ref = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0, 5.0], "c": [1.0, 2.0, 3.0], "d": [3.0, 1.0, 2.0]}
    )
    pred = pd.DataFrame(
        {"a": [1.0, np.nan, 2.0], "b": [1.0, 2.0, 3.0], "c": [np.nan] * 3, "d": [3.0, 1.0, 2.0]}
    )
    # a: pred NaN -> mean 1.5 -> (1, 1.5, 2) is a line in (1, 2, 3): r = 1
    # b: constant in ref -> left out (not counted as 0); c: all NaN -> 0 -> constant -> left out
    # d: identical -> r = 1; mean over {a, d} = 1
    assert m.mean_feature_correlation(pred, ref) == pytest.approx(1.0)
    # nothing left to correlate, or nothing shared: 0
    assert m.mean_feature_correlation(pred[["b"]], ref[["b"]]) == 0.0
    assert m.mean_feature_correlation(pred.rename(index=lambda i: f"x{i}"), ref) == 0.0
    assert m.composite_similarity(pd.DataFrame(), ref) == m.zero_similarity()


def test_gene_and_clinical_tables_are_transposed_to_samples_in_rows():
    genes_by_samples = pd.DataFrame({"S1": [1, 2], "S2": [3, 4]}, index=["G1", "G2"])
    oriented = m.as_samples_by_features(genes_by_samples, "gene")
    assert list(oriented.index) == ["S1", "S2"] and list(oriented.columns) == ["G1", "G2"]
    assert m.as_samples_by_features(genes_by_samples, "linked").equals(genes_by_samples)


def test_gene_precision_recall_f1_jaccard():
    got = m.evaluate_gene_selection(["A", "B", "C", "D"], ["A", "C", "X"])
    # hits A, C: precision 2/4, recall 2/3, f1 = 2*(1/2)(2/3)/(7/6) = 4/7, jaccard {A,C}/{A,B,C,D,X} = 2/5
    assert got["precision"] == pytest.approx(50.0)
    assert got["recall"] == pytest.approx(200 / 3)
    assert got["f1"] == pytest.approx(400 / 7)
    assert got["jaccard"] == pytest.approx(40.0)
    # duplicates in the prediction count, as in GenoTEX: A, A of A, A, B -> 2/3
    assert m.gene_precision(["A", "A", "B"], ["A"]) == pytest.approx(2 / 3)
    # empty lists: both empty is perfect, one empty is 0
    assert (m.gene_precision([], []), m.gene_recall([], []), m.gene_f1([], [])) == (1.0, 1.0, 1.0)
    assert (m.gene_precision([], ["A"]), m.gene_recall([], ["A"]), m.gene_f1([], ["A"])) == (0.0, 0.0, 0.0)


def test_auroc_pads_the_ranked_list_with_zero_scores():
    # n=6: scores 3,2,1,0,0,0 for A,B,C,pad x3; labels 1,0,1,0,0,0 (X, not predicted, is not placed)
    # A beats all 4 negatives; C beats the 3 zeros and loses to B: (4 + 3) / (2 * 4) = 7/8
    assert m.auroc_padded(["A", "B", "C"], ["A", "C", "X"], n_genes=6) == pytest.approx(7 / 8)
    # the same at GenoTEX's 20,000: (19998 + 19997) / (2 * 19998)
    assert m.auroc_padded(["A", "B", "C"], ["A", "C", "X"]) == pytest.approx(39995 / 39996)
    # ties among the padding count one half: n=4, pred [B, A], ref {A}: A (score 1) loses to B,
    # beats both pads -> 2/3
    assert m.auroc_padded(["B", "A"], ["A"], n_genes=4) == pytest.approx(2 / 3)
    assert math.isnan(m.auroc_padded(["B"], ["A"]))  # no predicted gene is a hit: one class
    assert math.isnan(m.auroc_padded(["B"], []))


def test_gsea_enrichment_score_running_sum_maximum():
    # Nh = 2, Nm = 2: A +.5 -> .5, B -.5 -> 0, C +.5 -> .5, D -.5 -> 0: max .5
    assert m.gsea_enrichment_score(["A", "B", "C", "D"], ["A", "C"]) == pytest.approx(0.5)
    # padded to 6: A,B,C,pad,pad,pad with Nh = 2, Nm = 4: .5, .25, .75, ... -> .75
    assert m.gsea_padded(["A", "B", "C"], ["A", "C", "X"], n_genes=6) == pytest.approx(0.75)
    # B -1/3, A +1 -> 2/3
    assert m.gsea_padded(["B", "A"], ["A"], n_genes=4) == pytest.approx(2 / 3)
    assert math.isnan(m.gsea_padded(["B"], ["A"]))  # no hit
    assert math.isnan(m.gsea_padded(["A", "B", "C"], ["A"], n_genes=2))  # longer than the padding


def test_question_categories_follow_genotex():
    assert m.question_category(None) == m.question_category("None") == "Unconditional one-step"
    assert m.question_category("Age") == m.question_category("gender") == "Conditional one-step"
    assert m.question_category("Type_2_Diabetes") == "Two-step"


def test_average_ignores_nan_and_text_and_rounds_to_two_decimals():
    rows = [
        {"a": 1.0, "b": float("nan"), "t": "x", "c": float("nan")},
        {"a": 2.0, "b": 3.0, "t": "y", "c": float("nan")},
        {"a": 1.0, "b": 4.0, "t": "z", "c": float("nan")},
    ]
    got = m.average_metrics(rows)
    assert got["a"] == 1.33 and got["b"] == 3.5 and "t" not in got
    assert math.isnan(got["c"])
    assert m.average_metrics([]) == {}
    assert m.aggregate_by_category({("T", "None"): {"f1": 10.0}, ("T", "Age"): {"f1": 30.0}})["Overall"] == {
        "f1": 20.0
    }


def test_auroc_agrees_with_scikit_learn_on_random_lists():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    genes = [f"g{i}" for i in range(300)]
    for _ in range(50):
        n = int(rng.choice([50, 300, 20000]))
        pred = list(rng.choice(genes, size=int(rng.integers(1, 40)), replace=False))[:n]
        ref = list(rng.choice(genes, size=int(rng.integers(1, 30)), replace=False))
        labels = np.zeros(n, dtype=int)
        labels[: len(pred)] = [g in ref for g in pred]
        scores = np.zeros(n)
        scores[: len(pred)] = np.arange(len(pred), 0, -1)
        got = m.auroc_padded(pred, ref, n)
        if labels.any():
            assert got == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        else:
            assert math.isnan(got)


def test_feature_correlation_agrees_with_pandas_corrwith():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame(rng.normal(size=(30, 8)), columns=[f"f{i}" for i in range(8)])
    pred = ref + rng.normal(scale=0.7, size=ref.shape)
    assert m.mean_feature_correlation(pred, ref) == pytest.approx(pred.corrwith(ref).mean(), abs=1e-12)
