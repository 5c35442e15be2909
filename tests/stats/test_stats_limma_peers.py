"""The whole default path (reference pipeline from the raw files) against R limma doing the
analyst's preprocessing itself: TCGA CHOL from the raw Xena file, a GEO series on log2 scale, and
a series with a planted batch shift. R reads the same input files (GEOquery for the SOFT)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.reference import run_reference
from genoteam.toolkit import layout
from genoteam.toolkit.geo import read_geo
from genoteam.toolkit.stats.association import moderated_t_test
from genoteam.toolkit.symbols import load_symbol_table
from tests.stats.soft_series import write_family_soft
from tests.stats.stats_r_peer import run_peer_script

CHOL = "TCGA/TCGA_Bile_Duct_Cancer_(CHOL)"
GEO_TRAIT = "Kidney_Clear_Cell_Carcinoma"


def _answer(output: Path, trait: str) -> tuple[dict, pd.DataFrame]:
    answer = layout.read_significant_genes(output, trait, None)
    table = pd.read_csv(layout.OutputLayout(output).association_table_path(trait, None))
    return answer, table


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


@pytest.mark.r_peer
def test_chol_from_the_raw_xena_file_agrees_with_limma(shared_input: Path, tmp_path: Path) -> None:
    request = AnalysisRequest(trait="Bile_Duct_Cancer", cohorts=["TCGA_CHOL"])
    result = run_reference(request, shared_input, tmp_path / "out")
    assert result.status == "complete", result.message
    assert result.coefficient_unit == "log2 fold change (Bile_Duct_Cancer = 1 vs 0)"
    assert result.comparison.startswith("tumour vs normal tissue")
    answer, table = _answer(tmp_path / "out", "Bile_Duct_Cancer")
    assert answer["coefficient_unit"] == result.coefficient_unit
    assert answer["details"]["comparison"] == result.comparison
    record = layout.read_cohort_record(tmp_path / "out", "Bile_Duct_Cancer", result.selected_cohorts[0])
    assert record["symbols"]["policy"] == "analyst" and record["symbols"]["dropped"]["AGPAT9"]
    folder = shared_input / CHOL
    run_peer_script(
        "limma_tcga_raw.R",
        [
            folder / "TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz",
            folder / "TCGA.CHOL.sampleMap_CHOL_clinicalMatrix",
            tmp_path / "limma.csv",
            tmp_path / "prior.txt",
        ],
    )
    theirs = pd.read_csv(tmp_path / "limma.csv")
    d0, n_genes = (tmp_path / "prior.txt").read_text().split()
    assert int(n_genes) == len(table)  # the same genes after symbols and the constant-gene filter
    assert answer["details"]["df_prior"] == pytest.approx(float(d0), rel=1e-6)
    ours = set(answer["significant_genes"]["Variable"])
    peer = set(theirs.loc[theirs["adj_p"] < 0.05, "gene"])
    assert _jaccard(ours, peer) >= 0.97
    both = table.merge(theirs, on="gene")
    assert len(both) == len(table)
    slope = np.polyfit(both["logFC"], both["coefficient"], 1)[0]
    assert 0.98 <= slope <= 1.02


def _gse781_log2_subset(shared_input: Path) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Real GPL96 values of GSE781 on log2 scale, probes with one current symbol (several probes
    for some genes), and each sample's tissue."""
    soft = shared_input / "GEO/Kidney_Clear_Cell_Carcinoma/GSE781/GSE781_family.soft.gz"
    data = read_geo(soft).platforms["GPL96"]
    table = load_symbol_table()
    symbols = data.annotation["Gene Symbol"].dropna().astype(str)
    symbols = symbols[[table.current(s) == s for s in symbols]]
    repeated = symbols[symbols.duplicated(keep=False)].sort_values().index[:120]
    single = symbols.drop(symbols[symbols.duplicated(keep=False)].index).index[:480]
    probes = list(repeated) + list(single) + ["205199_at", "218484_at"]  # CA9, NDUFA4L2
    probes = [p for p in dict.fromkeys(probes) if p in data.expression.index]
    values = np.log2(data.expression.loc[probes].clip(lower=1.0))
    tumour = data.samples["source_name_ch1"].str.contains("Carcinoma tissue")
    return values, symbols.reindex(probes), tumour.reindex(values.columns)


