"""Batches, pairing and what the samples' metadata says: the design rules of docs/statistics.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.geo import read_geo
from genoteam.toolkit.sample_design import SampleInfo, detect_geo_sample_info, detect_tcga_sample_info
from genoteam.toolkit.stats.association import moderated_t_test
from genoteam.toolkit.stats.design import build_design


def _cohort(n: int = 24, genes: int = 30, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.normal(8, 1, (n, genes)), columns=[f"G{i}" for i in range(genes)])
    table.index = [f"S{i}" for i in range(n)]
    table.insert(0, "Trait", np.arange(n) % 2 * 1.0)
    return table


def test_batch_confounded_with_the_trait_is_left_out_with_a_clear_note() -> None:
    linked = _cohort()
    confounded = {s: ("x" if t else "y") for s, t in linked["Trait"].items()}
    design = build_design(linked, "Trait", (), SampleInfo(batches={"scan date": confounded}))
    assert design.batches == [] and design.columns == ["(Intercept)", "Trait"]
    assert any("confounded with the trait" in n and "may reflect the batch" in n for n in design.notes)
    assert design.sample_design["batches"]["scan date"].startswith("confounded")


def test_partly_confounded_batch_is_a_covariate_and_matches_ols() -> None:
    linked = _cohort()
    batch = {s: ("b1" if i < 10 else "b2") for i, s in enumerate(linked.index)}
    design = build_design(linked, "Trait", (), SampleInfo(batches={"batch": batch, "run": {}}))
    assert design.columns == ["(Intercept)", "Trait", "batch[b2]"] and design.batches == ["batch"]
    assert design.sample_design["batches"]["run"].startswith("one level")
    table = moderated_t_test(linked, "Trait", (), SampleInfo(batches={"batch": batch})).set_index("gene")
    x = sm.add_constant(
        np.column_stack([linked["Trait"], [batch[s] == "b2" for s in linked.index]]).astype(float)
    )
    fit = sm.OLS(linked["G3"].to_numpy(), x).fit()
    assert table.loc["G3", "coefficient"] == pytest.approx(fit.params[1], rel=1e-10)


def test_a_field_with_one_level_per_sample_is_not_a_batch() -> None:
    linked = _cohort()
    design = build_design(linked, "Trait", (), SampleInfo(batches={"date": {s: s for s in linked.index}}))
    assert design.batches == [] and any("not a batch" in n for n in design.notes)


def test_pairing_is_used_with_enough_pairs_and_reported_otherwise() -> None:
    linked = _cohort(n=20)
    linked["Age"] = np.repeat(np.arange(10) * 3.0 + 40, 2)  # constant within each individual
    individuals = {s: f"P{i // 2}" for i, s in enumerate(linked.index)}  # 10 pairs, one case + control each
    info = SampleInfo(individuals=individuals, individual_source="sample field 'patient'")
    design = build_design(linked, "Trait", ("Age",), info)
    assert design.paired and design.columns[:2] == ["(Intercept)", "Trait"] and len(design.columns) == 11
    assert "Age" not in design.columns and any("absorbed" in n for n in design.notes)
    table = moderated_t_test(linked, "Trait", ("Age",), info).set_index("gene")
    diffs = linked["G4"].to_numpy()[1::2] - linked["G4"].to_numpy()[::2]  # case - control per individual
    assert table.loc["G4", "coefficient"] == pytest.approx(diffs.mean(), rel=1e-10)
    few = {s: (f"P{i // 2}" if i < 4 else f"Q{i}") for i, s in enumerate(linked.index)}  # 2 pairs
    design = build_design(linked, "Trait", (), SampleInfo(individuals=few, individual_source="x"))
    assert not design.paired and any("2 individuals" in n and "not used" in n for n in design.notes)
    off = build_design(linked, "Trait", (), info, pairing="off")
    assert not off.paired and any("pairing is off" in n for n in off.notes)
    with pytest.raises(GenoteamError, match="unknown pairing mode"):
        build_design(linked, "Trait", (), info, pairing="maybe")


def test_gse781_lot_batch_is_detected(shared_input: Path) -> None:
    series = read_geo(shared_input / "GEO/Kidney_Clear_Cell_Carcinoma/GSE781/GSE781_family.soft.gz")
    info = detect_geo_sample_info(series.platforms["GPL96"].samples)
    assert set(info.batches) == {"lot batch"}
    assert sorted(pd.Series(info.batches["lot batch"]).value_counts()) == [6, 11]
    assert not info.individuals


def test_tcga_plate_and_centre_come_from_aliquot_barcodes_and_participants_pair() -> None:
    aliquots = [
        "TCGA-W5-AA2R-01A-11R-A41I-07",
        "TCGA-W5-AA2R-11A-11R-A41I-07",
        "TCGA-ZU-A8S4-01A-11R-A36G-13",
    ]
    info = detect_tcga_sample_info(aliquots, pd.DataFrame(index=aliquots))
    assert info.batches["plate"] == dict(zip(aliquots, ["A41I", "A41I", "A36G"], strict=True))
    assert info.batches["centre"][aliquots[2]] == "13"
    assert info.individuals[aliquots[0]] == info.individuals[aliquots[1]] == "TCGA-W5-AA2R"
    assert "(1, 2 samples)" in info.comparison and "(0, 1 samples, 1 of them from patients" in info.comparison
    xena = ["TCGA-W5-AA2R-01", "TCGA-W5-AA2R-11"]
    clinical = pd.DataFrame({"batch_number": ["208.63.0", "208.63.0"]}, index=xena)
    info = detect_tcga_sample_info(xena, clinical)
    assert set(info.batches) == {"batch_number"} and any("without plate" in n for n in info.notes)
