"""Linking, GenoTEX's missing-value handling, bias checks and cohort_info records.

Small tables with hand-computed outcomes for each rule and each threshold edge, then the real
CHOL and DLBC cohorts end to end.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoteam.toolkit.cohort_info import (
    COHORT_INFO_FIELDS,
    final_record,
    read_cohort_info,
    update_cohort_info,
    validate_and_save_cohort_info,
)
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.linking import (
    check_binary_bias,
    check_continuous_bias,
    geo_link_clinical_genetic_data,
    handle_missing_values,
    handle_missing_values_with_report,
    judge_and_remove_biased_features,
    link_clinical_genetic_data_with_report,
)
from genoteam.toolkit.tcga import extract_tcga_clinical, find_tcga_files, read_tcga_clinical, read_tcga_genes

NAN = math.nan


def _clinical() -> pd.DataFrame:
    return pd.DataFrame(
        [[1, 0, 1, NAN], [50, 60, NAN, 40], [0, 1, NAN, 1]],
        index=["T", "Age", "Gender"],
        columns=["s1", "s2", "s3", "s4"],
    )


def test_link_outer_and_inner() -> None:
    genes = pd.DataFrame([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], index=["G1", "G2"], columns=["s2", "s1", "s9"])
    linked, report = link_clinical_genetic_data_with_report(_clinical(), genes, how="outer")
    assert list(linked.columns) == ["T", "Age", "Gender", "G1", "G2"]
    assert list(linked.index) == ["s1", "s2", "s3", "s4", "s9"]
    assert linked.loc["s1", "G1"] == 2.0 and linked.loc["s2", "G2"] == 4.0
    assert linked.loc["s3"].isna()[["G1", "G2"]].all() and math.isnan(linked.loc["s9", "T"])
    assert report.clinical_only == ["s3", "s4"] and report.gene_only == ["s9"]
    inner, report = link_clinical_genetic_data_with_report(_clinical(), genes, how="inner")
    assert list(inner.index) == ["s1", "s2"] and report.n_linked_samples == 2
    # GenoTEX's function is the outer join
    assert geo_link_clinical_genetic_data(_clinical(), genes).shape == (5, 5)


def test_link_refuses_wrong_orientation() -> None:
    genes = pd.DataFrame([[1.0, 2.0]], index=["x1", "x2"], columns=["G1", "G2"]).T  # samples as rows
    with pytest.raises(GenoteamError, match="share no sample ids"):
        link_clinical_genetic_data_with_report(_clinical(), genes.T)
    dup = pd.DataFrame([[1.0], [2.0]], index=["G1", "G1"], columns=["s1"])
    with pytest.raises(GenoteamError, match="duplicated gene symbols"):
        link_clinical_genetic_data_with_report(_clinical(), dup)


def test_missing_value_thresholds_at_the_edges() -> None:
    # 20 samples, 21 genes. g_ok20: missing in 4/20 = 20% (kept, <= 0.2); g_bad: 5/20 = 25% (dropped).
    n = 20
    samples = [f"s{i}" for i in range(n)]
    rng = np.random.default_rng(0)
    data = {"T": [1.0, 0.0] * 10, "Age": [30.0 + i for i in range(n)], "Gender": [0.0, 1.0, 1.0, 1.0] * 5}
    for g in range(19):
        data[f"g{g}"] = rng.normal(size=n)
    df = pd.DataFrame(data, index=samples)
    df["g_ok20"] = rng.normal(size=n)
    df["g_bad"] = rng.normal(size=n)
    df.loc[samples[:4], "g_ok20"] = NAN
    df.loc[samples[:5], "g_bad"] = NAN
    out, report = handle_missing_values_with_report(df, "T")
    assert report.genes_dropped == 1 and "g_ok20" in out.columns and "g_bad" not in out.columns
    # s0-s3 miss 1 of 20 genes (5%: kept), s4 misses none after g_bad is gone
    assert len(out) == 20 and report.samples_missing_genes == []
    assert out.loc["s0", "g_ok20"] == pytest.approx(df["g_ok20"].mean())
    df.loc["s19", "T"] = NAN  # no trait: dropped first (then g_bad has 5/19 missing, g_ok20 4/19 > 0.2!)
    out, report = handle_missing_values_with_report(df, "T")
    # after dropping s19, g_ok20 is missing in 4/19 = 21%: dropped too; both as GenoTEX computes them
    assert report.samples_without_trait == ["s19"]
    assert report.genes_dropped == 2 and "g_ok20" not in out.columns and "g_bad" not in out.columns
    assert len(out) == 19 and out.notna().all().all()

    # samples: 20 genes kept; a sample missing 1/20 = 5% is kept, 2/20 = 10% is dropped
    df2 = pd.DataFrame({"T": [1.0, 0.0] * 10}, index=samples)
    for g in range(20):
        df2[f"g{g}"] = rng.normal(size=n)
    df2.loc["s0", "g0"] = NAN
    df2.loc["s1", ["g1", "g2"]] = NAN
    out2, report2 = handle_missing_values_with_report(df2, "T")
    assert report2.samples_missing_genes == ["s1"] and "s0" in out2.index
    # imputed with the gene's mean over the kept samples
    assert out2.loc["s0", "g0"] == pytest.approx(df2.drop(index="s1")["g0"].mean())
    assert report2.gene_values_imputed == 1


def test_imputation_of_age_and_gender() -> None:
    df = pd.DataFrame(
        {
            "T": [1, 0, 1, 0, 1],
            "Age": [40, NAN, 60, NAN, 50],
            "Gender": [1, 0, NAN, 0, 1],
            "G": [1.0, 2, 3, 4, 5],
        },
        index=list("abcde"),
    )
    out = handle_missing_values(df, "T")
    assert out["Age"].tolist() == [40, 50, 60, 50, 50]
    assert out.loc["c", "Gender"] == 0  # tie 0/1 (2 each): the first mode, 0, as pandas' mode sorts
    none_gender = df.assign(Gender=NAN, Age=NAN)
    out2, report = handle_missing_values_with_report(none_gender, "T")
    assert "Gender" not in out2.columns and "Age" not in out2.columns
    assert report.dropped_columns == ["Age", "Gender"]


def test_binary_bias_rule() -> None:
    # rarest class must be < 10% AND < 5 samples to be biased
    def frame(n_rare: int, n_common: int) -> pd.DataFrame:
        return pd.DataFrame({"x": [0] * n_rare + [1] * n_common})

    assert check_binary_bias(frame(4, 46), "x").biased  # 8%, 4 samples
    assert not check_binary_bias(frame(5, 60), "x").biased  # 7.7% but 5 samples
    assert not check_binary_bias(frame(4, 30), "x").biased  # 4 samples but 11.8%
    assert check_binary_bias(frame(0, 30), "x").biased  # one class
    assert not check_continuous_bias(pd.DataFrame({"a": [1, 2]}), "a").biased
    assert check_continuous_bias(pd.DataFrame({"a": [3, 3, 3]}), "a").biased
    assert check_continuous_bias(pd.DataFrame({"a": [NAN, NAN]}), "a").biased  # no values at all


def test_judge_and_remove_biased_features() -> None:
    df = pd.DataFrame(
        {"T": [1, 0] * 10, "Age": [50] * 20, "Gender": [1] * 19 + [0], "G": range(20)}, index=range(20)
    )
    biased, out = judge_and_remove_biased_features(df, "T")
    assert biased is False and list(out.columns) == ["T", "G"]  # constant Age and 1-of-20 Gender removed
    one_class = df.assign(T=1)
    biased, _ = judge_and_remove_biased_features(one_class, "T")  # 1 unique value: "continuous", min == max
    assert biased is True


def test_cohort_info_records(tmp_path: Path) -> None:
    info = tmp_path / "preprocess" / "T" / "cohort_info.json"
    assert validate_and_save_cohort_info(False, "GSE1", info, True, True) is False
    assert not info.exists()  # passed the initial check: nothing recorded yet
    validate_and_save_cohort_info(False, "GSE2", info, False, True)
    linked = pd.DataFrame(
        {"T": [1, 0, 1], "Age": [1, 2, 3], "G1": [1, 2, 3], "G2": [1, 2, 3], "G3": [3, 2, 1]}
    )
    assert validate_and_save_cohort_info(
        True, "GSE3", info, True, True, is_biased=False, df=linked, note="ok"
    )
    records = json.loads(info.read_text())
    assert records["GSE2"] == {
        "is_usable": False, "is_gene_available": False, "is_trait_available": True, "is_available": False,
        "is_biased": None, "has_age": None, "has_gender": None, "sample_size": None, "note": None,
    }  # fmt: skip
    assert records["GSE3"] == {
        "is_usable": True, "is_gene_available": True, "is_trait_available": True, "is_available": True,
        "is_biased": False, "has_age": True, "has_gender": False, "sample_size": 3, "note": "ok",
    }  # fmt: skip
    # four columns or fewer: no gene data; no rows: no trait data either
    small = final_record(True, True, False, linked.iloc[:, :4])
    assert (
        small["is_gene_available"] is False
        and small["is_available"] is False
        and small["sample_size"] is None
    )
    empty = final_record(True, True, False, linked.iloc[:0])
    assert empty["is_trait_available"] is False
    biased = final_record(True, True, True, linked)
    assert biased["is_usable"] is False and biased["is_available"] is True and biased["is_biased"] is True
    with pytest.raises(GenoteamError, match="needs df"):
        validate_and_save_cohort_info(True, "GSE4", info, True, True)


def test_cohort_info_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    info = tmp_path / "cohort_info.json"
    record = final_record(True, True, False, pd.DataFrame(np.ones((3, 6))).rename(columns={0: "T"}))

    def writer(k: int) -> None:
        for i in range(10):
            update_cohort_info(info, f"GSE{k}_{i}", record)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = read_cohort_info(info)
    assert len(records) == 40 and all(set(r) == set(COHORT_INFO_FIELDS) for r in records.values())
    assert not list(tmp_path.glob("*.tmp"))


def _preprocess(shared_input: Path, folder: str, trait: str) -> tuple[bool, pd.DataFrame]:
    files = find_tcga_files(shared_input / "TCGA" / folder)
    clinical = extract_tcga_clinical(read_tcga_clinical(files.clinical), trait).features
    genes = read_tcga_genes(files.genes)
    linked, _ = link_clinical_genetic_data_with_report(clinical, genes, how="inner")
    linked = handle_missing_values(linked, trait)
    return judge_and_remove_biased_features(linked, trait)


def test_chol_usable_and_dlbc_biased(shared_input: Path, tmp_path: Path) -> None:
    info = tmp_path / "cohort_info.json"
    biased, chol = _preprocess(shared_input, "TCGA_Bile_Duct_Cancer_(CHOL)", "Bile_Duct_Cancer")
    assert biased is False and chol.shape == (45, 3 + 20530)
    assert validate_and_save_cohort_info(True, "TCGA", info, True, True, is_biased=biased, df=chol)
    record = read_cohort_info(info)["TCGA"]
    assert record["sample_size"] == 45 and record["has_age"] and record["has_gender"]

    biased, dlbc = _preprocess(shared_input, "TCGA_Large_Bcell_Lymphoma_(DLBC)", "Large_B-cell_Lymphoma")
    assert biased is True and set(dlbc["Large_B-cell_Lymphoma"]) == {1.0}
    assert not validate_and_save_cohort_info(True, "TCGA", info, True, True, is_biased=biased, df=dlbc)
    record = read_cohort_info(info)["TCGA"]
    assert record["is_usable"] is False and record["is_available"] is True and record["is_biased"] is True
