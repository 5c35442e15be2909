"""Cross-check our GEO reader against R GEOquery (Debian r-bioc-geoquery) on GSE781.

R reads the same family SOFT; the samples, their platform split, source names, every
expression value and the platform tables' gene symbols must agree. Takes about 25 s.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.prerequisites import skip_or_fail_in_ci

R_SCRIPT = r"""
suppressMessages(library(GEOquery))
args <- commandArgs(trailingOnly = TRUE)
gse <- getGEO(filename = args[1])
out <- args[2]
gsms <- GSMList(gse)
meta <- data.frame(
  gsm = names(gsms),
  platform = sapply(gsms, function(x) Meta(x)$platform_id),
  title = sapply(gsms, function(x) Meta(x)$title),
  source_name = sapply(gsms, function(x) Meta(x)$source_name_ch1),
  stringsAsFactors = FALSE)
write.table(meta, file.path(out, "samples.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
for (gpl in names(GPLList(gse))) {
  ids <- as.character(Table(GPLList(gse)[[gpl]])$ID)
  members <- meta$gsm[meta$platform == gpl]
  values <- sapply(members, function(g) {
    tab <- Table(gsms[[g]])
    as.numeric(as.character(tab$VALUE))[match(ids, as.character(tab$ID_REF))]
  })
  rownames(values) <- ids
  write.table(values, file.path(out, paste0(gpl, "_expression.tsv")), sep = "\t", quote = FALSE, col.names = NA)
  symbols <- data.frame(ID = ids, symbol = as.character(Table(GPLList(gse)[[gpl]])[["Gene Symbol"]]))
  write.table(symbols, file.path(out, paste0(gpl, "_symbols.tsv")), sep = "\t", quote = FALSE, row.names = FALSE)
}
"""


def _geoquery_available() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    done = subprocess.run(["Rscript", "-e", "library(GEOquery)"], capture_output=True, text=True, timeout=120)
    return None if done.returncode == 0 else "R package GEOquery is not installed"


@pytest.fixture(scope="module")
def geoquery_output(gse781_soft: Path, tmp_path_factory) -> Path:
    reason = _geoquery_available()
    if reason:
        skip_or_fail_in_ci(
            f"{reason} (apt-get install r-bioc-geoquery; scripts/setup.d/40-geo-peers.sh does)"
        )
    out = tmp_path_factory.mktemp("geoquery")
    script = out / "read_gse781.R"
    script.write_text(R_SCRIPT)
    done = subprocess.run(
        ["Rscript", str(script), str(gse781_soft), str(out)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.mark.r_peer
def test_samples_and_platform_split_match_geoquery(geoquery_output, gse781):
    theirs = pd.read_csv(geoquery_output / "samples.tsv", sep="\t", dtype=str).set_index("gsm")
    ours = pd.concat([p.samples for p in gse781.platforms.values()])
    assert sorted(ours.index) == sorted(theirs.index)
    assert len(theirs) == 34
    for gsm, row in theirs.iterrows():
        assert ours.loc[gsm, "platform_id"] == row["platform"]
        assert ours.loc[gsm, "title"] == row["title"]
        assert ours.loc[gsm, "source_name_ch1"] == row["source_name"]


@pytest.mark.r_peer
@pytest.mark.parametrize("platform", ["GPL96", "GPL97"])
def test_every_expression_value_matches_geoquery(geoquery_output, gse781, platform):
    theirs = pd.read_csv(geoquery_output / f"{platform}_expression.tsv", sep="\t", index_col=0)
    theirs.index = theirs.index.astype(str)
    ours = gse781.platforms[platform].expression
    assert list(ours.index) == list(theirs.index)  # same probes, in the platform table's order
    assert sorted(ours.columns) == sorted(theirs.columns)
    np.testing.assert_array_equal(ours[theirs.columns].to_numpy(), theirs.to_numpy())


@pytest.mark.r_peer
@pytest.mark.parametrize("platform", ["GPL96", "GPL97"])
def test_platform_symbols_match_geoquery(geoquery_output, gse781, platform):
    theirs = pd.read_csv(
        geoquery_output / f"{platform}_symbols.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    ours = gse781.platforms[platform].annotation["Gene Symbol"].fillna("")
    assert list(ours.index) == list(theirs["ID"])
    assert ours.tolist() == theirs["symbol"].tolist()
