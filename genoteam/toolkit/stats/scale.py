"""Put expression on a log2 scale before a linear model, when it is not there already.

GEO series are submitted either log-transformed or on the linear scale (MAS5 intensities, for
example GSE781). A linear model of linear-scale intensities is dominated by a few very bright
probes, so limma users log2 such data first. The rule is GEO2R's, which every GEO user knows:
the data are linear-scale when the 99th percentile exceeds 100, or when the range of the
quantiles is wide (99th - 0th > 50) with a positive 25th percentile. The decision is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ScaleDecision:
    transformed: bool
    reason: str


def needs_log2(values: np.ndarray) -> ScaleDecision:
    """GEO2R's rule on all finite values of a genes x samples block."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return ScaleDecision(False, "no finite values")
    q0, q25, q50, q75, q99, q100 = np.quantile(finite, [0.0, 0.25, 0.5, 0.75, 0.99, 1.0])
    linear = bool(q99 > 100 or (q100 - q0 > 50 and q25 > 0))
    quantiles = f"quantiles 0/25/50/75/99/100% = {q0:.3g}/{q25:.3g}/{q50:.3g}/{q75:.3g}/{q99:.3g}/{q100:.3g}"
    if linear:
        return ScaleDecision(True, f"linear-scale intensities ({quantiles}): log2 applied (GEO2R's rule)")
    return ScaleDecision(False, f"already log-scale ({quantiles}): used as is")


def log2_genes(linked: pd.DataFrame, genes: list[str]) -> tuple[pd.DataFrame, ScaleDecision]:
    """The linked table with its gene columns on log2 scale (values <= 0 become missing)."""
    block = linked[genes].to_numpy(dtype=float)
    decision = needs_log2(block)
    if not decision.transformed:
        return linked, decision
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.where(block > 0, np.log2(np.where(block > 0, block, 1.0)), np.nan)
    clinical = linked.drop(columns=genes)
    out = pd.concat([clinical, pd.DataFrame(logged, index=linked.index, columns=genes)], axis=1)
    return out, decision
