"""One TCGA cohort end to end into GenoTEX's output layout (real CHOL, DLBC and KIRC folders)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from genoteam.toolkit.tcga import preprocess_tcga_cohort


def test_chol_dlbc_kirc_into_the_layout(shared_input: Path, tmp_path: Path) -> None:
    tcga = shared_input / "TCGA"
    chol = preprocess_tcga_cohort(tcga / "TCGA_Bile_Duct_Cancer_(CHOL)", "Bile_Duct_Cancer", tmp_path)
    assert chol.is_usable and set(chol.written) == {
        "clinical_data",
        "gene_data",
        "cohort_info",
        "linked",
        "record",
    }
    info = json.loads((tmp_path / "preprocess" / "Bile_Duct_Cancer" / "cohort_info.json").read_text())
    assert info["TCGA"]["sample_size"] == 45 and info["TCGA"]["has_age"] and info["TCGA"]["has_gender"]
    linked = pd.read_csv(tmp_path / "preprocess" / "Bile_Duct_Cancer" / "TCGA.csv", index_col=0)
    assert linked.shape == (45, 3 + 20530) and list(linked.columns[:3]) == [
        "Bile_Duct_Cancer",
        "Age",
        "Gender",
    ]
    assert int(linked["Bile_Duct_Cancer"].sum()) == 36
    clinical = pd.read_csv(chol.written["clinical_data"], index_col=0)
    # stored as GenoTEX stores TCGA clinical data: samples x [trait, Age, Gender]
    assert list(clinical.columns) == ["Bile_Duct_Cancer", "Age", "Gender"] and clinical.shape[0] == 45

    dlbc = preprocess_tcga_cohort(
        tcga / "TCGA_Large_Bcell_Lymphoma_(DLBC)", "Large_B-cell_Lymphoma", tmp_path
    )
    assert not dlbc.is_usable and dlbc.record["is_biased"] is True and dlbc.record["is_available"] is True
    assert "linked" not in dlbc.written  # GenoTEX saves the linked table only for usable cohorts
    assert not (tmp_path / "preprocess" / "Large_B-cell_Lymphoma" / "TCGA.csv").exists()

    kirc = preprocess_tcga_cohort(
        tcga / "TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)", "Kidney_Clear_Cell_Carcinoma", tmp_path
    )
    assert kirc.record["is_gene_available"] is False and kirc.record["is_available"] is False
    assert set(kirc.written) == {"cohort_info"} and "no expression matrix" in kirc.notes[0]
