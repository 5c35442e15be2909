import numpy as np
import pandas as pd

from genoteam.toolkit.stats.questions import moderated_t_result
from genoteam.toolkit.stats.scale import log2_genes, needs_log2


def _linked(values: np.ndarray) -> pd.DataFrame:
    n = values.shape[0]
    table = pd.DataFrame(values, columns=[f"G{i}" for i in range(values.shape[1])])
    table.insert(0, "Trait", np.arange(n) % 2)
    return table


def test_linear_intensities_are_logged_and_log_data_are_not():
    rng = np.random.default_rng(0)
    linear = rng.lognormal(mean=7, sigma=1.5, size=(20, 50))  # MAS5-like: median ~1000
    assert needs_log2(linear).transformed
    assert not needs_log2(np.log2(linear)).transformed
    out, decision = log2_genes(_linked(linear), [f"G{i}" for i in range(50)])
    assert decision.transformed and "log2 applied" in decision.reason
    assert np.allclose(out["G3"].to_numpy(), np.log2(linear[:, 3]))
    assert (out["Trait"] == np.arange(20) % 2).all()


def test_non_positive_intensities_become_missing_not_minus_infinity():
    values = np.full((6, 3), 500.0)
    values[0, 0] = 0.0
    values[1, 1] = -3.0
    out, decision = log2_genes(_linked(values), ["G0", "G1", "G2"])
    assert decision.transformed
    assert np.isnan(out.loc[0, "G0"]) and np.isnan(out.loc[1, "G1"]) and np.isfinite(out["G2"]).all()


def test_moderated_t_result_records_the_scale_decision():
    rng = np.random.default_rng(1)
    values = rng.lognormal(mean=7, sigma=0.3, size=(30, 40))
    values[1::2, 0] *= 8  # gene G0 up 8-fold in the trait group: log2 fold change 3
    result = moderated_t_result(_linked(values), "Trait", covariates=(), cv=False)
    assert "log2 applied" in result.details["expression_scale"]
    top = result.significant.iloc[0]
    assert top["Variable"] == "G0" and abs(top["Coefficient"] - 3.0) < 0.5
