"""GenoTEX's procedure: its parts against their originals (sparse_lmm's LMM, numpy's seeded
shuffle), its rules (penalty choice, cohort selection, condition genes), and its output."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats.genotex import (
    FoldRun,
    choose_penalty,
    fold_indices,
    genotex_one_step,
    genotex_two_step,
    selection_metrics,
)
from genoteam.toolkit.stats.genotex_models import KinshipLMM, detect_batch_effect, normalize
from genoteam.toolkit.stats.questions import genotex_result
from genoteam.toolkit.stats.selection import (
    condition_genes,
    load_task_info,
    rank_cohort_pairs,
    select_cohort_pair,
    select_one_step_cohort,
)
from tests.prerequisites import skip_or_fail_in_ci
from tests.stats.stats_synthetic import linked_table

PLANTED = [f"G{i}" for i in range(10)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # raised inside sparse_lmm
@pytest.mark.parametrize("scale", [1.0, 0.01])  # 0.01: the variance ratio is interior (Brent)
def test_kinship_lmm_is_bit_identical_to_sparse_lmm(scale: float) -> None:
    try:
        import sparse_lmm
    except ImportError:
        message = "sparse_lmm (GenoTEX's LMM, the peer) is missing: pip install -e .[test]"
        skip_or_fail_in_ci(message)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 250))
    x[:30] += 0.7
    xn = normalize(x)[0]
    y = xn @ rng.normal(size=250) * 0.05 + rng.normal(size=60)  # a polygenic trait
    xn = xn * scale
    for lamda in (1e-6, 1e-3, 1e-2, 0.1):
        with contextlib.redirect_stdout(io.StringIO()):
            theirs = sparse_lmm.LMM(lamda=lamda)
            theirs.fit(xn, y.reshape(-1, 1))
        ours = KinshipLMM(lamda).fit(xn, y)
        assert ours.log_delta == theirs.ldelta0
        assert np.array_equal(ours.coef_, np.ravel(theirs.beta))
        assert np.array_equal(ours.predict(xn[:7]), theirs.predict(xn[:7]))
    if scale < 1:
        assert -5 < ours.log_delta < 5


def test_folds_are_genotex_seeded_shuffle() -> None:
    np.random.seed(42)  # GenoTEX's cross_validation does exactly this
    expected = np.arange(47)
    np.random.shuffle(expected)
    folds = fold_indices(47, 5, 42)
    for i, (train, test) in enumerate(folds):
        assert np.array_equal(test, expected[i * 9 : (i + 1) * 9])
        assert np.array_equal(train, np.setdiff1d(expected, test))
    assert set(expected[45:]) <= set(folds[0][0])  # the 2 left-over samples always train


def test_batch_effect_test_fires_only_with_batches_and_enough_samples() -> None:
    with_batches = linked_table(n=400, genes=200, batches=2, seed=1)
    x = with_batches.iloc[:, 3:].to_numpy()
    assert detect_batch_effect(x)
    assert not detect_batch_effect(linked_table(n=400, genes=200, seed=1).iloc[:, 3:].to_numpy())
    assert not detect_batch_effect(x[:200])  # n <= 200: a gap can never exceed 200/n >= 1


def test_one_step_cv_finds_planted_genes_deterministically() -> None:
    linked = linked_table(n=100, genes=300, seed=2)
    fit = genotex_one_step(linked, "Trait")
    again = genotex_one_step(linked, "Trait")
    assert np.array_equal(fit.coefficients, again.coefficients)
    assert fit.select_by == "cv" and fit.model == "lasso" and not fit.batch_effect
    result = genotex_result(fit)
    found = result.genes
    assert len(set(found[:10]) & set(PLANTED)) >= 8
    stability = dict(zip(result.significant["Variable"], result.stability["frequency"], strict=True))
    assert np.mean([stability[g] for g in PLANTED if g in stability]) >= 0.8
    assert result.stability["kind"] == "cv-folds" and result.stability["resamples"] == 5
    assert fit.cv_performance["prediction"]["f1"] > 80
    assert "selection" not in fit.cv_performance  # cv mode never looks at known genes


def test_known_genes_rule_is_genotexs_and_needs_the_task_file() -> None:
    linked = linked_table(n=80, genes=200, seed=3)
    with pytest.raises(GenoteamError, match="no task file"):
        genotex_one_step(linked, "Trait", select_by="known-genes")
    task_info = {"Trait": {"related_genes": PLANTED[:5] + ["NOT_MEASURED"], "conditions": []}}
    fit = genotex_one_step(linked, "Trait", select_by="known-genes", task_info=task_info)
    assert fit.select_by == "known-genes"
    best = max(run["selection"]["precision"] for run in fit.tuning)
    first_best = next(run["penalty"] for run in fit.tuning if run["selection"]["precision"] == best)
    assert fit.penalty == first_best
    assert fit.cv_performance["selection"]["precision"] == best
    none_known = genotex_one_step(linked, "Trait", select_by="known-genes", task_info={})
    assert none_known.penalty == 0.1 and any("falls back to penalty 0.1" in n for n in none_known.notes)


def test_choose_penalty_rules() -> None:
    def run(penalty: float, f1: float, precision: float) -> FoldRun:
        return FoldRun(penalty, {"f1": f1}, {"precision": precision}, np.zeros((5, 1), bool))

    runs = [run(1e-3, 70, 10), run(1e-2, 90, 30), run(1e-1, 90, 30), run(1.0, 50, 0)]
    assert choose_penalty(runs, True, "cv")[0] == 1e-2  # best F1, first of ties
    penalty, performance, _ = choose_penalty(runs, True, "known-genes")
    assert penalty == 1e-2 and performance == {"prediction": {"f1": 90}, "selection": {"precision": 30}}
    zero = [run(1e-3, 70, 0), run(1e-1, 60, 0)]
    penalty, performance, _ = choose_penalty(zero, True, "known-genes")
    assert penalty == 0.1 and performance["selection"] == {"precision": 0}


def test_selection_metrics_by_hand() -> None:
    metrics = selection_metrics(["A", "B", "C", "D"], ["B", "D", "E"])
    assert metrics == pytest.approx({"precision": 50.0, "recall": 200 / 3, "f1": 400 / 7, "jaccard": 40.0})
    assert selection_metrics([], ["A"])["precision"] == 0


def test_age_condition_residualises_the_trait() -> None:
    linked = linked_table(n=90, genes=150, seed=4)
    linked["Trait"] = linked["Trait"] + 0.0
    fit = genotex_one_step(linked, "Trait", condition="Age")
    assert fit.condition == "Age" and fit.condition_coefficient is not None
    assert "Age" not in fit.genes and "Gender" not in fit.genes
    with pytest.raises(GenoteamError, match="two-step"):
        genotex_one_step(linked, "Trait", condition="Hypertension")


def test_two_step_through_condition_genes() -> None:
    trait_linked = linked_table(n=80, genes=120, seed=5)
    condition_linked = linked_table(n=70, genes=120, seed=6).rename(columns={"Trait": "Obesity"})
    task_info = {
        "Trait": {"related_genes": ["G0", "G1"], "conditions": ["Obesity"]},
        "Obesity": {"related_genes": ["G0", "G1", "G2", "G3", "G4", "NOPE"], "conditions": []},
    }
    genes = condition_genes(task_info, "Trait", "Obesity", trait_linked.columns, condition_linked.columns)
    assert genes == ["G2", "G3", "G4"]  # condition genes, measured in both, not the trait's own
    faithful = condition_genes(
        task_info, "Trait", "Obesity", trait_linked.columns, condition_linked.columns, False
    )
    assert faithful == ["G0", "G1", "G2", "G3", "G4"]
    fit = genotex_two_step(trait_linked, condition_linked, "Trait", "Obesity", task_info)
    assert fit.condition == "Obesity" and "Obesity" not in fit.genes and "G2" in fit.genes
    assert any("predicted from 3 genes" in n for n in fit.notes)
    with pytest.raises(GenoteamError, match="no task file"):
        genotex_two_step(trait_linked, condition_linked, "Trait", "Obesity", None)


def test_cohort_selection_rules() -> None:
    info = {
        "A": {"is_usable": True, "sample_size": 50, "has_age": False, "has_gender": True},
        "B": {"is_usable": True, "sample_size": 80, "has_age": True, "has_gender": False},
        "C": {"is_usable": False, "sample_size": 500, "has_age": True, "has_gender": True},
        "D": {"is_usable": True, "sample_size": 80, "has_age": True, "has_gender": True},
    }
    assert select_one_step_cohort(info) == "B"  # largest usable; tie keeps file order
    assert select_one_step_cohort(info, "Gender") == "D"
    assert select_one_step_cohort({"C": info["C"]}) is None
    condition_info = {
        "X": {"is_usable": True, "sample_size": 10},
        "Y": {"is_usable": True, "sample_size": 30},
    }
    pairs = rank_cohort_pairs(info, condition_info)
    assert pairs[0] == ("B", "Y", 2400) and pairs[-1] == ("A", "X", 500) and len(pairs) == 6
    tables = {
        ("T", "B"): linked_table(n=10, genes=5, prefix="B"),
        ("T", "D"): linked_table(n=10, genes=5),
        ("T", "A"): linked_table(n=10, genes=5),
        ("Cond", "Y"): linked_table(n=10, genes=5),
        ("Cond", "X"): linked_table(n=10, genes=5),
    }
    task_info = {"Cond": {"related_genes": ["G3"]}, "T": {"related_genes": []}}
    chosen = select_cohort_pair(info, condition_info, lambda e, c: tables[(e, c)], "T", "Cond", task_info)
    assert chosen == ("D", "Y", ["G3"])  # B (largest) shares no condition gene


def test_result_json_keeps_genotex_fields_and_adds_ours() -> None:
    fit = genotex_one_step(linked_table(n=60, genes=80, seed=7), "Trait")
    content = genotex_result(fit).to_json_dict()
    genes = content["significant_genes"]
    assert list(genes)[:3] == ["Variable", "Coefficient", "Absolute Coefficient"]
    assert genes["Absolute Coefficient"] == sorted(genes["Absolute Coefficient"], reverse=True)
    assert "prediction" in content["cv_performance"]
    assert content["method"] == "genotex" and content["select_by"] == "cv"
    assert len(content["stability"]["frequency"]) == len(genes["Variable"])
    json.dumps(content, allow_nan=False)


def test_task_file_errors(tmp_path: Path, task_info_path: Path) -> None:
    real = load_task_info(task_info_path)
    assert len(real) == 132 and "DNMT3A" in real["Acute_Myeloid_Leukemia"]["related_genes"]
    broken = tmp_path / "task_info.json"
    broken.write_text("{not json")
    with pytest.raises(GenoteamError, match="not valid JSON"):
        load_task_info(broken)
    with pytest.raises(GenoteamError, match="not found"):
        load_task_info(tmp_path / "missing.json")


def test_batch_effect_switches_the_procedure_to_the_lmm() -> None:
    linked = linked_table(n=260, genes=80, batches=2, seed=8, effect=1.5)
    fit = genotex_one_step(linked, "Trait", penalties=(1e-6, 1e-2))
    assert fit.batch_effect and fit.model == "lmm" and fit.penalty_name == "lamda"
    content = genotex_result(fit).to_json_dict()
    assert content["penalty"]["name"] == "lamda" and content["details"]["batch_effect"] is True
    # GenoTEX's LMM rotates the genes by (S + delta)^-1/2 with S ~ genes x samples, so any
    # penalty above ~1e-4 zeroes every gene: faithful, and recorded in docs/statistics.md
    assert len(content["significant_genes"]["Variable"]) > 0 and fit.penalty == 1e-6
    assert [len(run["prediction"]) for run in fit.tuning] == [4, 4]


def test_bootstrap_stability_is_reported_and_seeded() -> None:
    linked = linked_table(n=70, genes=100, seed=9, effect=1.5)
    first = genotex_result(genotex_one_step(linked, "Trait", bootstrap=6, penalties=(1e-2, 1e-1), seed=3))
    second = genotex_result(genotex_one_step(linked, "Trait", bootstrap=6, penalties=(1e-2, 1e-1), seed=3))
    assert first.stability == second.stability
    assert first.stability["kind"] == "bootstrap" and first.stability["resamples"] == 6
    frequency = dict(zip(first.genes, first.stability["frequency"], strict=True))
    assert all(0 <= f <= 1 for f in frequency.values())
    assert np.mean([frequency.get(g, 0) for g in PLANTED]) > 0.8


@pytest.mark.parametrize("kind", ["lasso", "lmm"])
def test_per_fold_work_shared_by_penalties_gives_each_penalty_its_own_fit(kind: str) -> None:
    """The fold's standardisation, residualisation and kinship rotation are computed once for
    all penalties; every penalty must still get exactly the fit it gets alone."""
    from genoteam.toolkit.stats.genotex import cross_validate

    table = linked_table(n=60, genes=80, seed=9)
    x, y = table.iloc[:, 3:].to_numpy(), table["Trait"].to_numpy(dtype=float)
    z = table["Age"].to_numpy(dtype=float)
    genes = list(table.columns[3:])
    penalties = [1e-4, 1e-2, 0.1]
    together = cross_validate(kind, penalties, x, y, z, genes, genes[:5])
    for run, penalty in zip(together, penalties, strict=True):
        (alone,) = cross_validate(kind, [penalty], x, y, z, genes, genes[:5])
        assert run.penalty == penalty and run.prediction == alone.prediction
        assert run.selection == alone.selection and np.array_equal(run.selected, alone.selected)
    assert len({r.selected.sum() for r in together}) > 1  # the penalties do differ
