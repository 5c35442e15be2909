"""Averaging rows that normalise to the same symbol: the fast path against groupby().mean().

The oracle is the obvious implementation of GenoTEX's rule (rename, then groupby(level=0).mean()
of everything); normalize_gene_symbols only groups the repeated names, and must give the same
table. GenoTEX's policy is the one that merges most, so it exercises the averaging."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genoteam.toolkit.symbols import load_symbol_table, normalize_gene_symbols

# aliases and current symbols: P53/TP53, HER2/ERBB2, SEPT9/SEPTIN9 collide; FOO_UNKNOWN is dropped
NAMES = ["ZZZ3", "P53", "HER2", "TP53", "FOO_UNKNOWN", "SEPT9", "ERBB2", "A1BG", "SEPTIN9", "HER2"]


def _oracle(df: pd.DataFrame) -> pd.DataFrame:
    table = load_symbol_table()
    resolved = [table.resolve(str(n)) for n in df.index]
    known = np.array([r is not None for r in resolved])
    kept = df.iloc[known]
    kept.index = pd.Index([r for r in resolved if r is not None], name=df.index.name or "Gene")
    return kept.groupby(level=0, sort=True).mean()


def _frame(dtype: type) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    values = rng.integers(-50, 50, (len(NAMES), 6)).astype(dtype)
    frame = pd.DataFrame(values, index=pd.Index(NAMES, name="Gene"), columns=[f"S{i}" for i in range(6)])
    if dtype is float:
        frame.iloc[1, 2] = np.nan  # P53 missing in S2: the TP53 mean skips it
        frame = frame / 7.0  # values whose means are not exact
    return frame


def test_float_table_matches_groupby_and_leaves_the_input_alone() -> None:
    frame = _frame(float)
    before = frame.copy()
    out, report = normalize_gene_symbols(frame, policy="genotex")
    expected = _oracle(frame)
    pd.testing.assert_frame_equal(out, expected, check_exact=False, rtol=1e-14)
    assert list(out.index) == ["A1BG", "ERBB2", "SEPTIN9", "TP53", "ZZZ3"]
    assert out.loc["TP53", "S2"] == frame.loc["TP53", "S2"]  # NaN skipped, not averaged in
    assert np.isclose(out.loc["ERBB2", "S0"], frame.iloc[[2, 6, 9], 0].mean(), rtol=1e-14)
    assert (report.genes_out, report.rows_merged, report.rows_dropped_unknown) == (5, 4, 1)
    pd.testing.assert_frame_equal(frame, before)


def test_non_float_table_keeps_groupby() -> None:
    frame = _frame(int)
    out, _ = normalize_gene_symbols(frame, policy="genotex")
    pd.testing.assert_frame_equal(out, _oracle(frame))
    assert out.dtypes.unique().tolist() == [np.dtype(float)]  # means of integers are floats


def test_no_known_symbol_gives_an_empty_table() -> None:
    frame = pd.DataFrame({"S1": [1.0, 2.0]}, index=pd.Index(["FOO_UNKNOWN", "BAR_UNKNOWN"], name="Gene"))
    out, report = normalize_gene_symbols(frame, policy="genotex")
    assert out.empty and report.rows_dropped_unknown == 2
