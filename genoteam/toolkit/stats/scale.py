"""Put expression on a log2 scale, once, deciding on the measured (probe-level) values.

GEO series are submitted either log-transformed or on the linear scale (MAS5 intensities, for
example GSE781). A linear model of linear-scale intensities is dominated by a few very bright
probes, so limma users log2 such data first. The rule is GEO2R's, which every GEO user knows:
the data are linear-scale when the 99th percentile exceeds 100, or when the range of the
quantiles is wide (99th - 0th > 50) with a positive 25th percentile.

Why on the measured values: after probes are collapsed to genes (GenoTEX sums them) the values
are no longer what the instrument measured, and summed log2 values look linear (6 GAPDH probes
add up to 73.5), so a decision there logs data twice. Preprocessing decides once, on the probe
(or row) values, before any collapse, and records the decision (`ScaleDecision.record`); the
statistics then never transform a cohort whose record says the scale was decided. Only a linked
table without such a record (made elsewhere) is judged at gene level, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LOG2_APPLIED = "log2 applied"
ALREADY_LOG = "already log-scale"


@dataclass(frozen=True)
class ScaleDecision:
    transformed: bool
    reason: str
    level: str = "measured"  # what the rule looked at: "measured" rows (probes or genes as read) or "gene"

    def record(self) -> dict:
        """The cohort record's `scale` entry: the statistics read it and never log2 again."""
        return {"decided_at": self.level, "log2_applied": self.transformed, "reason": self.reason}


def needs_log2(values: np.ndarray, level: str = "measured") -> ScaleDecision:
    """GEO2R's rule on all finite values of a block (rows x samples or samples x genes)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return ScaleDecision(False, "no finite values", level)
    q0, q25, q50, q75, q99, q100 = np.quantile(finite, [0.0, 0.25, 0.5, 0.75, 0.99, 1.0])
    linear = bool(q99 > 100 or (q100 - q0 > 50 and q25 > 0))
    quantiles = f"quantiles 0/25/50/75/99/100% = {q0:.3g}/{q25:.3g}/{q50:.3g}/{q75:.3g}/{q99:.3g}/{q100:.3g}"
    where = "measured values (before any collapse)" if level == "measured" else f"{level}-level values"
    if linear:
        return ScaleDecision(
            True, f"linear-scale {where} ({quantiles}): {LOG2_APPLIED} (GEO2R's rule)", level
        )
    return ScaleDecision(False, f"{ALREADY_LOG} {where} ({quantiles}): used as is", level)


def _log2(block: np.ndarray) -> np.ndarray:
    """log2 of positive values; values <= 0 become missing (no -inf in a linear model)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(block > 0, np.log2(np.where(block > 0, block, 1.0)), np.nan)


def to_log2_scale(measured: pd.DataFrame) -> tuple[pd.DataFrame, ScaleDecision]:
    """Measured rows (probes or genes) x samples on log2 scale, decided on these values."""
    block = measured.to_numpy(dtype=float)
    decision = needs_log2(block, "measured")
    if not decision.transformed:
        return measured, decision
    return pd.DataFrame(_log2(block), index=measured.index, columns=measured.columns), decision


def log2_genes(
    linked: pd.DataFrame, genes: list[str], recorded: dict | None = None
) -> tuple[pd.DataFrame, ScaleDecision]:
    """The linked table with its gene columns on log2 scale.

    With `recorded` (the cohort record's `scale`), the decision made in preprocessing stands and
    nothing is transformed again; without it, GEO2R's rule is applied to the gene values."""
    if recorded:
        reason = f"decided in preprocessing on the {recorded.get('decided_at', 'measured')} values: "
        return linked, ScaleDecision(False, reason + str(recorded.get("reason", "")), "record")
    block = linked[genes].to_numpy(dtype=float)
    decision = needs_log2(block, "gene")
    if not decision.transformed:
        return linked, decision
    clinical = linked.drop(columns=genes)
    logged = pd.DataFrame(_log2(block), index=linked.index, columns=genes)
    note = " (no preprocessing record: judged on gene-level values)"
    return pd.concat([clinical, logged], axis=1), ScaleDecision(True, decision.reason + note, "gene")
