"""Per-gene ordinary least squares, vectorised over genes: the equivalent of limma's lmFit.

Why vectorised: 20,000 genes x 2,000 samples must fit in seconds, so genes without missing
values share one QR decomposition, and genes with missing values are solved in batches through
their own (column-equilibrated) normal equations. Like limma, a gene with missing values is fitted
on its available samples only; a gene whose available samples make the design rank-deficient is
fitted column by column with R's pivoting rule (an aliased coefficient is NaN, as limma's NA).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from genoteam.toolkit.errors import GenoteamError

_CHUNK = 4000  # genes per block: bounds memory at ~ CHUNK x samples x 8 bytes per temporary
_ALIAS_TOL = 1e-7  # R's lm.fit / dqrdc2 tolerance for declaring a column aliased


@dataclass
class LinearFit:
    """What lmFit returns and eBayes needs, one row per gene, one column per design column."""

    coefficients: np.ndarray  # (genes, p)
    stdev_unscaled: np.ndarray  # (genes, p)
    sigma: np.ndarray  # (genes,) residual standard deviation, NaN where df_residual == 0
    df_residual: np.ndarray  # (genes,) available samples - rank
    n_obs: np.ndarray  # (genes,) samples used for each gene
    design_columns: list[str]


def _check_design(design: np.ndarray, names: list[str]) -> None:
    if design.ndim != 2 or design.shape[1] != len(names):
        raise GenoteamError("design matrix and its column names disagree", "build it with build_design()")
    if not np.all(np.isfinite(design)):
        raise GenoteamError("design matrix has missing values", "drop samples with missing covariates first")
    rank = np.linalg.matrix_rank(design)
    if rank < design.shape[1]:
        raise GenoteamError(
            f"design matrix with columns {names} has rank {rank} < {design.shape[1]}",
            "drop a covariate that is constant or duplicates another one",
        )


def _fit_complete(y: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OLS of every row of y (no missing values) on the same full-rank design, via one QR."""
    q, r = np.linalg.qr(design)
    effects = y @ q  # (genes, p)
    coef = np.linalg.solve(r, effects.T).T
    resid = y - coef @ design.T
    rss = np.einsum("ij,ij->i", resid, resid)
    r_inv = np.linalg.inv(r)
    unscaled = np.sqrt(np.sum(r_inv**2, axis=1))  # sqrt(diag((R'R)^-1))
    return coef, np.broadcast_to(unscaled, coef.shape).copy(), rss


