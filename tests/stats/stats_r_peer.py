"""Run R limma on the same data as our moderated t (the peer check of the statistics).

R and limma come from Debian (scripts/setup.d/10-system-packages.sh). In CI (CI=true) a missing
Rscript is a failure, elsewhere a skip, so the peer check is never silently absent in CI.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.prerequisites import skip_or_fail_in_ci

LIMMA_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "peers" / "limma_fit.R"


def require_rscript() -> str:
    """Path of Rscript with limma, or skip (fail in CI) with the command that installs it."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        skip_or_fail_in_ci("Rscript is not installed; run `bash scripts/setup.sh` (installs r-bioc-limma)")
    return rscript


def run_limma(
    expression: pd.DataFrame, design: np.ndarray, columns: list[str], workdir: Path
) -> tuple[pd.DataFrame, dict]:
    """limma lmFit + eBayes on genes x samples `expression`; returns the per-gene table and prior."""
    rscript = require_rscript()
    expr_csv, design_csv = workdir / "expr.csv", workdir / "design.csv"
    out_csv, prior_txt = workdir / "limma.csv", workdir / "prior.txt"
    expression.to_csv(expr_csv, float_format="%.17g")
    pd.DataFrame(design, index=expression.columns, columns=columns).to_csv(design_csv, float_format="%.17g")
    done = subprocess.run(
        [rscript, str(LIMMA_SCRIPT), str(expr_csv), str(design_csv), str(out_csv), str(prior_txt)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        message = f"R limma failed: {done.stderr[-2000:]}"
        if "there is no package called" in done.stderr:
            skip_or_fail_in_ci(f"{message} (apt-get install r-bioc-limma)")
        pytest.fail(message)
    df_prior, s2_prior, version = prior_txt.read_text().split()
    return pd.read_csv(out_csv), {
        "df_prior": float(df_prior),
        "s2_prior": float(s2_prior),
        "version": version,
    }


PEERS = LIMMA_SCRIPT.parent


def run_peer_script(name: str, args: list[str | Path], timeout: int = 600) -> None:
    """Run scripts/peers/<name> with Rscript; a missing Bioconductor package skips (fails in CI)."""
    rscript = require_rscript()
    done = subprocess.run(
        [rscript, str(PEERS / name), *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        message = f"R {name} failed: {done.stderr[-2000:]}"
        if "there is no package called" in done.stderr:
            skip_or_fail_in_ci(f"{message} (bash scripts/setup.sh installs the R peers)")
        pytest.fail(message)
