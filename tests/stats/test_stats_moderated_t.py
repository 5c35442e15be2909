"""The moderated t against R limma (simulated data with covariates and missing values, and real
TCGA CHOL), the unmoderated t against statsmodels OLS, BH against statsmodels, and the edges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special
from statsmodels.stats.multitest import multipletests

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats import bh_adjust, moderated_t_test, ordinary_t_test, trigamma_inverse
from genoteam.toolkit.stats.design import build_design, gene_columns
from tests.stats.stats_chol import TRAIT, chol_linked
from tests.stats.stats_r_peer import run_limma

RTOL = 1e-6


def simulated_cohort(n: int = 60, genes: int = 400, seed: int = 7, missing: bool = True) -> pd.DataFrame:
    """Binary trait, Age and Gender confounding some genes, 20 planted trait genes, gene-wise
    variances drawn from a scaled inverse chi-square (the model limma assumes), a few NaNs."""
    rng = np.random.default_rng(seed)
    trait = rng.integers(0, 2, n).astype(float)
    age = rng.normal(60, 12, n).round()
    gender = rng.integers(0, 2, n).astype(float)
    sd = np.sqrt(0.5 * 4 / rng.chisquare(4, genes))
    expr = rng.normal(0, 1, (n, genes)) * sd
    expr[:, :20] += 1.5 * trait[:, None]
    expr[:, 20:60] += 0.05 * (age[:, None] - 60) + 0.8 * gender[:, None]
    if missing:
        expr[rng.random((n, genes)) < 0.02] = np.nan
        if genes > 100:
            expr[: n - 6, 100] = np.nan  # a gene measured on 6 samples only
            expr[gender == 1, 101] = np.nan  # Gender aliased on its samples: pivoted fit
    table = pd.DataFrame(expr, columns=[f"G{i}" for i in range(genes)], index=[f"S{i}" for i in range(n)])
    table.insert(0, "Gender", gender)
    table.insert(0, "Age", age)
    table.insert(0, "Trait", trait)
    return table


def compare_with_limma(linked: pd.DataFrame, trait: str, tmp_path: Path) -> pd.DataFrame:
    design = build_design(linked, trait)
    ours = moderated_t_test(linked, trait)
    # R gets the genes we tested: constant genes are left out before the prior fit, on both sides
    fitted = set(ours["gene"])
    tested = [g for g in gene_columns(linked, trait) if g in fitted]
    expression = linked.loc[design.samples, tested].T
    theirs, prior = run_limma(expression, design.matrix, design.columns, tmp_path)
    both = ours.merge(theirs, on="gene", suffixes=("", "_r"), validate="one_to_one")
    assert len(both) == expression.shape[0] == len(ours)
    info = ours.attrs["moderated_t"]
    assert info["df_prior"] == pytest.approx(prior["df_prior"], rel=RTOL)
    assert info["s2_prior"] == pytest.approx(prior["s2_prior"], rel=RTOL)
    assert np.array_equal(np.isnan(both["t"]), np.isnan(both["t_r"]))
    # t within 1e-6 relative; atol only absorbs R's 1e-16 noise on genes of constant expression
    np.testing.assert_allclose(both["t"], both["t_r"], rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(both["p_value"], both["p_value_r"], rtol=RTOL)
    np.testing.assert_allclose(both["df_total"], both["df_total_r"], rtol=RTOL)
    return both


@pytest.mark.r_peer
def test_simulated_with_covariates_and_missing_values_matches_limma(tmp_path: Path) -> None:
    linked = simulated_cohort()
    both = compare_with_limma(linked, "Trait", tmp_path)
    assert both["df_total"].nunique() > 1  # missing values give genes their own residual df
    assert np.isfinite(both.set_index("gene").loc["G101", "t"])  # trait estimable, Gender aliased
    planted = set(both.loc[both["q_value"] < 0.05, "gene"])
    truth = {f"G{i}" for i in range(20)}
    assert len(planted & truth) >= 17  # planted genes are found
    assert len(planted - truth) <= 3  # and few others


@pytest.mark.r_peer
def test_continuous_trait_matches_limma(tmp_path: Path) -> None:
    linked = simulated_cohort(seed=11, missing=False).drop(columns=["Trait"])
    # Age as the trait of interest, Gender the covariate: a continuous trait
    linked = linked.rename(columns={"Age": "Score"})
    design = build_design(linked, "Score", ("Gender",))
    expression = linked.loc[design.samples, gene_columns(linked, "Score", ("Gender",))].T
    ours = moderated_t_test(linked, "Score", ("Gender",))
    theirs, _ = run_limma(expression, design.matrix, design.columns, tmp_path)
    both = ours.merge(theirs, on="gene", suffixes=("", "_r"))
    np.testing.assert_allclose(both["t"], both["t_r"], rtol=RTOL)
    np.testing.assert_allclose(both["p_value"], both["p_value_r"], rtol=RTOL)


@pytest.mark.r_peer
def test_tcga_chol_tumour_vs_normal_matches_limma(shared_input: Path, tmp_path: Path) -> None:
    linked = chol_linked(shared_input)
    assert linked[TRAIT].value_counts().to_dict() == {1.0: 36, 0.0: 9}
    both = compare_with_limma(linked, TRAIT, tmp_path)
    constant = linked.drop(columns=[TRAIT, "Age", "Gender"]).nunique() == 1
    assert constant.sum() == 866 and len(both) == 20530 - 866  # constant rows are not tested
    assert not set(both["gene"]) & set(constant.index[constant])
    significant = both["q_value"] < 0.05
    assert 9000 < significant.sum() < 11000  # ~10,000 genes at FDR 0.05 (FINDINGS.md)
    assert (both["sigma"] > 0).all()


def test_unmoderated_t_matches_statsmodels_ols() -> None:
    linked = simulated_cohort(n=40, genes=120, seed=3)
    ours = ordinary_t_test(linked, "Trait").set_index("gene")
    for gene in ["G0", "G5", "G30", "G45", "G59", "G100"]:  # G100: 6 samples, 2 residual df
        data = linked[["Trait", "Age", "Gender", gene]].dropna()
        fit = sm.OLS(data[gene], sm.add_constant(data[["Trait", "Age", "Gender"]])).fit()
        assert ours.loc[gene, "coefficient"] == pytest.approx(fit.params["Trait"], rel=1e-9)
        assert ours.loc[gene, "t"] == pytest.approx(fit.tvalues["Trait"], rel=1e-9)
        assert ours.loc[gene, "p_value"] == pytest.approx(fit.pvalues["Trait"], rel=1e-8)
        assert ours.loc[gene, "df_residual"] == fit.df_resid


def test_bh_matches_statsmodels_and_keeps_missing() -> None:
    p = np.random.default_rng(1).random(500) ** 3
    p[[4, 77]] = np.nan
    q = bh_adjust(p)
    expected = multipletests(p[~np.isnan(p)], method="fdr_bh")[1]
    np.testing.assert_allclose(q[~np.isnan(p)], expected, rtol=1e-12)
    assert np.isnan(q[[4, 77]]).all()


def test_trigamma_inverse_inverts_trigamma() -> None:
    x = np.array([1e-8, 1e-3, 0.1, 1.0, 7.5, 1e3, 1e8])
    np.testing.assert_allclose(special.polygamma(1, trigamma_inverse(x)), x, rtol=1e-6)


def test_one_class_trait_is_a_clear_error() -> None:
    linked = simulated_cohort(n=20, genes=10)
    linked["Trait"] = 1.0
    with pytest.raises(GenoteamError, match="single value"):
        moderated_t_test(linked, "Trait")


def test_missing_covariate_values_drop_samples_with_a_note() -> None:
    linked = simulated_cohort(n=30, genes=20, missing=False)
    linked.loc[linked.index[:4], "Age"] = np.nan
    linked = linked.drop(columns=["Gender"])
    table = moderated_t_test(linked, "Trait")
    notes = table.attrs["moderated_t"]["notes"]
    assert any("4 of 30 samples dropped" in n for n in notes)
    assert any("'Gender' is not in the table" in n for n in notes)
    assert table["n_samples"].max() == 26


def test_text_gene_column_is_a_clear_error() -> None:
    linked = simulated_cohort(n=20, genes=10, missing=False)
    linked["G3"] = linked["G3"].astype(str)
    with pytest.raises(GenoteamError, match="not numeric"):
        moderated_t_test(linked, "Trait")


def test_duplicate_gene_columns_are_a_clear_error() -> None:
    linked = simulated_cohort(n=20, genes=10, missing=False)
    linked = pd.concat([linked, linked[["G1"]]], axis=1)
    with pytest.raises(GenoteamError, match="more than once"):
        moderated_t_test(linked, "Trait")