def _fit_one_pivoted(y: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """One gene whose design is rank-deficient: keep columns in order unless aliased (R's rule)."""
    p = design.shape[1]
    kept: list[int] = []
    for j in range(p):
        col = design[:, j]
        norm = np.linalg.norm(col)
        if kept:
            basis, _ = np.linalg.qr(design[:, kept])
            col = col - basis @ (basis.T @ col)
        if norm > 0 and np.linalg.norm(col) > _ALIAS_TOL * norm:
            kept.append(j)
    coef = np.full(p, np.nan)
    unscaled = np.full(p, np.nan)
    if not kept:
        return coef, unscaled, float(np.sum(y**2)), 0
    sub = design[:, kept]
    q, r = np.linalg.qr(sub)
    beta = np.linalg.solve(r, q.T @ y)
    resid = y - sub @ beta
    coef[kept] = beta
    unscaled[kept] = np.sqrt(np.sum(np.linalg.inv(r) ** 2, axis=1))
    return coef, unscaled, float(resid @ resid), len(kept)


def _fit_masked(
    y: np.ndarray, mask: np.ndarray, design: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OLS per gene on its available samples (mask), batched through normal equations."""
    genes, p = y.shape[0], design.shape[1]
    scale = np.linalg.norm(design, axis=0)
    scale[scale == 0] = 1.0
    xs = design / scale  # equilibrated columns: same fit, better-conditioned normal equations
    w = mask.astype(float)
    y0 = np.where(mask, y, 0.0)
    outer = (xs[:, :, None] * xs[:, None, :]).reshape(xs.shape[0], p * p)
    xtx = (w @ outer).reshape(genes, p, p)
    xty = y0 @ xs
    n_obs = mask.sum(axis=1)
    coef = np.full((genes, p), np.nan)
    unscaled = np.full((genes, p), np.nan)
    rss = np.full(genes, np.nan)
    rank = np.zeros(genes, dtype=int)
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(xtx)
    good = (n_obs >= p) & np.isfinite(cond) & (cond < 1e12)
    if good.any():
        inv = np.linalg.inv(xtx[good])
        beta = np.einsum("gij,gj->gi", inv, xty[good])
        resid = np.where(mask[good], y0[good] - beta @ xs.T, 0.0)
        coef[good] = beta / scale
        unscaled[good] = np.sqrt(np.einsum("gii->gi", inv)) / scale
        rss[good] = np.einsum("ij,ij->i", resid, resid)
        rank[good] = p
    for g in np.flatnonzero(~good):
        obs = mask[g]
        c, u, r, k = _fit_one_pivoted(y[g, obs], design[obs])
        coef[g], unscaled[g], rss[g], rank[g] = c, u, r, k
    return coef, unscaled, rss, rank


def _exact_constant_genes(y: np.ndarray, design: np.ndarray, coef: np.ndarray, rss: np.ndarray) -> None:
    """Genes constant over their samples fit the intercept exactly: zero effects, zero residual.

    Floating-point noise would otherwise give them arbitrary 1e-16-sized effects and t-values
    (R limma reports such noise); exact zeros make them t = 0, p = 1 deterministically.
    """
    ones = np.flatnonzero(np.all(design == 1.0, axis=0))
    if ones.size == 0:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing genes: NaN, not constant
        constant = (np.nanmax(y, axis=1) == np.nanmin(y, axis=1)) & np.isfinite(coef[:, ones[0]])
    if constant.any():
        coef[constant] = np.where(np.isnan(coef[constant]), np.nan, 0.0)  # aliased stays NaN
        coef[constant, ones[0]] = np.nanmax(y[constant], axis=1)
        rss[constant] = 0.0


def lm_fit(expression: np.ndarray, design: np.ndarray, design_columns: list[str]) -> LinearFit:
    """Fit expression (genes x samples, NaN = missing) on design (samples x p), gene by gene."""
    y = np.asarray(expression, dtype=float)
    x = np.asarray(design, dtype=float)
    if y.ndim != 2 or y.shape[1] != x.shape[0]:
        raise GenoteamError(
            f"expression has shape {y.shape} but the design has {x.shape[0]} samples",
            "pass genes x samples with samples in the same order as the design rows",
        )
    _check_design(x, design_columns)
    genes, n = y.shape
    p = x.shape[1]
    coef = np.empty((genes, p))
    unscaled = np.empty((genes, p))
    rss = np.empty(genes)
    rank = np.full(genes, p)
    n_obs = np.full(genes, n)
    for start in range(0, genes, _CHUNK):
        block = slice(start, min(start + _CHUNK, genes))
        yb = y[block]
        mask = np.isfinite(yb)
        complete = mask.all(axis=1)
        idx = np.arange(block.start, block.stop)
        if complete.any():
            c, u, r = _fit_complete(yb[complete], x)
            coef[idx[complete]], unscaled[idx[complete]], rss[idx[complete]] = c, u, r
        if (~complete).any():
            c, u, r, k = _fit_masked(yb[~complete], mask[~complete], x)
            sel = idx[~complete]
            coef[sel], unscaled[sel], rss[sel], rank[sel] = c, u, r, k
            n_obs[sel] = mask[~complete].sum(axis=1)
    _exact_constant_genes(y, x, coef, rss)
    df_residual = (n_obs - rank).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.where(df_residual > 0, np.sqrt(rss / df_residual), np.nan)
    return LinearFit(coef, unscaled, sigma, df_residual, n_obs, list(design_columns))
