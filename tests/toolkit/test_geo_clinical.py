"""GEO clinical features: converters, GenoTEX-style selection, and the rule-based chooser on
GSE781 (labels in source names, misleading titles), GDS507 and generated characteristics."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from genoteam.toolkit.clinical_geo import (
    choose_clinical_rows,
    clinical_candidate_table,
    convert_age,
    convert_gender,
    extract_geo_clinical,
    geo_select_clinical_features,
    label_trait_value,
    make_mapping_converter,
)
from genoteam.toolkit.geo import characteristics_table, read_geo

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.mark.parametrize(
    ("cell", "years"),
    [
        ("age: 56", 56.0),
        ("56 yrs", 56.0),
        ("Age = 70", 70.0),
        ("age (years): 61.5", 61.5),
        ("age: 50-60", 55.0),
        ("age: 18 months", 1.5),
        ("age: NA", None),
        (None, None),
    ],
)
def test_convert_age(cell, years):
    assert convert_age(cell) == years


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("Sex: F", 0.0),
        ("gender: male", 1.0),
        ("Female", 0.0),
        ("Gender = Male", 1.0),
        ("sex: unknown", None),
        ("M", 1.0),
        (float("nan"), None),
    ],
)
def test_convert_gender(cell, code):
    assert convert_gender(cell) == code


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("Trizol isolation of total RNA from normal tissue adjacent to Renal Cell Carcinoma", 0.0),
        ("Trizol isolation of total RNA from Renal Clear Cell Carcinoma tissue", 1.0),
        ("disease state: healthy control", 0.0),
        ("tissue: kidney", None),  # an organ word says where a sample is from, not that it is a case
        ("diagnosis: clear cell RCC", 1.0),
        ("batch: 3", None),
    ],
)
def test_label_trait_value(value, label):
    assert label_trait_value(value, TRAIT) == label


def test_geo_select_clinical_features_by_position_and_label():
    table = pd.DataFrame(
        [["disease: RCC", "disease: normal"], ["age: 56", "age: 61"], ["Sex: F", "Sex: M"]],
        columns=["GSM1", "GSM2"],
    )
    frame = geo_select_clinical_features(
        table,
        "RCC",
        0,
        make_mapping_converter({"disease: RCC": 1.0, "disease: normal": 0.0}),
        1,
        convert_age,
        2,
        convert_gender,
    )
    assert list(frame.index) == ["RCC", "Age", "Gender"]
    assert frame.to_dict() == {
        "GSM1": {"RCC": 1.0, "Age": 56.0, "Gender": 0.0},
        "GSM2": {"RCC": 0.0, "Age": 61.0, "Gender": 1.0},
    }
    only_trait = geo_select_clinical_features(table, "RCC", 0, lambda v: 1.0 if "RCC" in v else 0.0)
    assert list(only_trait.index) == ["RCC"]


def _source_name_truth(samples: pd.DataFrame) -> pd.Series:
    """Labels read directly off the source names, written independently of the chooser."""
    return samples["source_name_ch1"].map(
        lambda s: 0.0 if s.endswith("normal tissue adjacent to Renal Cell Carcinoma") else 1.0
    )


@pytest.mark.parametrize("platform", ["GPL96", "GPL97"])
def test_gse781_labels_come_from_source_names_not_titles(gse781, platform):
    samples = gse781.platforms[platform].samples
    assert characteristics_table(samples).empty
    frame, choice = extract_geo_clinical(samples, TRAIT)
    assert choice.trait_row == "source_name_ch1"
    pd.testing.assert_series_equal(frame.loc[TRAIT], _source_name_truth(samples), check_names=False)
    counts = frame.loc[TRAIT].value_counts().to_dict()
    assert counts == {1.0: 9, 0.0: 8}
    # the misleading titles ('N2 Renal Clear Cell Carcinoma ...') are normal tissue
    misleading = samples.index[samples["title"].str.match(r"N\d+ Renal Clear Cell Carcinoma")]
    assert len(misleading) == 3
    assert (frame.loc[TRAIT, misleading] == 0.0).all()
    text = choice.text()
    assert "source_name_ch1" in text and "'title' disagrees for 3 samples" in text
    assert "source name describes the material" in text
    # Age and Gender live in the free-text description ('Age = 70; Gender = Female; ...')
    assert choice.age_row == "description: age" and choice.gender_row == "description: gender"
    assert frame.loc["Age", "GSM11815" if platform == "GPL97" else "GSM11805"] == 70.0
    assert frame.loc["Gender"].dropna().isin([0.0, 1.0]).all()


def test_gse781_sample_without_description_fields_has_missing_age(gse781):
    frame, _ = extract_geo_clinical(gse781.platforms["GPL97"].samples, TRAIT)
    # GSM11810's description is just its title: its age and gender are unknown, not guessed
    assert math.isnan(frame.loc["Age", "GSM11810"]) and math.isnan(frame.loc["Gender", "GSM11810"])
    assert frame.loc["Age"].notna().sum() == 16


def test_gds507_subsets_agree_with_gse781_source_names(extra_geo, gse781):
    gds = read_geo(extra_geo / "GDS507.soft.gz").only_platform()
    frame, choice = extract_geo_clinical(gds.samples, TRAIT)
    assert choice.trait_row == 0
    assert choice.trait_mapping == {"disease state: RCC": 1.0, "disease state: normal": 0.0}
    truth = _source_name_truth(gse781.platforms["GPL97"].samples)
    pd.testing.assert_series_equal(frame.loc[TRAIT], truth.loc[frame.columns], check_names=False)
    assert choice.age_row is None and choice.gender_row is None
    assert "Age: no row records it." in choice.explanation


def test_generated_characteristics(write_series_matrix, small_matrix_kwargs):
    samples = (
        read_geo(write_series_matrix("GSE1_series_matrix.txt.gz", **small_matrix_kwargs))
        .only_platform()
        .samples
    )
    frame, choice = extract_geo_clinical(samples, "Breast_Cancer")
    assert (choice.trait_row, choice.age_row, choice.gender_row) == (0, 1, 2)
    assert frame.to_dict() == {
        "GSM1": {"Breast_Cancer": 1.0, "Age": 56.0, "Gender": 0.0},
        "GSM2": {"Breast_Cancer": 0.0, "Age": 61.0, "Gender": 1.0},
        "GSM3": {"Breast_Cancer": 1.0, "Age": 47.0, "Gender": 0.0},
    }


def test_no_trait_row_is_reported():
    samples = pd.DataFrame(
        {
            "title": ["s1", "s2"],
            "source_name_ch1": ["liver", "liver"],
            "characteristics_ch1": [["batch: 1"], ["batch: 2"]],
        },
        index=pd.Index(["GSM1", "GSM2"], name="GSM"),
    )
    frame, choice = extract_geo_clinical(samples, "Asthma")
    assert frame is None and not choice.is_trait_available
    assert "no row splits the samples" in choice.text()


def test_single_class_is_chosen_but_flagged():
    samples = pd.DataFrame(
        {"title": ["a", "b", "c"], "characteristics_ch1": [["disease: asthma"]] * 3},
        index=pd.Index(["GSM1", "GSM2", "GSM3"], name="GSM"),
    )
    table = clinical_candidate_table(samples)
    choice = choose_clinical_rows(table, "Asthma")
    assert choice.trait_row == 0 and "single class" in choice.text()


def test_row_naming_the_trait_beats_a_treatment_control_row():
    samples = pd.DataFrame(
        {
            "title": ["s1", "s2", "s3", "s4"],
            "characteristics_ch1": [
                ["treatment: control", "disease: asthma"],
                ["treatment: dexamethasone", "disease: asthma"],
                ["treatment: control", "disease: healthy"],
                ["treatment: dexamethasone", "disease: healthy"],
            ],
        },
        index=pd.Index(["GSM1", "GSM2", "GSM3", "GSM4"], name="GSM"),
    )
    frame, choice = extract_geo_clinical(samples, "Asthma")
    assert choice.trait_row == 1
    assert frame.loc["Asthma"].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_multi_class_row_labels_only_what_it_recognises():
    samples = pd.DataFrame(
        {
            "characteristics_ch1": [
                ["disease: Crohn's disease"],
                ["disease: ulcerative colitis"],
                ["disease: control"],
                ["disease: Crohn's disease"],
            ]
        },
        index=pd.Index(["GSM1", "GSM2", "GSM3", "GSM4"], name="GSM"),
    )
    frame, choice = extract_geo_clinical(samples, "Crohn's_Disease")
    assert choice.trait_row == 0
    assert frame.loc["Crohn's_Disease", ["GSM1", "GSM3", "GSM4"]].tolist() == [1.0, 0.0, 1.0]
    assert math.isnan(frame.loc["Crohn's_Disease", "GSM2"])  # another disease: not a control, left out
