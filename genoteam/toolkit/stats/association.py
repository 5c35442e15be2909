"""Per-gene association of expression with a trait, adjusted for covariates: the default method.

Model per gene: expression = b0 + b1 * trait + covariates + error, fitted on the samples where
the gene is measured (limma's lmFit), then limma's empirical-Bayes moderated t for b1, and
Benjamini-Hochberg q-values over genes. It answers "which genes differ with the trait" for
binary and continuous traits alike, and it is checked against R limma on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats.design import CLINICAL_COLUMNS, Design, build_design, gene_columns
from genoteam.toolkit.stats.fdr import bh_adjust
from genoteam.toolkit.stats.linear_model import LinearFit, lm_fit
from genoteam.toolkit.stats.moderated_t import ebayes, ordinary_t

METHOD_MODERATED_T = "moderated-t"


def expression_matrix(linked: pd.DataFrame, design: Design, genes: list[str]) -> np.ndarray:
    """genes x samples float matrix for the design's samples; non-numeric genes are an error."""
    duplicated = pd.Index(genes)[pd.Index(genes).duplicated()].unique()
    if len(duplicated):
        raise GenoteamError(
            f"{len(duplicated)} gene columns appear more than once, e.g. {list(duplicated[:5])}",
            "average duplicate genes when normalising symbols (GenoTEX does), then test",
        )
    block = linked.loc[design.samples, genes]
    bad = list(block.select_dtypes(exclude=["number", "bool"]).columns)
    if bad:
        raise GenoteamError(
            f"{len(bad)} gene columns are not numeric, e.g. {bad[:5]}",
            "pass a linked table of expression values (convert or drop text columns first)",
        )
    return np.ascontiguousarray(block.to_numpy(dtype=float).T)


def _fit(
    linked: pd.DataFrame, trait: str, covariates: tuple[str, ...] | list[str]
) -> tuple[Design, list[str], LinearFit]:
    design = build_design(linked, trait, covariates)
    genes = gene_columns(linked, trait, covariates)
    if not genes:
        raise GenoteamError(
            "the linked table has no gene columns", "link gene expression to the clinical table"
        )
    fit = lm_fit(expression_matrix(linked, design, genes), design.matrix, design.columns)
    return design, genes, fit


def _trait_scale(linked: pd.DataFrame, design: Design) -> float:
    """1 for a binary trait (effect per class change), the trait's SD for a continuous one."""
    if design.trait_is_binary:
        return 1.0
    return float(np.std(linked.loc[design.samples, design.trait].astype(float), ddof=1))


def moderated_t_test(
    linked: pd.DataFrame, trait: str, covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS
) -> pd.DataFrame:
    """limma-style moderated t for the trait coefficient of every gene, with BH q-values.

    Columns: gene, coefficient (log fold change for a 0/1 trait; per unit otherwise),
    std_effect (coefficient x trait scale / posterior SD: a covariate-adjusted Cohen's d for a
    binary trait), t, p_value, q_value, df_total, sigma, s2_post, n_samples. Sorted by p-value.
    `.attrs["moderated_t"]` holds d0, s0^2, the design columns and notes.
    """
    design, genes, fit = _fit(linked, trait, covariates)
    k = design.trait_index
    mod = ebayes(fit, k)
    coef = fit.coefficients[:, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        std_effect = coef * _trait_scale(linked, design) / np.sqrt(mod.s2_post)
    table = pd.DataFrame(
        {
            "gene": genes,
            "coefficient": coef,
            "std_effect": std_effect,
            "t": mod.t,
            "p_value": mod.p_value,
            "q_value": bh_adjust(mod.p_value),
            "df_total": mod.df_total,
            "sigma": fit.sigma,
            "s2_post": mod.s2_post,
            "n_samples": fit.n_obs,
        }
    )
    table = table.sort_values(["p_value", "gene"], na_position="last", kind="mergesort").reset_index(
        drop=True
    )
    not_estimable = int(np.isnan(coef).sum())
    notes = list(design.notes)
    if not_estimable:
        notes.append(f"{not_estimable} genes have no estimable trait coefficient (too few measured samples)")
    table.attrs["moderated_t"] = {
        "method": METHOD_MODERATED_T,
        "df_prior": float(mod.df_prior),
        "s2_prior": float(mod.s2_prior),
        "design_columns": design.columns,
        "covariates": design.covariates,
        "n_samples": len(design.samples),
        "trait_is_binary": design.trait_is_binary,
        "notes": notes,
    }
    return table


def ordinary_t_test(
    linked: pd.DataFrame, trait: str, covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS
) -> pd.DataFrame:
    """Unmoderated per-gene OLS t and p for the trait (the statsmodels-equivalent baseline)."""
    design, genes, fit = _fit(linked, trait, covariates)
    k = design.trait_index
    t, p = ordinary_t(fit, k)
    return pd.DataFrame(
        {
            "gene": genes,
            "coefficient": fit.coefficients[:, k],
            "se": fit.stdev_unscaled[:, k] * fit.sigma,
            "t": t,
            "p_value": p,
            "q_value": bh_adjust(p),
            "df_residual": fit.df_residual,
        }
    )
