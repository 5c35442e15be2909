"""The reference pipeline on the real data of ../shared/data and on bad inputs."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from genoteam.cli import main
from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.reference import run_reference
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.gene_mapping import gene_table
from genoteam.toolkit.geo import read_geo_cohort


@pytest.fixture(scope="module")
def gse781_kidney(shared_input: Path):
    return read_geo_cohort(shared_input / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE781")


@pytest.fixture(scope="module")
def chol_run(shared_input: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("chol")
    code = main(
        ["reference", "--input", str(shared_input), "--trait", "Bile_Duct_Cancer", "--output", str(out)]
    )
    assert code == 0
    return out, json.loads((out / "result.json").read_text())


def test_bile_duct_cancer_picks_tcga_chol(chol_run):
    out, result = chol_run
    info = json.loads((out / "preprocess" / "Bile_Duct_Cancer" / "cohort_info.json").read_text())
    chol = info["TCGA"]
    assert chol["is_usable"] and chol["sample_size"] == 45 and chol["has_age"] and chol["has_gender"]
    assert result["selected_cohorts"] == ["TCGA"] and result["status"] == "complete"
    linked = pd.read_csv(out / "preprocess" / "Bile_Duct_Cancer" / "TCGA.csv", index_col=0)
    assert list(linked.columns[:3]) == ["Bile_Duct_Cancer", "Age", "Gender"] and len(linked) == 45


def test_chol_significant_genes_follow_genotex_layout(chol_run):
    out, result = chol_run
    sig = json.loads(
        (out / "regress" / "Bile_Duct_Cancer" / "significant_genes_condition_None.json").read_text()
    )
    genes = sig["significant_genes"]
    assert set(genes) >= {"Variable", "Coefficient", "Absolute Coefficient", "p_value", "q_value"}
    assert sig["method"] == "moderated-t"
    assert len(genes["Variable"]) > 1000  # FINDINGS: R limma finds ~10,000 genes at FDR < 0.05 on CHOL
    assert max(genes["q_value"]) < 0.05
    assert genes["Variable"][: len(result["significant_genes"])] == [
        g["gene"] for g in result["significant_genes"]
    ]


def test_dlbc_is_not_usable_for_its_own_trait(shared_input: Path, tmp_path: Path):
    result = run_reference(AnalysisRequest(trait="Large_B-cell_Lymphoma"), shared_input, tmp_path)
    assert result.status == "insufficient_data"
    assert result.significant_genes == []
    (dlbc,) = result.cohorts
    assert dlbc.cohort == "TCGA" and not dlbc.usable
    info = json.loads((tmp_path / "preprocess" / "Large_B-cell_Lymphoma" / "cohort_info.json").read_text())
    assert info["TCGA"]["is_biased"] is True and info["TCGA"]["is_usable"] is False
    assert "TCGA" in result.message and "biased" in result.message
    assert not (tmp_path / "regress").exists()


def test_gse781_platforms_make_one_cohort_whose_answer_holds_gpl97_only_genes(
    gse781_kidney, shared_input: Path, tmp_path: Path
):
    """HG-U133A and HG-U133B on the same 17 specimens are one cohort with the union of the genes."""
    result = run_reference(AnalysisRequest(trait="Kidney_Clear_Cell_Carcinoma"), shared_input, tmp_path)
    assert result.status in ("complete", "partial")
    assert [o.cohort for o in result.cohorts if o.trait == "Kidney_Clear_Cell_Carcinoma" and o.usable] == [
        "GSE781"
    ]
    assert result.selected_cohorts == ["GSE781"] and result.cohorts[0].sample_size == 17
    significant = {g.gene for g in result.significant_genes if g.q_value is not None and g.q_value < 0.05}
    # FINDINGS: R GEOquery + limma on GPL96 rank CA9 and NDUFA4L2 in the top 15 (adjusted p < 1e-6)
    assert {"CA9", "NDUFA4L2"} <= significant
    per_platform = {
        pid: set(gene_table(data.expression, data.annotation)[0].index)
        for pid, data in gse781_kidney.platforms.items()
    }
    only_gpl97 = per_platform["GPL97"] - per_platform["GPL96"]
    assert len(only_gpl97) > 4000  # FINDINGS: GPL97 adds ~4,400 genes absent from GPL96
    assert len(significant & only_gpl97) > 100, "genes measured only on HG-U133B must be answered too"


def test_missing_input_folder_is_a_clear_error(tmp_path: Path, capsys):
    code = main(
        ["reference", "--input", str(tmp_path / "nope"), "--trait", "X", "--output", str(tmp_path / "o")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "what to do" in err


def test_unknown_trait_is_a_clear_error(shared_input: Path, tmp_path: Path):
    with pytest.raises(GenoteamError, match="unknown trait 'Not_A_Trait'"):
        run_reference(AnalysisRequest(trait="Not_A_Trait"), shared_input, tmp_path)


def _geo_input(tmp_path: Path, name: str, content: bytes) -> Path:
    folder = tmp_path / "input" / "GEO" / "Some_Trait" / "GSE1"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    return tmp_path / "input"


def test_corrupt_gzip_fails_that_cohort_only_and_says_why(tmp_path: Path):
    input_dir = _geo_input(tmp_path, "GSE1_series_matrix.txt.gz", b"\x1f\x8b\x08\x00garbage")
    result = run_reference(AnalysisRequest(trait="Some_Trait"), input_dir, tmp_path / "out")
    assert result.status == "insufficient_data"
    (outcome,) = result.cohorts
    assert outcome.error and "GSE1_series_matrix.txt.gz" in outcome.error
    assert not list((tmp_path / "out").rglob("*.csv")), "no partial table may be left looking complete"


def test_empty_matrix_fails_that_cohort_and_says_why(tmp_path: Path):
    text = '!Series_geo_accession\t"GSE1"\n!series_matrix_table_begin\n"ID_REF"\n!series_matrix_table_end\n'
    input_dir = _geo_input(tmp_path, "GSE1_series_matrix.txt.gz", gzip.compress(text.encode()))
    result = run_reference(AnalysisRequest(trait="Some_Trait"), input_dir, tmp_path / "out")
    (outcome,) = result.cohorts
    assert not outcome.usable and (outcome.error or outcome.note)
    assert result.status == "insufficient_data" and not list((tmp_path / "out").rglob("*.csv"))


def test_platform_without_symbol_column_is_recorded_not_hidden(shared_input: Path, tmp_path: Path):
    # GSE781's family SOFT with the platform tables' symbol columns renamed away
    source = shared_input / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE781" / "GSE781_family.soft.gz"
    text = gzip.decompress(source.read_bytes()).decode("latin-1")
    text = text.replace("Gene Symbol", "Unrelated Column").replace("ENTREZ_GENE_ID", "Other")
    folder = tmp_path / "input" / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE781"
    folder.mkdir(parents=True)
    (folder / "GSE781_family.soft.gz").write_bytes(gzip.compress(text.encode("latin-1")))
    result = run_reference(
        AnalysisRequest(trait="Kidney_Clear_Cell_Carcinoma"), tmp_path / "input", tmp_path / "o"
    )
    assert result.status == "insufficient_data"
    assert [o.cohort for o in result.cohorts] == ["GSE781"] and not result.cohorts[0].usable
    assert all(
        "symbol" in (o.note or o.error or "").lower() or "map" in (o.note or o.error or "").lower()
        for o in result.cohorts
    )
    assert not (tmp_path / "o" / "regress").exists()
    shutil.rmtree(tmp_path / "input")


def test_stages_preprocess_then_statistics_equal_one_run(shared_input: Path, tmp_path: Path, chol_run):
    request = AnalysisRequest(trait="Bile_Duct_Cancer")
    first = run_reference(request, shared_input, tmp_path, stage="preprocess")
    assert first.status == "preprocessed" and first.significant_genes == []
    assert [o.cohort for o in first.cohorts if o.usable] == ["TCGA"]
    assert not (tmp_path / "regress").exists()
    second = run_reference(request, shared_input, tmp_path, stage="statistics")
    assert second.status == "complete" and second.selected_cohorts == ["TCGA"]
    _, whole = chol_run
    assert [g.gene for g in second.significant_genes] == [g["gene"] for g in whole["significant_genes"]]


def test_statistics_stage_without_preprocessing_says_what_to_do(shared_input: Path, tmp_path: Path):
    with pytest.raises(GenoteamError, match="run the preprocessing stage first"):
        run_reference(AnalysisRequest(trait="Bile_Duct_Cancer"), shared_input, tmp_path, stage="statistics")
