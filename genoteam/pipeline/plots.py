"""Plots every engine writes beside its result (one home, so both engines draw the same figure).

Drawn with Pillow rather than matplotlib: a volcano plot needs points, two axes and some text,
and matplotlib's import and layout cost ~0.9 s CPU, a fifth of a whole reference run on CHOL
(benchmarks/RESULTS.md, speed-chol); Pillow's is ~0.05 s.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from genoteam.toolkit.layout import atomic_write_bytes

FDR = 0.05
SIZE = (660, 495)  # pixels: 6 x 4.5 inches at 110 dpi
PLOT = (62, 34, 648, 440)  # left, top, right, bottom of the data area
GREY, RED, INK, PAPER = (170, 170, 170), (192, 57, 43), (40, 40, 40), (255, 255, 255)


def volcano_plot(table: pd.DataFrame, path: Path, title: str) -> Path | None:
    """Effect against -log10 p, genes with q < 0.05 highlighted; None when the table has no p-values."""
    if not {"coefficient", "p_value"} <= set(table.columns):
        return None
    from PIL import Image, ImageDraw, ImageFont

    x = table["coefficient"].to_numpy(dtype=float)
    y = -np.log10(np.clip(table["p_value"].to_numpy(dtype=float), 1e-300, None))
    significant = (table["q_value"] < FDR).to_numpy() if "q_value" in table else np.zeros(len(x), bool)
    shown = np.isfinite(x) & np.isfinite(y)
    x_range = _padded(x[shown])
    y_range = (0.0, _padded(y[shown])[1])

    image = Image.new("RGB", SIZE, PAPER)
    pixels = np.asarray(image).copy()
    for mask, colour in ((shown & ~significant, GREY), (shown & significant, RED)):
        _dots(pixels, _to_pixels(x[mask], x_range, 0), _to_pixels(y[mask], y_range, 1), colour, 1)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    small, normal = ImageFont.load_default(size=10), ImageFont.load_default(size=12)
    left, top, right, bottom = PLOT
    draw.rectangle(PLOT, outline=INK)
    for value in _ticks(*x_range):
        px = int(_to_pixels(np.array([value]), x_range, 0)[0])
        draw.line([(px, bottom), (px, bottom + 4)], fill=INK)
        draw.text((px, bottom + 6), _label(value), font=small, fill=INK, anchor="mt")
    for value in _ticks(*y_range):
        py = int(_to_pixels(np.array([value]), y_range, 1)[0])
        draw.line([(left - 4, py), (left, py)], fill=INK)
        draw.text((left - 6, py), _label(value), font=small, fill=INK, anchor="rm")
    draw.text(
        ((left + right) // 2, SIZE[1] - 8),
        "coefficient of the trait (expression difference)",
        font=normal,
        fill=INK,
        anchor="md",
    )
    draw.text(((left + right) // 2, 8), title, font=normal, fill=INK, anchor="mt")
    y_title = Image.new("RGB", (160, 16), PAPER)
    ImageDraw.Draw(y_title).text((80, 8), "-log10 p", font=normal, fill=INK, anchor="mm")
    image.paste(y_title.rotate(90, expand=True), (4, (top + bottom) // 2 - 80))
    order = np.argsort(np.where(significant & shown, y, -np.inf))[::-1][
        : min(10, int((significant & shown).sum()))
    ]
    for i in order:
        px, py = _to_pixels(x[[i]], x_range, 0)[0], _to_pixels(y[[i]], y_range, 1)[0]
        draw.text((int(px) + 3, int(py) - 3), str(table["gene"].iloc[i]), font=small, fill=INK, anchor="ls")
    draw.rectangle((left + 8, top + 8, left + 14, top + 14), fill=GREY)
    draw.text((left + 20, top + 11), "q >= 0.05", font=small, fill=INK, anchor="lm")
    draw.rectangle((left + 8, top + 24, left + 14, top + 30), fill=RED)
    draw.text(
        (left + 20, top + 27), f"q < 0.05 ({int(significant.sum())})", font=small, fill=INK, anchor="lm"
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(110, 110))
    atomic_write_bytes(path, buffer.getvalue())  # replaces whatever is at the name, never follows it
    return path


def _padded(values: np.ndarray) -> tuple[float, float]:
    """The data range widened by 5% on each side (a unit range around a single value)."""
    if values.size == 0:
        return (-1.0, 1.0)
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return (low - 1.0, high + 1.0)
    pad = 0.05 * (high - low)
    return (low - pad, high + pad)


def _to_pixels(values: np.ndarray, span: tuple[float, float], axis: int) -> np.ndarray:
    """Data values to pixel positions along x (axis 0) or y (axis 1, upwards)."""
    left, top, right, bottom = PLOT
    share = (values - span[0]) / (span[1] - span[0])
    return left + share * (right - left) if axis == 0 else bottom - share * (bottom - top)


def _dots(pixels: np.ndarray, px: np.ndarray, py: np.ndarray, colour: tuple, radius: int) -> None:
    """Paint a small filled disc at every (px, py), clipped to the image."""
    cx, cy = np.rint(px).astype(int), np.rint(py).astype(int)
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            if dx * dx + dy * dy <= radius * radius + 1:
                xs, ys = cx + dx, cy + dy
                keep = (xs >= 0) & (xs < SIZE[0]) & (ys >= 0) & (ys < SIZE[1])
                pixels[ys[keep], xs[keep]] = colour


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values inside [low, high], about `count` of them (steps 1, 2 or 5 x 10^k)."""
    raw = (high - low) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) > 1e-12 else "0"
