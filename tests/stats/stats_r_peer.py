"""Run R limma on the same data as our moderated t (the peer check of the statistics).

R and limma come from Debian (scripts/setup.d/10-system-packages.sh). In CI (CI=true) a missing
Rscript is a failure, elsewhere a skip, so the peer check is never silently absent in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

LIMMA_SCRIPT = r"""
suppressPackageStartupMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
y <- as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE))
design <- as.matrix(read.csv(args[2], row.names = 1, check.names = FALSE))
fit <- eBayes(lmFit(y, design))
k <- 2
out <- data.frame(gene = rownames(y), coefficient = fit$coefficients[, k], t = fit$t[, k],
                  p_value = fit$p.value[, k], df_total = fit$df.total, sigma = fit$sigma,
                  ord_t = fit$coefficients[, k] / fit$stdev.unscaled[, k] / fit$sigma)
write.csv(out, args[3], row.names = FALSE)
writeLines(c(format(fit$df.prior, digits = 17), format(fit$s2.prior, digits = 17),
             as.character(packageVersion("limma"))), args[4])
"""


def require_rscript() -> str:
    """Path of Rscript with limma, or skip (fail in CI) with the command that installs it."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        message = "Rscript is not installed; run `bash scripts/setup.sh` (installs r-bioc-limma)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return rscript


def run_limma(
    expression: pd.DataFrame, design: np.ndarray, columns: list[str], workdir: Path
) -> tuple[pd.DataFrame, dict]:
    """limma lmFit + eBayes on genes x samples `expression`; returns the per-gene table and prior."""
    rscript = require_rscript()
    expr_csv, design_csv = workdir / "expr.csv", workdir / "design.csv"
    out_csv, prior_txt, script = workdir / "limma.csv", workdir / "prior.txt", workdir / "limma.R"
    expression.to_csv(expr_csv, float_format="%.17g")
    pd.DataFrame(design, index=expression.columns, columns=columns).to_csv(design_csv, float_format="%.17g")
    script.write_text(LIMMA_SCRIPT)
    done = subprocess.run(
        [rscript, str(script), str(expr_csv), str(design_csv), str(out_csv), str(prior_txt)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        message = f"R limma failed: {done.stderr[-2000:]}"
        if IN_CI or "there is no package called" not in done.stderr:
            pytest.fail(message)
        pytest.skip(message)
    df_prior, s2_prior, version = prior_txt.read_text().split()
    return pd.read_csv(out_csv), {
        "df_prior": float(df_prior),
        "s2_prior": float(s2_prior),
        "version": version,
    }
