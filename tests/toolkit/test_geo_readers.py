"""GEO readers on real GEO files (GSE781, GDS507, GSM11805, GPL97.annot) and generated matrices."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest

from genoteam.toolkit.geo import (
    characteristics_table,
    read_geo,
    read_geo_cohort,
    read_platform_annotation,
    unique_values_by_row,
)
from genoteam.toolkit.platforms import cohort_name, series_cohorts


def _declared_sample_ids(path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return [line.split("=", 1)[1].strip() for line in handle if line.startswith("!Series_sample_id")]


def test_gse781_family_soft_has_two_platforms_and_all_samples(gse781, gse781_soft):
    assert gse781.accession == "GSE781"
    assert gse781.source_kind == "family_soft"
    assert gse781.background["title"] == "Normal and Renal Cell Carcinoma Kidney Tissue, Human"
    assert "U133A (GPL96) and U133B (GPL97)" in gse781.background["summary"]
    assert sorted(gse781.platforms) == ["GPL96", "GPL97"]
    gpl96, gpl97 = gse781.platforms["GPL96"], gse781.platforms["GPL97"]
    assert gpl96.expression.shape == (22283, 17)
    assert gpl97.expression.shape == (22645, 17)
    # every sample the series declares is read, on exactly one platform
    declared = _declared_sample_ids(gse781_soft)
    assert len(declared) == 34
    assert sorted(list(gpl96.expression.columns) + list(gpl97.expression.columns)) == sorted(declared)
    assert set(gpl96.samples["platform_id"]) == {"GPL96"} and set(gpl97.samples["platform_id"]) == {"GPL97"}
    # values straight from the file (first rows of GSM11805's table)
    assert gpl96.expression.loc["AFFX-BioB-5_at", "GSM11805"] == 953.9
    assert gpl96.expression.loc["1007_s_at", "GSM11805"] == 1946.9
    assert gpl96.expression.dtypes.unique().tolist() == [np.dtype(float)]
    # platform tables are indexed by probe ID and cover the expression probes
    assert gpl96.annotation.index.name == "ID" and "Gene Symbol" in gpl96.annotation.columns
    assert gpl96.annotation.loc["1007_s_at", "Gene Symbol"] == "DDR1"
    assert gpl96.expression.index.isin(gpl96.annotation.index).all()
    assert gpl96.notes == [] and gpl97.notes == []


def test_gse781_sample_metadata_and_empty_characteristics(gse781):
    samples = gse781.platforms["GPL96"].samples
    assert samples.loc["GSM12283", "title"] == "N2 Renal Clear Cell Carcinoma U133A"
    assert "normal tissue adjacent" in samples.loc["GSM12283", "source_name_ch1"]
    assert samples.loc["GSM11805", "description"].startswith("Age = 70; Gender = Female")
    table = characteristics_table(samples)
    assert table.shape == (0, 17)  # GSE781 has no characteristics lines
    assert list(table.columns) == list(samples.index)


def test_cohort_names_follow_the_platform_groups():
    assert cohort_name("GSE1", ("GPL0",), 1) == "GSE1"
    assert cohort_name("GSE1", ("GPL0", "GPL1"), 2) == "GSE1"
    assert cohort_name("GSE1", ("GPL1",), 2) == "GSE1_GPL1"
    assert cohort_name("GSE1", ("GPL0", "GPL2"), 3) == "GSE1_GPL0_GPL2"


def test_only_platform_refuses_a_multi_platform_series(gse781):
    from genoteam.toolkit.errors import InputFileError

    with pytest.raises(InputFileError, match="2 platforms"):
        gse781.only_platform()


def test_gds507_matches_gse781_gpl97(extra_geo, gse781):
    gds = read_geo(extra_geo / "GDS507.soft.gz")
    assert gds.accession == "GDS507" and gds.source_kind == "gds_soft"
    data = gds.only_platform()
    assert data.platform_id == "GPL97"
    assert data.expression.shape == (22645, 17)
    assert list(data.annotation.columns) == ["IDENTIFIER"]
    # the GDS is a curated view of the same samples: same values as the family SOFT
    gpl97 = gse781.platforms["GPL97"].expression
    common = data.expression.columns
    assert set(common) == set(gpl97.columns)
    diff = (data.expression[common] - gpl97.loc[data.expression.index, common]).abs().max().max()
    assert diff < 1e-6
    table = characteristics_table(data.samples)
    uniques = unique_values_by_row(table)
    assert uniques[0] == ["disease state: RCC", "disease state: normal"]
    assert "individual: 035" in uniques[1]


def test_single_sample_soft_equals_its_series_column(extra_geo, gse781):
    gsm = read_geo(extra_geo / "GSM11805.txt.gz")
    assert gsm.accession == "GSM11805" and gsm.source_kind == "sample_soft"
    column = gsm.only_platform().expression["GSM11805"]
    reference = gse781.platforms["GPL96"].expression["GSM11805"]
    pd.testing.assert_series_equal(column, reference.loc[column.index], check_names=False)


def test_platform_annotation_from_annot_file_and_family_soft(extra_geo, gse781_soft, gse781):
    annot = read_platform_annotation(extra_geo / "GPL97.annot.gz")
    assert annot.shape[0] == 22645 and "Gene symbol" in annot.columns
    assert annot.loc["200001_at", "Gene symbol"] == "CAPNS1"
    from_soft = read_platform_annotation(gse781_soft, "GPL97")
    pd.testing.assert_frame_equal(from_soft, gse781.platforms["GPL97"].annotation)
    from genoteam.toolkit.errors import InputFileError

    with pytest.raises(InputFileError, match="several platforms"):
        read_platform_annotation(gse781_soft)


@pytest.mark.parametrize("name", ["GSE1_series_matrix.txt.gz", "GSE1_series_matrix.txt"])
def test_generated_series_matrix_gz_and_plain(write_series_matrix, small_matrix_kwargs, name):
    path = write_series_matrix(name, **small_matrix_kwargs)
    series = read_geo(path)
    assert series.accession == "GSE1" and series.source_kind == "series_matrix"
    assert series.background["overall_design"] == "cases versus controls"
    data = series.only_platform()
    assert data.platform_id == "GPL0"
    assert list(data.expression.columns) == ["GSM1", "GSM2", "GSM3"]
    assert list(data.expression.index) == ["p1", "p2", "p3"]
    assert data.expression.loc["p1"].tolist() == [1.5, 2.0, 3.25]
    assert math.isnan(data.expression.loc["p2", "GSM2"]) and math.isnan(data.expression.loc["p3", "GSM1"])
    assert data.samples.loc["GSM2", "source_name_ch1"] == "normal breast"
    table = characteristics_table(data.samples)
    assert table.shape == (3, 3)
    assert table.loc[1, "GSM3"] == "age: 47 yrs"
    assert unique_values_by_row(table)[0] == ["tissue: tumor", "tissue: normal"]


def test_non_numeric_values_are_reported_not_silent(write_series_matrix, small_matrix_kwargs):
    kwargs = dict(small_matrix_kwargs)
    kwargs["probes"] = {"p1": [1, "n/a?", 3]}
    data = read_geo(write_series_matrix("GSE1_series_matrix.txt", **kwargs)).only_platform()
    assert math.isnan(data.expression.loc["p1", "GSM2"])
    assert any("1 non-numeric" in note for note in data.notes)


def test_cohort_folder_takes_annotation_from_family_soft(tmp_path, write_series_matrix, small_matrix_kwargs):
    folder = tmp_path / "GSE1"
    folder.mkdir()
    matrix = write_series_matrix("GSE1_series_matrix.txt.gz", **small_matrix_kwargs)
    matrix.rename(folder / matrix.name)
    soft = "\n".join(
        [
            "^SERIES = GSE1",
            "!Series_title = synthetic",
            "^PLATFORM = GPL0",
            "!Platform_data_row_count = 3",
            "!platform_table_begin",
            "ID\tGene Symbol",
            "p1\tTP53",
            "p2\tERBB2 /// GRB7",
            "p3\t",
            "!platform_table_end",
            "^SAMPLE = GSM1",
            "!Sample_platform_id = GPL0",
            "",
        ]
    )
    (folder / "GSE1_family.soft.gz").write_bytes(gzip.compress(soft.encode()))
    series = read_geo_cohort(folder)
    data = series.only_platform()
    assert series.source_kind == "cohort_folder"
    assert data.expression.shape == (3, 3)
    assert data.annotation.loc["p2", "Gene Symbol"] == "ERBB2 /// GRB7"
    assert pd.isna(data.annotation.loc["p3", "Gene Symbol"])


def test_cohort_folder_with_only_a_family_soft_and_overview(gse781_soft):
    from genoteam.toolkit.geo import series_overview

    series = read_geo_cohort(gse781_soft.parent)
    assert sorted(series.platforms) == ["GPL96", "GPL97"]
    text = series_overview(series)
    assert "platform GPL96: 22283 probes x 17 samples" in text
    assert "no characteristics lines" in text
    assert "source_name_ch1 (2 distinct)" in text


def test_soft_null_values_are_missing_and_other_text_is_reported(tmp_path):
    soft = "\n".join(
        [
            "^SERIES = GSE3",
            "!Series_title = nulls",
            "^SAMPLE = GSM1",
            "!Sample_platform_id = GPL0",
            "!Sample_characteristics_ch1 = tissue: normal",
            "!Sample_characteristics_ch1 = age: 40",
            "!sample_table_begin",
            "ID_REF\tVALUE",
            "p1\t1.5",
            "p2\tnull",
            "p3\toops",
            "!sample_table_end",
            "",
        ]
    )
    path = tmp_path / "GSE3_family.soft"
    path.write_text(soft)
    data = read_geo(path).only_platform()
    assert data.expression.loc["p1", "GSM1"] == 1.5
    assert data.expression[["GSM1"]].isna().sum().item() == 2
    assert data.notes == ["GPL0: 1 non-numeric expression values read as missing"]
    assert characteristics_table(data.samples)["GSM1"].tolist() == ["tissue: normal", "age: 40"]


def test_cohort_folder_with_one_matrix_per_platform(tmp_path, write_series_matrix, small_matrix_kwargs):
    folder = tmp_path / "GSE1"
    folder.mkdir()
    first = write_series_matrix("GSE1-GPL0_series_matrix.txt.gz", **small_matrix_kwargs)
    other_samples = {"GSM9": dict(small_matrix_kwargs["samples"]["GSM1"])}
    second = write_series_matrix(
        "GSE1-GPL1_series_matrix.txt.gz",
        **dict(small_matrix_kwargs, platform="GPL1", samples=other_samples, probes={"q1": [7.0]}),
    )
    for path in (first, second):
        path.rename(folder / path.name)
    series = read_geo_cohort(folder)
    assert sorted(series.platforms) == ["GPL0", "GPL1"]
    cohorts = series_cohorts(series)  # different specimens (GSM9 is not a twin of GSM1..3)
    assert list(cohorts) == ["GSE1_GPL0", "GSE1_GPL1"]
    assert cohorts["GSE1_GPL1"].only_platform().expression.loc["q1", "GSM9"] == 7.0
    assert cohorts["GSE1_GPL0"].only_platform().expression.shape == (3, 3)
