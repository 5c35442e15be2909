"""Benjamini-Hochberg adjusted p-values (q-values), as R's p.adjust(method="BH").

Missing p-values stay missing and do not count towards the number of tests, as in R.
"""

from __future__ import annotations

import numpy as np


def bh_adjust(p_values: np.ndarray) -> np.ndarray:
    """BH step-up adjustment of `p_values`; NaN entries are left NaN and not counted."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    m = int(finite.sum())
    if m == 0:
        return q
    pf = p[finite]
    order = np.argsort(pf, kind="mergesort")[::-1]  # largest first
    ranks = np.arange(m, 0, -1)
    adjusted = np.minimum.accumulate(pf[order] * m / ranks)
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    q[finite] = out
    return q
