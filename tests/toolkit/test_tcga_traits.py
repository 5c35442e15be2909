"""Trait <-> TCGA cohort matching by domain rules, over GenoTEX's own trait list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.traits import match_tcga_cohort, normalise_name, parse_tcga_folder, tcga_traits

FOLDERS = [
    "TCGA_Bile_Duct_Cancer_(CHOL)",
    "TCGA_Large_Bcell_Lymphoma_(DLBC)",
    "TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)",
    "TCGA_Breast_Cancer_(BRCA)",
    "TCGA_Endometrioid_Cancer_(UCEC)",
    "TCGA_Pheochromocytoma_Paraganglioma_(PCPG)",
    "TCGA_Ocular_melanomas_(UVM)",
    "TCGA_Colon_Cancer_(COAD)",
    "TCGA_Colon_and_Rectal_Cancer_(COADREAD)",
    "TCGA_Lung_Cancer_(LUNG)",
    "TCGA_Lung_Adenocarcinoma_(LUAD)",
    "CrawlData.ipynb",
]


@pytest.mark.parametrize(
    ("trait", "folder", "rule"),
    [
        ("Bile_Duct_Cancer", "TCGA_Bile_Duct_Cancer_(CHOL)", "name"),
        ("Large_B-cell_Lymphoma", "TCGA_Large_Bcell_Lymphoma_(DLBC)", "name"),
        ("Kidney_Clear_Cell_Carcinoma", "TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)", "name"),
        ("Breast_Cancer", "TCGA_Breast_Cancer_(BRCA)", "name"),
        ("Pheochromocytoma_and_Paraganglioma", "TCGA_Pheochromocytoma_Paraganglioma_(PCPG)", "name"),
        ("Ocular_Melanomas", "TCGA_Ocular_melanomas_(UVM)", "name"),
        ("Colon_and_Rectal_Cancer", "TCGA_Colon_and_Rectal_Cancer_(COADREAD)", "name"),
        ("Lung_Cancer", "TCGA_Lung_Cancer_(LUNG)", "name"),  # the exact cohort, not LUAD
        ("CHOL", "TCGA_Bile_Duct_Cancer_(CHOL)", "code"),
        ("Uterine_Corpus_Endometrial_Carcinoma", "TCGA_Endometrioid_Cancer_(UCEC)", "synonym"),
        ("Cholangiocarcinoma", "TCGA_Bile_Duct_Cancer_(CHOL)", "synonym"),
        ("Diffuse Large B-Cell Lymphoma", "TCGA_Large_Bcell_Lymphoma_(DLBC)", "synonym"),
    ],
)
def test_matches(trait: str, folder: str, rule: str) -> None:
    match = match_tcga_cohort(trait, FOLDERS)
    assert match is not None and (match.folder, match.rule) == (folder, rule)
    assert trait in match.explanation()


@pytest.mark.parametrize(
    "trait", ["Von_Hippel_Lindau", "Hepatitis", "Liver_cirrhosis", "Cancer", "Lung", "Asthma"]
)
def test_no_guessing(trait: str) -> None:
    assert match_tcga_cohort(trait, FOLDERS) is None


def test_helpers_and_errors() -> None:
    assert (
        normalise_name("Large_B-cell_Lymphoma")
        == normalise_name("Large_Bcell_Lymphoma")
        == "largebcelllymphoma"
    )
    assert parse_tcga_folder("CrawlData.ipynb") is None
    parsed = parse_tcga_folder("TCGA_lower_grade_glioma_and_glioblastoma_(GBMLGG)")
    assert parsed is not None and (parsed.name, parsed.code) == (
        "lower_grade_glioma_and_glioblastoma",
        "GBMLGG",
    )
    with pytest.raises(GenoteamError, match="several TCGA folders"):
        match_tcga_cohort("Breast_Cancer", ["TCGA_Breast_Cancer_(BRCA)", "TCGA_Breast-Cancer_(BRCA2)"])
    with pytest.raises(GenoteamError, match="empty trait"):
        match_tcga_cohort("__", FOLDERS)


def test_genotex_trait_list_against_real_folders(shared_input: Path, task_info_path: Path) -> None:
    traits = list(json.loads(task_info_path.read_text()))
    folders = [p.name for p in (shared_input / "TCGA").iterdir()]
    matches = tcga_traits(traits, folders)
    assert len(traits) == 132 and len(matches) == 34
    # every folder is claimed by at most the traits that name it or its official project name
    assert (
        matches["Endometrioid_Cancer"].code == matches["Uterine_Corpus_Endometrial_Carcinoma"].code == "UCEC"
    )
    assert matches["lower_grade_glioma_and_glioblastoma"].code == "GBMLGG"
    assert matches["Glioblastoma"].code == "GBM" and matches["Lower_Grade_Glioma"].code == "LGG"
    unmatched_folders = set(folders) - {m.folder for m in matches.values()}
    assert unmatched_folders == {
        "TCGA_Colon_Cancer_(COAD)",
        "TCGA_Lung_Adenocarcinoma_(LUAD)",
        "TCGA_Lung_Squamous_Cell_Carcinoma_(LUSC)",
    }  # GenoTEX has no trait for these sub-cohorts
    assert "Von_Hippel_Lindau" not in matches and "Obesity" not in matches
