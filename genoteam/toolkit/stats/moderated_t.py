"""Empirical-Bayes variance moderation and the moderated t, as limma's eBayes does it.

The functions follow limma 3.54 (Debian bookworm's r-bioc-limma) step by step: fitFDist
estimates the prior degrees of freedom d0 and scale s0^2 from log sample variances by moments,
inverting the trigamma function with limma's Newton iteration; squeezeVar shrinks each gene's
variance towards s0^2; the moderated t uses d_residual + d0 degrees of freedom, capped at the
pooled residual df. Tests compare t and p with R limma to 1e-6 relative.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special  # not scipy.stats: ~1 s to import for t.sf, chi2.sf, norm.sf

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats.linear_model import LinearFit


def trigamma_inverse(x: np.ndarray | float) -> np.ndarray:
    """Solve trigamma(y) = x for y (limma's trigammaInverse, same starts, tolerance and limits)."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.full(x.shape, np.nan)
    ok = np.isfinite(x) & (x >= 0)
    large = ok & (x > 1e7)
    small = ok & (x < 1e-6)
    mid = ok & ~large & ~small
    y[large] = 1.0 / np.sqrt(x[large])
    y[small] = 1.0 / x[small]
    if mid.any():
        xm = x[mid]
        ym = 0.5 + 1.0 / xm
        for _ in range(51):
            tri = special.polygamma(1, ym)
            dif = tri * (1.0 - tri / xm) / special.polygamma(2, ym)
            ym = ym + dif
            if np.max(-dif / ym) < 1e-8:
                break
        else:
            warnings.warn("trigamma_inverse: iteration limit exceeded", RuntimeWarning, stacklevel=2)
        y[mid] = ym
    return y


@dataclass
class FDistFit:
    """The prior of the variances: scale s0^2 and degrees of freedom d0 (may be inf)."""

    scale: float
    df2: float


def fit_f_dist(x: np.ndarray, df1: np.ndarray) -> FDistFit:
    """Moment estimate of a scaled F distribution for variances x with df1 (limma's fitFDist)."""
    x = np.asarray(x, dtype=float)
    df1 = np.broadcast_to(np.asarray(df1, dtype=float), x.shape)
    n = x.size
    if n == 0:
        return FDistFit(np.nan, np.nan)
    if n == 1:
        return FDistFit(float(x[0]), 0.0)
    ok = np.isfinite(df1) & (df1 > 1e-15) & np.isfinite(x) & (x > -1e-15)
    nok = int(ok.sum())
    if nok == 0:
        return FDistFit(np.nan, np.nan)
    if nok == 1:
        return FDistFit(float(x[ok][0]), 0.0)
    x, df1 = np.maximum(x[ok], 0.0), df1[ok]
    m = float(np.median(x))
    if m == 0:
        warnings.warn(
            "more than half of residual variances are exactly zero: eBayes unreliable", stacklevel=2
        )
        m = 1.0
    x = np.maximum(x, 1e-5 * m)
    e = np.log(x) - special.digamma(df1 / 2) + np.log(df1 / 2)
    emean = float(np.mean(e))
    evar = float(np.sum((e - emean) ** 2) / (nok - 1)) - float(np.mean(special.polygamma(1, df1 / 2)))
    if evar > 0:
        df2 = float(2 * trigamma_inverse(evar)[0])
        s20 = float(np.exp(emean + special.digamma(df2 / 2) - np.log(df2 / 2)))
    else:
        df2 = np.inf
        s20 = float(np.mean(x))
    return FDistFit(s20, df2)


@dataclass
class SqueezedVar:
    df_prior: float
    var_prior: float
    var_post: np.ndarray


def squeeze_var(var: np.ndarray, df: np.ndarray) -> SqueezedVar:
    """Posterior variances shrunk towards the fitted prior (limma's squeezeVar, robust=FALSE)."""
    var = np.array(var, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), var.shape)
    if var.size == 0:
        raise GenoteamError("no variances to moderate", "the expression table has no genes")
    if var.size == 1:
        return SqueezedVar(0.0, float(var[0]), var)
    var[df == 0] = 0.0
    prior = fit_f_dist(var, df)
    if np.isnan(prior.df2):
        raise GenoteamError("could not estimate the prior degrees of freedom", "too few genes with variance")
    if np.isfinite(prior.df2):
        post = (df * var + prior.df2 * prior.scale) / (df + prior.df2)
    else:
        post = np.full(var.shape, prior.scale)
    return SqueezedVar(prior.df2, prior.scale, post)


@dataclass
class ModeratedT:
    """eBayes output for one coefficient: t, p and the pieces needed to explain them."""

    t: np.ndarray
    p_value: np.ndarray
    df_total: np.ndarray
    s2_post: np.ndarray
    s2_prior: float
    df_prior: float


def ebayes(fit: LinearFit, coefficient: int) -> ModeratedT:
    """Moderated t for design column `coefficient`, exactly as limma's eBayes (trend=FALSE)."""
    if np.nanmax(fit.df_residual) == 0:
        raise GenoteamError("no residual degrees of freedom in the linear model fits", "add samples")
    if not np.isfinite(fit.sigma).any():
        raise GenoteamError("no finite residual standard deviations", "check the expression values")
    squeezed = squeeze_var(fit.sigma**2, fit.df_residual)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = fit.coefficients[:, coefficient] / fit.stdev_unscaled[:, coefficient] / np.sqrt(squeezed.var_post)
    df_total = np.minimum(fit.df_residual + squeezed.df_prior, np.nansum(fit.df_residual))
    p = 2 * special.stdtr(df_total, -np.abs(t))
    return ModeratedT(t, p, df_total, squeezed.var_post, squeezed.var_prior, squeezed.df_prior)


def ordinary_t(fit: LinearFit, coefficient: int) -> tuple[np.ndarray, np.ndarray]:
    """Unmoderated per-gene t and p (what statsmodels OLS reports for the same coefficient)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        t = fit.coefficients[:, coefficient] / (fit.stdev_unscaled[:, coefficient] * fit.sigma)
        p = 2 * special.stdtr(fit.df_residual, -np.abs(t))
    return t, p
