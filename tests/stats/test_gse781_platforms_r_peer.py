"""GSE781 with both platforms (HG-U133A + B on the same 17 specimens, one cohort) against R
limma on the same linked table: the same statistics, CA9 and NDUFA4L2 still significant, and
genes that only HG-U133B measures significant too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.reference import run_reference
from genoteam.toolkit.gene_mapping import gene_table
from genoteam.toolkit.geo import read_geo_cohort
from genoteam.toolkit.layout import read_linked_data
from genoteam.toolkit.stats import moderated_t_test
from genoteam.toolkit.stats.design import build_design, gene_columns
from tests.stats.stats_r_peer import run_limma

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.mark.r_peer
def test_combined_gse781_matches_limma_and_answers_gpl97_only_genes(shared_input: Path, tmp_path: Path):
    request = AnalysisRequest(trait=TRAIT, cohorts=["GSE781"])
    result = run_reference(request, shared_input, tmp_path / "out", stage="preprocess")
    assert [o.cohort for o in result.cohorts if o.usable] == ["GSE781"]
    linked = read_linked_data(tmp_path / "out", TRAIT, "GSE781")
    design = build_design(linked, TRAIT)
    expression = linked.loc[design.samples, gene_columns(linked, TRAIT)].T
    ours = moderated_t_test(linked, TRAIT).set_index("gene")
    theirs, prior = run_limma(expression, design.matrix, design.columns, tmp_path)
    theirs = theirs.set_index("gene").loc[ours.index]
    np.testing.assert_allclose(ours["t"], theirs["t"], rtol=1e-6, atol=1e-9)
    assert ours.attrs["moderated_t"]["df_prior"] == pytest.approx(prior["df_prior"], rel=1e-6)
    tested = theirs["p_value"].dropna()
    adjusted = false_discovery_control(tested.to_numpy(), method="bh")  # BH, as limma's topTable
    significant = set(tested.index[adjusted < 0.05])
    assert {"CA9", "NDUFA4L2"} <= significant  # FINDINGS: canonical clear-cell markers
    series = read_geo_cohort(shared_input / "GEO" / TRAIT / "GSE781")
    measured = {
        pid: set(gene_table(d.expression, d.annotation)[0].index) for pid, d in series.platforms.items()
    }
    only_gpl97 = measured["GPL97"] - measured["GPL96"]
    assert len(significant & only_gpl97) > 100  # answered only because the platforms are one cohort
