"""The cohort catalogue over the real GenoTEX-layout input folder and over generated folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from genoteam.data.catalogue import CohortCatalogue
from genoteam.toolkit.errors import GenoteamError


def test_real_input_folder(shared_input: Path) -> None:
    catalogue = CohortCatalogue(shared_input)
    assert catalogue.geo_traits() == ["Kidney_Clear_Cell_Carcinoma"]
    assert len(catalogue.tcga_cohorts()) == 36

    kidney = catalogue.cohorts_for_trait("Kidney_Clear_Cell_Carcinoma")
    assert [(c.id, c.source) for c in kidney] == [
        ("GSE781", "GEO"),
        ("TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)", "TCGA"),
    ]
    gse781, kirc = kidney
    assert [f.name for f in gse781.files] == ["GSE781_family.soft.gz"]
    assert gse781.total_size == (gse781.path / "GSE781_family.soft.gz").stat().st_size
    assert gse781.has_expression and not kirc.has_expression  # KIRC: clinical matrix only
    assert kirc.output_id == "TCGA" and kirc.tcga_code == "KIRC"

    chol = catalogue.cohorts_for_trait("Bile_Duct_Cancer")
    assert [c.id for c in chol] == ["TCGA_Bile_Duct_Cancer_(CHOL)"] and chol[0].has_expression
    assert catalogue.cohort("Bile_Duct_Cancer", "TCGA").tcga_code == "CHOL"
    dlbc = catalogue.cohorts_for_trait("Large_B-cell_Lymphoma")
    assert [c.tcga_code for c in dlbc] == ["DLBC"]
    summary = catalogue.to_dict()
    assert summary["geo"]["Kidney_Clear_Cell_Carcinoma"][0]["files"][0]["size"] > 1_000_000


def test_unknown_trait_lists_what_exists(shared_input: Path) -> None:
    catalogue = CohortCatalogue(shared_input)
    with pytest.raises(GenoteamError) as info:
        catalogue.cohorts_for_trait("Von_Hippel_Lindau")
    assert (
        "Kidney_Clear_Cell_Carcinoma" in info.value.hint and "TCGA_Bile_Duct_Cancer_(CHOL)" in info.value.hint
    )
    with pytest.raises(GenoteamError, match="no cohort 'GSE1'"):
        catalogue.cohort("Bile_Duct_Cancer", "GSE1")


def test_missing_and_wrong_folders(tmp_path: Path) -> None:
    with pytest.raises(GenoteamError, match="does not exist"):
        CohortCatalogue(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(GenoteamError, match=r"neither a GEO/ nor a TCGA/.*notes.txt"):
        CohortCatalogue(tmp_path)


def test_generated_folder(tmp_path: Path) -> None:
    series = tmp_path / "GEO" / "Asthma" / "GSE100"
    series.mkdir(parents=True)
    (series / "GSE100_series_matrix.txt.gz").write_bytes(b"abc")
    (series / ".hidden").write_bytes(b"x")
    (tmp_path / "GEO" / "Asthma" / "notes").mkdir()
    (tmp_path / "GEO" / "Empty_Trait").mkdir()
    catalogue = CohortCatalogue(tmp_path)  # no TCGA folder at all is fine
    assert catalogue.traits() == ["Asthma", "Empty_Trait"]
    [cohort] = catalogue.cohorts_for_trait("Asthma")
    assert cohort.id == "GSE100" and [(f.name, f.size) for f in cohort.files] == [
        ("GSE100_series_matrix.txt.gz", 3)
    ]
    assert catalogue.ignored_geo_folders("Asthma") == ["notes"]
    assert catalogue.cohorts_for_trait("Empty_Trait") == []  # a known trait without cohorts
    assert catalogue.tcga_cohorts() == []
