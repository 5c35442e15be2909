"""The fast CSV writer of toolkit.layout: exact round trip, repr's text, bounded blocks.

The oracle is the obvious writer (repr of every float), which the fast path must reproduce
byte for byte on expression-like values, and every float must read back exactly."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoteam.toolkit import layout
from genoteam.toolkit.stats.questions import PreprocessFolder


def _repr_csv(df: pd.DataFrame) -> str:
    """The plain way: one repr per float (what frame_to_csv wrote before the fast path)."""
    head = ",".join([df.index.name or "", *map(str, df.columns)])
    rows = [
        f"{label}," + ",".join(map(repr, row))
        for label, row in zip(df.index, df.to_numpy().tolist(), strict=True)
    ]
    return "\n".join([head, *rows]) + "\n"


def _expression_like(rng: np.random.Generator, shape: tuple[int, int]) -> pd.DataFrame:
    values = np.round(rng.normal(0.0, 3.0, shape), 4)  # Xena PANCAN writes 4 decimals
    values[0, :3] = [0.0, -0.0, 12.0]  # zeros (signed) and an integer-valued float
    values[1, :4] = [1e-4, -123456.5, 0.1 + 0.2, 1.0 / 3.0]  # repr needs 17 digits: 1/3, 0.1+0.2
    values[2, :2] = [np.nan, 5.0]  # values orjson writes otherwise are patched with repr's text
    values[3, :2] = [np.inf, -np.inf]
    values[4, :3] = [1e-4, -9999999.5, 7.0]
    values[5, :2] = [1e-05, 2.5]  # repr writes 1e-05, orjson 0.00001: that value is patched
    values[6, :2] = [1e16, -3.0]  # repr 1e+16, orjson 1e16
    values[7, :3] = [9999999999999998.0, -1e-4, 123456789.12345679]  # the ends of orjson's path
    values[8] = np.round(rng.normal(8.0, 2.0, shape[1]), 11)  # real files: ~12 significant digits
    frame = pd.DataFrame(
        values,
        index=[f"S{i}" for i in range(shape[0])],
        columns=[f"G{j}" for j in range(shape[1])],
    )
    frame.index.name = "Gene"
    return frame


def test_fast_writer_gives_repr_text_and_exact_floats() -> None:
    frame = _expression_like(np.random.default_rng(3), (40, 25))
    block = np.ascontiguousarray(frame.to_numpy())
    fast = layout._fast_rows(block)
    assert fast == [",".join(map(repr, row)) for row in block.tolist()]  # rows 2, 3, 5, 6 patched
    text = layout.frame_to_csv(frame)
    assert text == _repr_csv(frame)
    back = pd.read_csv(io.StringIO(text), index_col=0)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert np.signbit(back.iloc[0, 1]) and not np.signbit(back.iloc[0, 0])


def test_every_float_round_trips_whatever_its_digits() -> None:
    rng = np.random.default_rng(7)
    raw = rng.normal(0.0, 1.0, (60, 30)) * 10.0 ** rng.integers(-6, 9, (60, 30))
    digits = rng.integers(0, 13, raw.shape)  # 12 means not rounded at all
    values = raw.copy()
    for d in range(12):
        values[digits == d] = np.round(raw[digits == d], d)
    frame = pd.DataFrame(values, columns=[f"c{j}" for j in range(30)])
    back = pd.read_csv(io.StringIO(layout.frame_to_csv(frame)), index_col=0)
    back.index = frame.index
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_blocks_do_not_change_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _expression_like(np.random.default_rng(5), (50, 20))
    whole = layout.frame_to_csv(frame)
    monkeypatch.setattr(layout, "CSV_BLOCK_VALUES", 45)  # 2 rows per block
    parts = list(layout.csv_parts(frame))
    assert len(parts) == 1 + 25
    assert "".join(parts) == whole


def test_streamed_write_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old complete content")

    def broken():
        yield b"a,b\n"
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        layout.atomic_write_chunks(target, broken())
    assert target.read_text() == "old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    frame = _expression_like(np.random.default_rng(9), (10, 5))
    layout.atomic_write_csv(target, frame)
    assert target.read_text() == _repr_csv(frame)


def test_linked_table_in_memory_equals_its_csv_read_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    linked = pd.DataFrame(
        np.round(rng.normal(6.0, 2.0, (30, 40)), 11),
        index=[f"GSM{i}" for i in range(30)],
        columns=["Trait", "Age", "Gender", *[f"G{j}" for j in range(37)]],
    )
    linked["Trait"] = rng.integers(0, 2, 30).astype(float)
    linked.iloc[3, 5] = 1e-05  # a value written through repr
    layout.write_linked_data(tmp_path, "Trait", "GSE1", linked)
    root = tmp_path / "preprocess"
    from_disk = PreprocessFolder(root).load("Trait", "GSE1")
    in_memory = PreprocessFolder(root, {("Trait", "GSE1"): linked})
    (root / "Trait" / "GSE1.csv").unlink()  # the in-memory table must not need the file
    pd.testing.assert_frame_equal(
        in_memory.load("Trait", "GSE1"), from_disk, check_exact=True, check_names=False
    )
