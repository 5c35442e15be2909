"""R GEOquery (Debian r-bioc-geoquery) reads the synthetic GEO files as GEO files.

The series matrix must become an ExpressionSet with our samples, probes, values and
characteristics; the family SOFT must give the same sample tables and the platform table.
Takes about 15-30 s (R start-up dominates).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from genoteam.synthetic import SynthConfig, generate
from tests.prerequisites import skip_or_fail_in_ci

pytestmark = pytest.mark.r_peer

R_SCRIPT = r"""
suppressMessages(library(GEOquery))
args <- commandArgs(trailingOnly = TRUE)
out <- args[3]
eset <- getGEO(filename = args[1], getGPL = FALSE)
write.table(exprs(eset), file.path(out, "matrix_exprs.tsv"), sep = "\t", quote = FALSE, col.names = NA)
pd <- pData(eset)
write.table(pd[, c("geo_accession", "characteristics_ch1", "characteristics_ch1.1", "characteristics_ch1.2")],
            file.path(out, "matrix_pdata.tsv"), sep = "\t", quote = FALSE, col.names = NA)
gse <- getGEO(filename = args[2])
gsms <- GSMList(gse)
gpl <- GPLList(gse)[[1]]
ids <- as.character(Table(gpl)$ID)
values <- sapply(names(gsms), function(g) {
  tab <- Table(gsms[[g]])
  as.numeric(as.character(tab$VALUE))[match(ids, as.character(tab$ID_REF))]
})
rownames(values) <- ids
write.table(values, file.path(out, "soft_values.tsv"), sep = "\t", quote = FALSE, col.names = NA)
write.table(data.frame(ID = ids, symbol = as.character(Table(gpl)[["Gene Symbol"]])),
            file.path(out, "soft_platform.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
"""


def _geoquery_missing() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    done = subprocess.run(["Rscript", "-e", "library(GEOquery)"], capture_output=True, text=True, timeout=120)
    return None if done.returncode == 0 else "R package GEOquery is not installed"


def test_geoquery_reads_series_matrix_and_family_soft(tmp_path):
    reason = _geoquery_missing()
    if reason:
        skip_or_fail_in_ci(f"{reason} (scripts/setup.d/40-geo-peers.sh installs r-bioc-geoquery)")
    truth = generate(
        SynthConfig(n_genes=120, n_samples=12, seed=8, kind="geo", n_geo_cohorts=1), tmp_path / "syn"
    )
    cohort = truth["cohorts"][0]
    folder = tmp_path / "syn" / cohort["folder"]
    gse = cohort["cohort"]
    out = tmp_path / "r"
    out.mkdir()
    script = tmp_path / "read.R"
    script.write_text(R_SCRIPT)
    done = subprocess.run(
        [
            "Rscript",
            str(script),
            str(folder / f"{gse}_series_matrix.txt.gz"),
            str(folder / f"{gse}_family.soft.gz"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    ours = pd.read_csv(folder / f"{gse}_series_matrix.txt.gz", sep="\t", comment="!", index_col=0)
    r_matrix = pd.read_csv(out / "matrix_exprs.tsv", sep="\t", index_col=0)
    assert list(r_matrix.columns) == list(cohort["samples"]) and list(r_matrix.index) == list(ours.index)
    assert np.allclose(r_matrix.to_numpy(), ours.to_numpy())
    pdata = pd.read_csv(out / "matrix_pdata.tsv", sep="\t", index_col=0)
    for gsm, info in cohort["samples"].items():
        assert pdata.loc[gsm, "characteristics_ch1"] == (
            "disease state: tumor" if info["trait"] else "disease state: normal"
        )
        assert pdata.loc[gsm, "characteristics_ch1.2"] == f"gender: {'male' if info['male'] else 'female'}"

    r_soft = pd.read_csv(out / "soft_values.tsv", sep="\t", index_col=0)
    assert np.allclose(r_soft.loc[ours.index, ours.columns].to_numpy(), ours.to_numpy())
    platform = pd.read_csv(out / "soft_platform.tsv", sep="\t", keep_default_na=False)
    assert len(platform) == cohort["n_probes"]
    assert platform["symbol"].str.contains(" /// ").sum() == cohort["n_multi_gene_probes"]
