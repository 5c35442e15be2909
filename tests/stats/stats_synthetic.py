"""Small linked cohort tables with planted trait genes, for the GenoTEX-procedure tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def linked_table(
    n: int = 100,
    genes: int = 300,
    planted: int = 10,
    seed: int = 0,
    binary: bool = True,
    effect: float = 1.2,
    prefix: str = "G",
    batches: int = 0,
) -> pd.DataFrame:
    """Trait, Age, Gender, then genes; genes 0..planted-1 shift with the trait. With `batches`,
    every gene gets a strong per-batch offset (what GenoTEX's batch-effect test looks for)."""
    rng = np.random.default_rng(seed)
    trait = rng.integers(0, 2, n).astype(float) if binary else rng.normal(0, 1, n)
    expr = rng.normal(0, 1, (n, genes))
    expr[:, :planted] += effect * (trait[:, None] - trait.mean())
    if batches:
        batch = rng.integers(0, batches, n)
        expr += rng.normal(0, 6, (batches, genes))[batch]
    table = pd.DataFrame(
        expr, columns=[f"{prefix}{i}" for i in range(genes)], index=[f"S{seed}_{i}" for i in range(n)]
    )
    table.insert(0, "Gender", rng.integers(0, 2, n).astype(float))
    table.insert(0, "Age", rng.normal(55, 10, n).round())
    table.insert(0, "Trait", trait)
    return table
