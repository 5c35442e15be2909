"""Plots every engine writes beside its result (one home, so both engines draw the same figure)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from genoteam.toolkit.layout import atomic_write_bytes

FDR = 0.05


def volcano_plot(table: pd.DataFrame, path: Path, title: str) -> Path | None:
    """Effect against -log10 p, genes with q < 0.05 highlighted; None when the table has no p-values."""
    if not {"coefficient", "p_value"} <= set(table.columns):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = table["p_value"].clip(lower=1e-300)
    significant = table["q_value"] < FDR if "q_value" in table else pd.Series(False, index=table.index)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    ax.scatter(
        table["coefficient"][~significant],
        -np.log10(p[~significant]),
        s=4,
        c="#9a9a9a",
        alpha=0.5,
        label="q >= 0.05",
        rasterized=True,
    )
    ax.scatter(
        table["coefficient"][significant],
        -np.log10(p[significant]),
        s=5,
        c="#c0392b",
        alpha=0.7,
        label=f"q < 0.05 ({int(significant.sum())})",
        rasterized=True,
    )
    top = table[significant].nsmallest(10, "p_value") if significant.any() else table.nsmallest(0, "p_value")
    for _, row in top.iterrows():
        ax.annotate(
            str(row["gene"]), (row["coefficient"], -np.log10(max(row["p_value"], 1e-300))), fontsize=6
        )
    ax.set_xlabel("coefficient of the trait (expression difference)")
    ax.set_ylabel("-log10 p")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())  # replaces whatever is at the name, never follows it
    return path