@pytest.mark.r_peer
def test_log2_geo_series_coefficients_equal_limma_logfc(shared_input: Path, tmp_path: Path) -> None:
    values, symbols, tumour = _gse781_log2_subset(shared_input)
    assert symbols.loc["205199_at"] == "CA9" and symbols.duplicated().sum() > 30
    lines = {gsm: [f"disease: {'clear cell carcinoma' if t else 'normal'}"] for gsm, t in tumour.items()}
    inputs = tmp_path / "input"
    soft = write_family_soft(inputs / "GEO" / GEO_TRAIT / "GSE990781", "GSE990781", values, symbols, lines)
    result = run_reference(AnalysisRequest(trait=GEO_TRAIT), inputs, tmp_path / "out")
    assert result.status == "complete", result.message
    answer, table = _answer(tmp_path / "out", GEO_TRAIT)
    record = layout.read_cohort_record(tmp_path / "out", GEO_TRAIT, "GSE990781")
    assert record["scale"]["log2_applied"] is False  # already log2: used as is, never logged again
    assert "decided in preprocessing" in answer["details"]["expression_scale"]
    assert answer["coefficient_unit"].startswith("log2 fold change")
    run_peer_script("limma_geo_soft.R", [soft, tmp_path / "limma.csv", 0])
    both = table.merge(pd.read_csv(tmp_path / "limma.csv"), on="gene", validate="one_to_one")
    assert len(both) == len(table) == symbols.nunique()
    np.testing.assert_allclose(both["coefficient"], both["logFC"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(both["t_x"], both["t_y"], rtol=1e-6)
    assert {"CA9", "NDUFA4L2"} <= set(answer["significant_genes"]["Variable"])


def _batched_series(shared_input: Path) -> tuple[pd.DataFrame, pd.Series, dict, list[str]]:
    """36 real CHOL tumour profiles (2,000 genes with SD 0.3-1) split into cases and controls, two
    batches partly confounded with the trait (B: 14 of 18 cases, 4 of 18 controls); 40 genes get
    +1.5 log2 with the trait and -2.7 in batch B, which cancels the trait effect when the batch is
    ignored; 300 others get +2 in batch B."""
    expr = pd.read_csv(shared_input / CHOL / "TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz", sep="\t", index_col=0)
    tumours = [c for c in expr.columns if c.endswith("-01")][:36]
    table = load_symbol_table()
    sd = expr[tumours].std(axis=1)
    genes = [g for g in expr.index if table.current(g) == g and 0.3 < sd[g] < 1.0][:2000]
    values = expr.loc[genes, tumours].copy()
    values.columns = [f"GSM99{i:04d}" for i in range(len(tumours))]
    trait = np.array([1] * 18 + [0] * 18)
    batch = np.array(["B"] * 14 + ["A"] * 4 + ["B"] * 4 + ["A"] * 14)  # B: 14 cases, 4 controls
    planted, shifted = genes[:40], genes[40:340]
    values.loc[planted] += 1.5 * trait - 2.7 * (batch == "B")
    values.loc[shifted] += 2.0 * (batch == "B")
    lines = {
        gsm: [f"disease: {'carcinoma' if t else 'normal'}", f"batch: {b}"]
        for gsm, t, b in zip(values.columns, trait, batch, strict=True)
    }
    return values, pd.Series(genes, index=genes), lines, planted


@pytest.mark.r_peer
def test_planted_batch_shift_is_removed_with_batch_and_not_without(
    shared_input: Path, tmp_path: Path
) -> None:
    values, symbols, lines, planted = _batched_series(shared_input)
    inputs = tmp_path / "input"
    soft = write_family_soft(inputs / "GEO" / GEO_TRAIT / "GSE990782", "GSE990782", values, symbols, lines)
    result = run_reference(AnalysisRequest(trait=GEO_TRAIT), inputs, tmp_path / "out")
    assert result.status == "complete", result.message
    answer, table = _answer(tmp_path / "out", GEO_TRAIT)
    assert answer["details"]["batches"] == ["batch"]
    assert any("batch 'batch' used as a covariate" in n for n in answer["notes"])
    found = set(answer["significant_genes"]["Variable"])
    truth = set(planted)
    assert len(found & truth) >= 36 and len(found - truth) <= 4  # recall >= 0.9, few false hits
    # the same linked table without the batch: the planted genes are lost among batch genes
    linked = layout.read_linked_data(tmp_path / "out", GEO_TRAIT, "GSE990782")
    naive = moderated_t_test(linked, GEO_TRAIT)
    naive_found = set(naive.loc[naive["q_value"] < 0.05, "gene"])
    assert len(naive_found & truth) <= 4 and len(naive_found - truth) >= 100
    # R limma with ~ trait + batch on the same SOFT file gives the same coefficients
    run_peer_script("limma_geo_soft.R", [soft, tmp_path / "limma.csv", 1])
    both = table.merge(pd.read_csv(tmp_path / "limma.csv"), on="gene", validate="one_to_one")
    np.testing.assert_allclose(both["coefficient"], both["logFC"], rtol=1e-9, atol=1e-12)
    assert json.loads(json.dumps(answer["details"]["sample_design"]))["batches"]["batch"].startswith("used")
