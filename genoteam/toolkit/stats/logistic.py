"""Per-gene logistic regression of a binary trait on one gene plus covariates, batched over genes.

Where it applies: when the question is "does this gene predict the trait" (the direction of
GenoTEX's models, trait ~ genes), for a 0/1 trait. The default per-gene test remains the
moderated t (expression ~ trait + covariates); the two agree on which genes matter, but the
logistic coefficient is a log odds ratio per unit of expression.

p-values come from the likelihood-ratio test against the covariates-only model of the same
samples: unlike the Wald test, it stays valid when a gene (nearly) separates the classes, which
is common for tumour/normal markers. Wald z and p are reported too, and genes whose fit did not
converge or separates the classes are flagged rather than hidden.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: ~1 s to import for t.sf, chi2.sf, norm.sf

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats.association import expression_matrix
from genoteam.toolkit.stats.design import CLINICAL_COLUMNS, build_design, gene_columns
from genoteam.toolkit.stats.fdr import bh_adjust

METHOD_LOGISTIC = "logistic"  # p-values from the likelihood-ratio test
_BLOCK = 256
_MAX_ITER = 50
_TOL = 1e-10


def _newton(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batched IRLS: x (B, n, k), y (n,), weight (B, n) 0/1. Returns beta, cov, deviance, converged."""
    b, n, k = x.shape
    beta = np.zeros((b, k))
    converged = np.zeros(b, dtype=bool)
    ridge = 1e-12 * np.eye(k)
    for _ in range(_MAX_ITER):
        eta = np.einsum("bnk,bk->bn", x, beta)
        prob = special.expit(eta)
        w = weight * prob * (1 - prob)
        hess = np.matmul(x.transpose(0, 2, 1), x * w[:, :, None]) + ridge
        grad = np.einsum("bnk,bn->bk", x, weight * (y - prob))
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        step = np.where(converged[:, None], 0.0, step)
        beta = beta + step
        converged |= np.max(np.abs(step), axis=1) < _TOL * (1 + np.max(np.abs(beta), axis=1))
        if converged.all():
            break
    eta = np.einsum("bnk,bk->bn", x, beta)
    prob = special.expit(eta)
    w = weight * prob * (1 - prob)
    hess = np.matmul(x.transpose(0, 2, 1), x * w[:, :, None]) + ridge
    cov = np.linalg.inv(hess)
    loglik = weight * (y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta))
    return beta, cov, -2 * loglik.sum(axis=1), converged


def logistic_association(
    linked: pd.DataFrame, trait: str, covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS
) -> pd.DataFrame:
    """trait ~ gene + covariates for every gene: log odds ratio, Wald z, LRT p, BH q, flags."""
    design = build_design(linked, trait, covariates)
    if not design.trait_is_binary:
        raise GenoteamError(
            f"logistic regression needs a 0/1 trait, and '{trait}' is continuous",
            "use moderated_t_test for a continuous trait",
        )
    genes = gene_columns(linked, trait, covariates)
    y = design.matrix[:, design.trait_index]
    z = np.delete(design.matrix, design.trait_index, axis=1)  # intercept + covariates
    expr = expression_matrix(linked, design, genes)
    n_genes, n = expr.shape
    coef = np.full(n_genes, np.nan)
    se = np.full(n_genes, np.nan)
    dev_full = np.full(n_genes, np.nan)
    dev_null = np.full(n_genes, np.nan)
    converged = np.zeros(n_genes, dtype=bool)
    for start in range(0, n_genes, _BLOCK):
        block = expr[start : start + _BLOCK]
        mask = np.isfinite(block).astype(float)
        values = np.nan_to_num(block)
        b = block.shape[0]
        x_full = np.concatenate([np.broadcast_to(z, (b, n, z.shape[1])), values[:, :, None]], axis=2)
        beta, cov, dev, conv = _newton(x_full, y, mask)
        _, _, dev0, conv0 = _newton(np.broadcast_to(z, (b, n, z.shape[1])).copy(), y, mask)
        sl = slice(start, start + b)
        coef[sl], se[sl] = beta[:, -1], np.sqrt(np.maximum(cov[:, -1, -1], 0))
        dev_full[sl], dev_null[sl], converged[sl] = dev, dev0, conv & conv0
    constant = np.nanstd(expr, axis=1) == 0
    coef[constant], se[constant], dev_full[constant] = 0.0, np.inf, dev_null[constant]
    lr = np.maximum(dev_null - dev_full, 0.0)
    p_lr = special.chdtrc(1, lr)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_wald = coef / se
    separated = (dev_full < 1e-6) | (~converged & ~constant)
    table = pd.DataFrame(
        {
            "gene": genes,
            "coefficient": coef,
            "std_coefficient": coef * np.nanstd(expr, axis=1, ddof=1),
            "z": z_wald,
            "wald_p_value": 2 * special.ndtr(-np.abs(z_wald)),
            "lr_stat": lr,
            "p_value": p_lr,
            "q_value": bh_adjust(p_lr),
            "converged": converged | constant,
            "separated": separated,
            "n_samples": np.isfinite(expr).sum(axis=1),
        }
    )
    table = table.sort_values(["p_value", "gene"], kind="mergesort").reset_index(drop=True)
    table.attrs["logistic"] = {
        "coefficient_unit": f"log odds ratio of {trait} per unit of log2 expression",
        "method": METHOD_LOGISTIC,
        "covariates": design.covariates,
        "n_samples": len(design.samples),
        "trait_is_binary": design.trait_is_binary,
        "trait_counts": design.trait_counts(),
        "notes": design.notes,
    }
    return table
