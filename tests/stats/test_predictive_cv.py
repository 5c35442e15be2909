"""The per-gene method's CV models and metrics are numpy code (no scikit-learn import on the
reference path); these tests hold them to scikit-learn's answers on the real CHOL folds."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, precision_score, r2_score, recall_score

from genoteam.toolkit.stats.genotex import GENOTEX_SEED, prediction_metrics
from genoteam.toolkit.stats.predictive_cv import (
    fold_features,
    l2_logistic_probabilities,
    ridge_predictions,
)
from tests.conftest import PROJECT_ROOT
from tests.stats.stats_chol import TRAIT, chol_linked


@pytest.fixture(scope="module")
def chol(shared_input: Path):
    return chol_linked(shared_input)


def test_logistic_matches_scikit_learn_on_the_chol_folds(chol) -> None:
    folds = list(fold_features(chol, TRAIT, ("Age", "Gender"), 50, 5, GENOTEX_SEED))
    assert len(folds) == 5
    for x_train, y_train, x_test, y_test in folds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = LogisticRegression(max_iter=1000, tol=1e-10).fit(x_train, y_train)
        ours = l2_logistic_probabilities(x_train, y_train, x_test)
        np.testing.assert_allclose(ours, theirs.predict_proba(x_test)[:, 1], rtol=0, atol=1e-6)
        default = LogisticRegression(max_iter=1000).fit(x_train, y_train).predict_proba(x_test)[:, 1]
        assert np.array_equal(ours > 0.5, default > 0.5)  # the default's stopping changes no call
        assert prediction_metrics(y_test, ours, True) == prediction_metrics(y_test, default, True)


def test_ridge_matches_scikit_learn_on_the_chol_folds(chol) -> None:
    """A continuous trait: Age from the genes with Gender as the covariate."""
    table = chol.drop(columns=[TRAIT]).dropna(subset=["Age", "Gender"])
    folds = list(fold_features(table, "Age", ("Gender",), 50, 5, GENOTEX_SEED))
    for x_train, y_train, x_test, y_test in folds:
        theirs = Ridge(alpha=1.0).fit(x_train, y_train).predict(x_test)
        ours = ridge_predictions(x_train, y_train, x_test)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
        mine, sk = prediction_metrics(y_test, ours, False), prediction_metrics(y_test, theirs, False)
        assert mine["r_squared"] == pytest.approx(sk["r_squared"], rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_metrics_are_scikit_learns_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    y = (rng.random(n) < [0.0, 1.0, 0.5, 0.3, 0.7, 0.5][seed]).astype(float)  # incl. one class only
    p = rng.random(n) if seed != 5 else np.zeros(n)  # incl. nothing predicted positive
    truth, pred = (y > 0.5).astype(int), (p > 0.5).astype(int)
    assert prediction_metrics(y, p, True) == {
        "accuracy": accuracy_score(truth, pred) * 100,
        "precision": precision_score(truth, pred, zero_division=0) * 100,
        "recall": recall_score(truth, pred, zero_division=0) * 100,
        "f1": f1_score(truth, pred, zero_division=0) * 100,
    }
    y_cont, p_cont = rng.normal(size=n), rng.normal(size=n)
    assert prediction_metrics(y_cont, p_cont, False)["r_squared"] == r2_score(y_cont, p_cont)
    constant = np.full(n, 2.5)
    assert prediction_metrics(constant, constant, False)["r_squared"] == r2_score(constant, constant)


def test_the_reference_on_chol_never_imports_scikit_learn(shared_input: Path, tmp_path: Path) -> None:
    """A real `genoteam reference` run in a fresh interpreter; scikit-learn's import alone is ~1.8 s."""
    code = (
        "import sys\n"
        "from genoteam.cli import main\n"
        f"rc = main(['reference', '--input', {str(shared_input)!r}, '--trait', 'Bile_Duct_Cancer',"
        f" '--output', {str(tmp_path)!r}])\n"
        "print('rc', rc, 'sklearn' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "rc 0 False", done.stdout + done.stderr
