"""The models inside GenoTEX's regression procedure, re-implemented to behave exactly like it.

GenoTEX (tools/statistics.py of the GenoTEX benchmark) standardises features with training-set
statistics, tests for a batch effect from the eigenvalue gaps of X X^T, and then fits either a
Lasso or the `sparse_lmm` package's LMM: a kinship K = X X^T, a null-model variance ratio found
by grid search and Brent refinement, the features rotated by (S + delta)^(-1/2) U^T, and a Lasso
on the rotated features against the *unrotated* trait. That last detail (and prediction with
unrotated features) is what the original does, so it is kept here on purpose. A condition enters
by residualising the trait on [1, condition] before the penalised fit.
"""

from __future__ import annotations

import warnings

import numpy as np


def normalize(train: np.ndarray, test: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Centre and scale by the training mean and population SD; constant columns are not scaled."""
    mean = np.mean(train, axis=0)
    std = np.std(train, axis=0)
    std = np.where(std == 0, 1.0, std)
    return (train - mean) / std, (None if test is None else (test - mean) / std)


def detect_batch_effect(x: np.ndarray) -> bool:
    """GenoTEX's batch-effect test: a gap > 200/n between consecutive normalised top-10
    eigenvalues of the centred X X^T. With n <= 200 samples it can never fire (gaps are <= 1)."""
    n = x.shape[0]
    centred = x - x.mean(axis=0)
    eigen = np.sort(np.linalg.eigvalsh(centred @ centred.T))[::-1][:10]
    if eigen[0] <= 0:
        return False
    gaps = -np.diff(eigen / eigen[0])
    return bool(np.any(gaps > 200 / n))


def _null_nll(log_delta: float, uy: np.ndarray, s: np.ndarray) -> float:
    """Negative log likelihood of y ~ N(0, sigma^2 (K + delta I)) in the eigenbasis of K.

    The operations keep the original's order (1/(S+delta) first, then the sum scaled by 1/n):
    Brent stops at a rounding-dependent point, and the same point is wanted."""
    n = uy.shape[0]
    sd = s + np.exp(log_delta)
    ldet = np.sum(np.log(sd))
    ss = 1.0 / n * (uy * uy * (1.0 / sd)).sum()
    return 0.5 * (n * np.log(2.0 * np.pi) + ldet + n + n * np.log(ss))


def fit_log_delta(
    uy: np.ndarray, s: np.ndarray, intervals: int = 500, low: float = -5.0, high: float = 5.0
) -> float:
    """Grid search of log(delta) on [low, high], then Brent on every interior local minimum."""
    from scipy import optimize  # imported when used: the per-gene method never needs it

    uy = np.ravel(uy)
    grid = np.arange(intervals + 1) / intervals * (high - low) + low
    nll = np.array([_null_nll(v, uy, s) for v in grid])
    best_nll, best = float(nll.min()), float(grid[nll.argmin()])
    for i in range(1, intervals):
        if nll[i] < nll[i - 1] and nll[i] < nll[i + 1]:
            value, value_nll, _, _ = optimize.brent(
                _null_nll, (uy, s), (grid[i - 1], grid[i], grid[i + 1]), full_output=True
            )
            if value_nll < best_nll:
                best_nll, best = float(value_nll), float(value)
    return best


def _lasso_fit(features: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float, int]:
    """sklearn's Lasso with GenoTEX's defaults (y as a column, as the original passes it), and
    the coordinate-descent sweeps it ran (the result's solver iteration count)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lasso = Lasso(alpha=alpha).fit(features, y.reshape(-1, 1))
    return np.ravel(lasso.coef_), float(np.ravel(lasso.intercept_)[0]), int(np.max(lasso.n_iter_))


def lmm_rotation(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The LMM's penalty-independent part: kinship K = X X^T, its eigendecomposition, the null
    model's log variance ratio and the rotated features (S + delta)^(-1/2) U^T X."""
    from scipy import linalg

    y = y.reshape(-1, 1)
    # np.dot and scipy's eigh, as the original: same rounding, same eigenvectors
    s, u = linalg.eigh(np.dot(x, x.T))
    log_delta = fit_log_delta(np.dot(u.T, y), s)
    # sqrt(1 / (S + delta)), in this order: the Lasso is not run to convergence at small
    # penalties, so the same rounding as the original is needed for the same answer
    return np.dot(u.T, x) * np.sqrt(1.0 / (s + np.exp(log_delta)))[:, None], log_delta


class KinshipLMM:
    """sparse_lmm.LMM(modified=True) as GenoTEX uses it: parameter `lamda` is the Lasso alpha."""

    def __init__(self, lamda: float = 0.1) -> None:
        self.lamda = lamda
        self.coef_: np.ndarray | None = None
        self.intercept_: float = 0.0
        self.log_delta: float | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> KinshipLMM:
        rotated, self.log_delta = lmm_rotation(x, y)
        self.coef_, self.intercept_, _ = _lasso_fit(rotated, y, self.lamda)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef_ + self.intercept_


class PenalisedFit:
    """One fitted model of GenoTEX's ResidualizationRegressor: the penalised fit of the (residual)
    trait, plus the least-squares coefficients of [1, Z] when there is a condition."""

    def __init__(
        self, coef: np.ndarray, intercept: float, beta_z: np.ndarray | None, n_iter: int = 0
    ) -> None:
        self.coef, self.intercept, self.beta_z, self.n_iter = coef, intercept, beta_z, n_iter

    def predict(self, x: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        pred = x @ self.coef + self.intercept  # unrotated features, as the original predicts
        if z is not None and self.beta_z is not None:
            z1 = np.column_stack([np.ones(len(z)), z.reshape(len(z), -1)])
            pred = pred + z1 @ self.beta_z.ravel()
        return pred

    @property
    def gene_coefficients(self) -> np.ndarray:
        return np.asarray(self.coef)

    @property
    def condition_coefficients(self) -> np.ndarray:
        return np.array([]) if self.beta_z is None else self.beta_z[1:].ravel()


class PreparedFit:
    """GenoTEX's ResidualizationRegressor around a Lasso ('lasso') or the kinship LMM ('lmm'),
    with everything that does not depend on the penalty done once: the residualisation of the
    trait on [1, Z] and, for the LMM, the kinship eigendecomposition, variance ratio and
    rotation. GenoTEX redoes them for each of its 7 penalties; the fits are the same."""

    def __init__(self, kind: str, x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> None:
        y = y.reshape(-1, 1).astype(float)
        self.beta_z: np.ndarray | None = None
        if z is not None:
            z1 = np.column_stack([np.ones(len(z)), z.reshape(len(z), -1)])
            self.beta_z = np.linalg.pinv(z1.T @ z1) @ z1.T @ y
            y = y - z1 @ self.beta_z
        self.y = y
        self.log_delta: float | None = None
        if kind == "lmm":
            self.features, self.log_delta = lmm_rotation(x, y)
        else:
            self.features = x

    def fit(self, penalty: float) -> PenalisedFit:
        """The fit at one penalty (GenoTEX's `lamda` for the LMM, `alpha` for the Lasso)."""
        coef, intercept, n_iter = _lasso_fit(self.features, self.y, penalty)
        return PenalisedFit(coef, intercept, self.beta_z, n_iter)
