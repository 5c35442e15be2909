"""TCGA Xena reading and clinical features, on the real cohorts of ../shared/data."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pandas as pd
import pytest

from genoteam.toolkit.errors import GenoteamError, InputFileError
from genoteam.toolkit.tcga import (
    choose_age_column,
    choose_gender_column,
    extract_tcga_clinical,
    find_tcga_files,
    read_tcga_clinical,
    read_tcga_genes,
    tcga_age_candidates,
    tcga_age_values,
    tcga_convert_age,
    tcga_convert_gender,
    tcga_convert_trait,
    tcga_sample_type,
    tcga_select_clinical_features,
)

CHOL = "TCGA_Bile_Duct_Cancer_(CHOL)"
DLBC = "TCGA_Large_Bcell_Lymphoma_(DLBC)"


def test_trait_from_barcode_tumour_normal_and_missing() -> None:
    assert tcga_convert_trait("TCGA-3X-AAV9-01") == 1.0
    assert tcga_convert_trait("TCGA-AB-2802-03") == 1.0  # primary blood-derived cancer
    assert tcga_convert_trait("TCGA-3N-A9WB-06") == 1.0  # metastatic
    assert tcga_convert_trait("TCGA-3N-A9WB-09") == 1.0
    assert tcga_convert_trait("TCGA-W5-AA2R-11") == 0.0
    assert tcga_convert_trait("TCGA-XX-0000-10") == 0.0
    assert tcga_convert_trait("TCGA-XX-0000-19") == 0.0
    assert tcga_convert_trait("TCGA-XX-0000-11A") == 0.0  # vial letter after the two digits
    assert tcga_convert_trait("TCGA-W5-AA2R-11A-11R-A41I-07") == 0.0  # aliquot barcode: not the centre
    for other in (
        "TCGA-XX-0000-20",
        "TCGA-XX-0000-50",
        "TCGA-XX-0000-60",
        "TCGA-XX-0000-00",
        "TCGA-XX-0000",
        "x",
    ):
        assert math.isnan(tcga_convert_trait(other)), other  # missing, never a third class
    assert tcga_sample_type("TCGA-XX-0000-1") is None


def test_gender_and_age_converters_follow_genotex() -> None:
    assert tcga_convert_gender("FEMALE") == 0.0
    assert tcga_convert_gender("male") == 1.0
    assert math.isnan(tcga_convert_gender("[Not Available]"))
    assert math.isnan(tcga_convert_gender(float("nan")))
    assert tcga_convert_age(72) == 72.0
    assert tcga_convert_age("44.3") == 44.0  # whole years, like GenoTEX's first digit run
    assert tcga_convert_age(-26349, in_days=True) == 72.0  # 26349 / 365.25 = 72.14
    assert math.isnan(tcga_convert_age(26349, in_days=True))  # positive days: not a birth offset
    assert math.isnan(tcga_convert_age(150))
    assert math.isnan(tcga_convert_age("[Not Available]"))
    assert math.isnan(tcga_convert_age(float("nan")))


def test_chol_clinical_matches_genotex_reference(shared_input: Path) -> None:
    files = find_tcga_files(shared_input / "TCGA" / CHOL)
    clinical = read_tcga_clinical(files.clinical)
    result = extract_tcga_clinical(clinical, "Bile_Duct_Cancer")
    feats = result.features
    assert list(feats.index) == ["Bile_Duct_Cancer", "Age", "Gender"]  # GenoTEX orientation
    assert feats.shape == (3, 45)
    assert (result.n_tumour, result.n_normal, result.n_missing_trait) == (36, 9, 0)
    assert result.age.column == "age_at_initial_pathologic_diagnosis"  # GenoTEX's choice for CHOL
    assert result.gender.column == "gender"
    # values printed in GenoTEX's own CHOL notebook
    expected = {"TCGA-3X-AAV9-01": (1, 72, 1), "TCGA-3X-AAVA-01": (1, 50, 0), "TCGA-3X-AAVE-01": (1, 60, 1)}
    for sample, values in expected.items():
        assert tuple(feats[sample]) == values
    age = feats.loc["Age"]
    assert (age.min(), age.quantile(0.5), age.max()) == (29, 68, 82)
    assert int((feats.loc["Gender"] == 1).sum()) == 22


def test_days_to_birth_agrees_with_recorded_age(shared_input: Path) -> None:
    clinical = read_tcga_clinical(find_tcga_files(shared_input / "TCGA" / CHOL).clinical)
    direct = tcga_age_values(clinical, "age_at_initial_pathologic_diagnosis")
    derived = tcga_age_values(clinical, "days_to_birth")
    assert (direct - derived).abs().max() <= 1


def test_all_36_clinical_matrices_extract(shared_input: Path) -> None:
    folders = sorted(p for p in (shared_input / "TCGA").iterdir() if p.is_dir())
    assert len(folders) == 36
    for folder in folders:
        clinical = read_tcga_clinical(find_tcga_files(folder).clinical)
        result = extract_tcga_clinical(clinical, "Trait")
        feats = result.features
        assert list(feats.index) == ["Trait", "Age", "Gender"], folder.name
        assert feats.shape[1] == len(clinical), folder.name
        assert set(feats.loc["Trait"].dropna().unique()) <= {0.0, 1.0}, folder.name
        assert result.n_tumour > 0, folder.name
        ages = feats.loc["Age"].dropna()
        assert len(ages) >= 0.85 * len(clinical) and ages.between(0, 120).all(), folder.name
        genders = feats.loc["Gender"].dropna()
        assert len(genders) >= 0.85 * len(clinical) and set(genders.unique()) <= {0.0, 1.0}, folder.name


def test_choice_prefers_the_column_with_most_values() -> None:
    clinical = pd.DataFrame(
        {
            "age_at_initial_pathologic_diagnosis": [None, None, 50, None],
            "days_to_birth": [-20000, -21000, -18300, -25000],
            "age_began_smoking_in_years": [15, 16, 17, 18],  # not an age at diagnosis
            "gender": ["MALE", None, None, None],
            "Gender_nature2012": ["MALE", "FEMALE", "FEMALE", None],
        },
        index=["TCGA-A-0001-01", "TCGA-A-0002-01", "TCGA-A-0003-11", "TCGA-A-0004-20"],
    )
    assert "age_began_smoking_in_years" not in tcga_age_candidates(clinical)
    age = choose_age_column(clinical)
    assert age.column == "days_to_birth" and age.valid_counts["days_to_birth"] == 4
    assert choose_gender_column(clinical).column == "Gender_nature2012"
    feats = tcga_select_clinical_features(clinical, "T", age.column, "Gender_nature2012")
    assert feats.loc["Age"].tolist() == [54.0, 57.0, 50.0, 68.0]
    assert feats.loc["T"].tolist()[:3] == [1.0, 1.0, 0.0] and math.isnan(feats.loc["T"].iloc[3])


def test_no_candidate_columns_gives_trait_only() -> None:
    clinical = pd.DataFrame({"vital_status": ["LIVING"]}, index=["TCGA-A-0001-01"])
    result = extract_tcga_clinical(clinical, "T")
    assert list(result.features.index) == ["T"]
    assert result.age.column is None and "no candidate" in result.age.reason
    with pytest.raises(GenoteamError, match="not found"):
        tcga_select_clinical_features(clinical, "T", age_col="age")


def test_chol_expression_matrix(shared_input: Path) -> None:
    genes = read_tcga_genes(find_tcga_files(shared_input / "TCGA" / CHOL).genes)
    assert genes.shape == (20530, 45)
    assert genes.columns[0].startswith("TCGA-")
    assert genes.dtypes.eq(float).all()


def test_folder_without_expression_and_missing_folder(shared_input: Path, tmp_path: Path) -> None:
    files = find_tcga_files(shared_input / "TCGA" / "TCGA_Thymoma_(THYM)")
    assert files.genes is None
    with pytest.raises(InputFileError, match="not found"):
        find_tcga_files(tmp_path / "TCGA_Nothing_(NONE)")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no clinical matrix"):
        find_tcga_files(tmp_path / "empty")


def test_corrupt_truncated_and_empty_files(shared_input: Path, tmp_path: Path) -> None:
    real = find_tcga_files(shared_input / "TCGA" / DLBC).genes
    truncated = tmp_path / "TCGA.X.sampleMap_HiSeqV2_PANCAN.gz"
    truncated.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    with pytest.raises(InputFileError, match="corrupt or truncated"):
        read_tcga_genes(truncated)
    garbage = tmp_path / "garbage_PANCAN.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00not really gzip at all")
    with pytest.raises(InputFileError, match="corrupt or truncated"):
        read_tcga_genes(garbage)
    empty = tmp_path / "empty_clinicalMatrix"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        read_tcga_clinical(empty)
    text = tmp_path / "text_PANCAN.gz"
    with gzip.open(text, "wt") as handle:
        handle.write("sample\tTCGA-A-0001-01\nTP53\thigh\n")
    with pytest.raises(InputFileError, match="non-numeric"):
        read_tcga_genes(text)
