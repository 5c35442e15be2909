"""The volcano plot: a PNG of the significant and other genes, also for degenerate tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genoteam.pipeline.plots import GREY, RED, SIZE, volcano_plot


def _table(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(1e-12, 1, n)
    return pd.DataFrame(
        {
            "gene": [f"G{i}" for i in range(n)],
            "coefficient": rng.normal(0, 2, n),
            "p_value": p,
            "q_value": p * 3,
        }
    )


def _colour_count(path: Path, colour: tuple) -> int:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    return int(np.all(pixels == colour, axis=2).sum())


def test_volcano_draws_both_groups(tmp_path: Path) -> None:
    table = _table(2000)
    path = volcano_plot(table, tmp_path / "volcano.png", "Trait: cohort, moderated t")
    assert path is not None and Image.open(path).size == SIZE
    assert _colour_count(path, RED) > 100 and _colour_count(path, GREY) > 100


def test_no_significant_gene_draws_no_red_dot(tmp_path: Path) -> None:
    table = _table(500).assign(q_value=0.9)
    path = volcano_plot(table, tmp_path / "v.png", "none")
    assert _colour_count(path, RED) == 49  # the legend's swatch only (7 x 7 pixels)


@pytest.mark.parametrize(
    "table",
    [
        _table(0),
        _table(1),
        _table(3).assign(p_value=np.nan, q_value=np.nan),
        _table(5).assign(coefficient=[np.inf, -np.inf, 0.0, 0.0, 0.0]),
        _table(4).assign(p_value=0.0, q_value=0.0),  # p = 0 is clipped, not -log10(0)
    ],
    ids=["empty", "one-gene", "no-p-values", "infinite-effects", "zero-p"],
)
def test_degenerate_tables_still_give_a_png(tmp_path: Path, table: pd.DataFrame) -> None:
    path = volcano_plot(table, tmp_path / "v.png", "edge")
    assert path is not None and path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_table_without_p_values_has_no_plot(tmp_path: Path) -> None:
    assert volcano_plot(_table(5).drop(columns=["p_value"]), tmp_path / "v.png", "x") is None
    assert not (tmp_path / "v.png").exists()
