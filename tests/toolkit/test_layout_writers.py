"""GenoTEX output layout: paths, orientations, atomic writes, readers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoteam.toolkit import layout
from genoteam.toolkit.errors import GenoteamError, InputFileError
from genoteam.toolkit.layout import (
    OutputLayout,
    atomic_write_bytes,
    read_clinical_data,
    read_gene_data,
    read_linked_data,
    read_significant_genes,
    write_clinical_data,
    write_gene_data,
    write_linked_data,
    write_significant_genes,
)

TRAIT = "Bile_Duct_Cancer"


def _tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    samples = ["TCGA-A-0001-01", "TCGA-A-0002-11", "TCGA-A-0003-01"]
    genes = pd.DataFrame(np.arange(6, dtype=float).reshape(2, 3), index=["TP53", "CA9"], columns=samples)
    clinical = pd.DataFrame(
        [[1.0, 0.0, 1.0], [60, 70, 80], [0, 1, 1]], index=[TRAIT, "Age", "Gender"], columns=samples
    )
    linked = pd.concat([clinical, genes]).T
    return genes, clinical, linked


def test_paths_follow_genotex_layout(tmp_path: Path) -> None:
    out = OutputLayout(tmp_path)
    assert out.gene_data_path(TRAIT, "TCGA") == tmp_path / "preprocess" / TRAIT / "gene_data" / "TCGA.csv"
    assert (
        out.clinical_data_path(TRAIT, "GSE781")
        == tmp_path / "preprocess" / TRAIT / "clinical_data" / "GSE781.csv"
    )
    assert out.linked_data_path(TRAIT, "TCGA") == tmp_path / "preprocess" / TRAIT / "TCGA.csv"
    assert out.cohort_info_path(TRAIT) == tmp_path / "preprocess" / TRAIT / "cohort_info.json"
    assert out.significant_genes_path(TRAIT, None).name == "significant_genes_condition_None.json"
    assert (
        out.significant_genes_path(TRAIT, "Age")
        == tmp_path / "regress" / TRAIT / "significant_genes_condition_Age.json"
    )
    with pytest.raises(GenoteamError, match="invalid cohort"):
        out.gene_data_path(TRAIT, "../escape")


def test_round_trip_and_orientation_as_genotex_evaluator_reads(tmp_path: Path) -> None:
    genes, clinical, linked = _tables()
    write_gene_data(tmp_path, TRAIT, "TCGA", genes)
    write_clinical_data(tmp_path, TRAIT, "TCGA", clinical)
    write_linked_data(tmp_path, TRAIT, "TCGA", linked)
    # as GenoTEX stores them: gene data genes x samples; TCGA clinical data samples x features
    # (GenoTEX's tcga_select_clinical_features returns that, and its evaluator compares files as stored)
    g = pd.read_csv(tmp_path / "preprocess" / TRAIT / "gene_data" / "TCGA.csv", index_col=0).T
    c = pd.read_csv(tmp_path / "preprocess" / TRAIT / "clinical_data" / "TCGA.csv", index_col=0)
    assert c.index.name == "sampleID"
    l_ = pd.read_csv(tmp_path / "preprocess" / TRAIT / "TCGA.csv", index_col=0)
    assert list(g.columns) == ["TP53", "CA9"] and list(c.columns) == [TRAIT, "Age", "Gender"]
    assert list(l_.columns)[:3] == [TRAIT, "Age", "Gender"] and list(l_.index) == list(genes.columns)
    pd.testing.assert_frame_equal(read_gene_data(tmp_path, TRAIT, "TCGA"), genes, check_names=False)
    pd.testing.assert_frame_equal(read_clinical_data(tmp_path, TRAIT, "TCGA"), clinical, check_names=False)
    pd.testing.assert_frame_equal(read_linked_data(tmp_path, TRAIT, "TCGA"), linked, check_names=False)


def test_writers_refuse_wrong_orientation(tmp_path: Path) -> None:
    genes, clinical, linked = _tables()
    with pytest.raises(GenoteamError, match="features x samples"):
        write_clinical_data(tmp_path, TRAIT, "TCGA", clinical.T)
    with pytest.raises(GenoteamError, match="looks like a linked or clinical"):
        write_gene_data(tmp_path, TRAIT, "TCGA", clinical)
    with pytest.raises(GenoteamError, match="expected 'Bile_Duct_Cancer'"):
        write_linked_data(tmp_path, TRAIT, "TCGA", linked.T)
    with pytest.raises(GenoteamError, match="duplicated gene symbols"):
        write_gene_data(tmp_path, TRAIT, "TCGA", pd.concat([genes, genes]))
    assert not (tmp_path / "preprocess").exists() or not any((tmp_path / "preprocess").rglob("*.csv"))


def test_significant_genes_json(tmp_path: Path) -> None:
    result = {
        "significant_genes": {"Variable": ["CA9", "TP53"], "Coefficient": [-1.5, 0.5], "Absolute Coefficient": [1.5, 0.5],
                              "p_value": [1e-9, float("nan")]},
        "cv_performance": {"prediction": {"accuracy": np.float64(0.9)}},
        "method": "moderated_t",
    }  # fmt: skip
    path = write_significant_genes(tmp_path, TRAIT, None, result)
    data = json.loads(path.read_text())  # strict JSON: NaN became null, numpy became float
    assert (
        data["significant_genes"]["Variable"] == ["CA9", "TP53"]
        and data["significant_genes"]["p_value"][1] is None
    )
    assert data["cv_performance"]["prediction"]["accuracy"] == 0.9 and data["method"] == "moderated_t"
    assert read_significant_genes(tmp_path, TRAIT, "None")["method"] == "moderated_t"
    bad = {"significant_genes": {"Variable": ["A"], "Coefficient": [1.0, 2.0], "Absolute Coefficient": [1.0]},
           "cv_performance": {}}  # fmt: skip
    with pytest.raises(GenoteamError, match="one length"):
        write_significant_genes(tmp_path, TRAIT, "Age", bad)
    with pytest.raises(GenoteamError, match="lacks"):
        write_significant_genes(
            tmp_path, TRAIT, "Age", {"significant_genes": {"Variable": []}, "cv_performance": {}}
        )
    assert not (tmp_path / "regress" / TRAIT / "significant_genes_condition_Age.json").exists()


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x" / "file.json"
    atomic_write_bytes(target, b"old complete content")

    # the write itself fails (here: a str is not bytes) after the temp file exists
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old complete content"
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]  # no temp file left


def test_readers_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_gene_data(tmp_path, TRAIT, "GSE1")
    bad = OutputLayout(tmp_path).significant_genes_path(TRAIT, None)
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON"):
        layout.read_significant_genes(tmp_path, TRAIT, None)


def test_fast_csv_matches_pandas() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        rng.normal(size=(4, 5)) * 10.0 ** rng.integers(-30, 30, size=(4, 5)),
        index=["a", "b,c", 'q"uote', " pad"],
        columns=["G1", "G,2", "G3", "Age", "x"],
    )
    df.iloc[0, 0] = np.nan
    df.iloc[1, 1] = np.inf
    df.index.name = "Gene"
    ours = pd.read_csv(io.StringIO(layout.frame_to_csv(df)), index_col=0)
    theirs = pd.read_csv(io.StringIO(df.to_csv()), index_col=0)
    pd.testing.assert_frame_equal(ours, theirs)
    pd.testing.assert_frame_equal(ours, df)  # exact round trip of every float
    mixed = df.assign(label="x")  # not all float: pandas writes it
    assert layout.frame_to_csv(mixed) == mixed.to_csv()
