"""Several platforms of one series: the same specimens make one cohort (GSE781: HG-U133A + B),
different specimens stay separate cohorts, and twins lend each other metadata before any
imputation (docs/geo.md, "Several platforms")."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.reference import run_reference
from genoteam.toolkit.clinical_geo import extract_geo_clinical
from genoteam.toolkit.geo import GeoSeries, read_geo_cohort
from genoteam.toolkit.platforms import group_platforms, match_platforms, series_cohorts

TRAIT = "Kidney_Clear_Cell_Carcinoma"


def _reordered(series: GeoSeries, order: list[str], drop: dict[str, list[str]] | None = None) -> GeoSeries:
    """The series with its platforms in `order`, and some samples removed from some platforms."""
    platforms = {}
    for pid in order:
        data = series.platforms[pid]
        gone = (drop or {}).get(pid, [])
        platforms[pid] = type(data)(
            pid,
            data.expression.drop(columns=gone),
            data.annotation,
            data.samples.drop(index=gone),
            list(data.notes),
        )
    return GeoSeries(series.accession, series.background, platforms, series.source, series.source_kind)


def test_gse781_platforms_hold_the_same_specimens_and_make_one_cohort(gse781):
    match = match_platforms(
        "GPL96", gse781.platforms["GPL96"].samples, "GPL97", gse781.platforms["GPL97"].samples
    )
    assert match.complete and len(match.twins) == 17
    assert match.twins["GSM11805"] == "GSM11810"  # N035 Normal Human Kidney U133A / U133B
    assert match.twins["GSM12283"] == "GSM12287"  # N2 "Renal Clear Cell Carcinoma" U133A / U133B
    assert "u133a" in match.rule and "u133b" in match.rule
    cohorts = series_cohorts(gse781)
    assert list(cohorts) == ["GSE781"]
    block = cohorts["GSE781"].only_platform()
    assert block.platform_id == "GPL96+GPL97"
    n96, n97 = len(gse781.platforms["GPL96"].expression), len(gse781.platforms["GPL97"].expression)
    assert block.expression.shape == (n96 + n97, 17)  # every probe of both arrays, nothing dropped
    assert list(block.expression.columns) == list(gse781.platforms["GPL96"].expression.columns)
    gpl97 = gse781.platforms["GPL97"].expression
    clash = [p for p in gpl97.index if p in gse781.platforms["GPL96"].expression.index]
    probe = next(p for p in gpl97.index if p not in clash)
    assert (
        block.expression.loc[probe, "GSM11805"] == gpl97.loc[probe, "GSM11810"]
    )  # twin's value, same column
    assert block.expression.loc[f"GPL97:{clash[0]}", "GSM11805"] == gpl97.loc[clash[0], "GSM11810"]
    assert block.annotation.loc[probe].notna().any()
    assert block.samples.loc["GSM11805", "twin_gsm"] == "GPL97:GSM11810"
    assert any("one cohort" in n for n in block.notes) and any("renamed" in n for n in block.notes)


def test_twin_metadata_is_taken_before_any_imputation(gse781):
    """GSM11810 (N035 on GPL97) has no age or sex of its own; its GPL96 twin says 70, Female."""
    own = gse781.platforms["GPL97"].samples.loc["GSM11810", "description"]
    assert "Age" not in own and "Gender" not in own
    first_gpl97 = series_cohorts(_reordered(gse781, ["GPL97", "GPL96"]))["GSE781"].only_platform()
    clinical, _ = extract_geo_clinical(first_gpl97.samples, TRAIT)
    assert clinical.loc["Age", "GSM11810"] == 70.0
    assert clinical.loc["Gender", "GSM11810"] == clinical.loc["Gender", "GSM11827"]  # N023: Female too
    assert clinical.loc["Age"].notna().all() and clinical.loc["Gender"].notna().all()
    assert any("completed from their GPL96 twins" in n for n in first_gpl97.notes)
    # platforms that only partly share specimens stay separate, yet twins still lend metadata
    partial = series_cohorts(_reordered(gse781, ["GPL96", "GPL97"], {"GPL96": ["GSM12444"]}))
    assert list(partial) == ["GSE781_GPL96", "GSE781_GPL97"]
    gpl97 = partial["GSE781_GPL97"].only_platform()
    clinical97, _ = extract_geo_clinical(gpl97.samples, TRAIT)
    assert clinical97.loc["Age", "GSM11810"] == 70.0
    assert any("only 16 of 16/17 samples are twins" in n for n in gpl97.notes)


def test_platforms_on_different_specimens_stay_separate_cohorts(
    tmp_path, write_series_matrix, small_matrix_kwargs
):
    folder = tmp_path / "GSE1"
    folder.mkdir()
    others = {
        f"GSM{i + 10}": dict(s, title=f"donor {i + 7} {s['title'].split()[-1]}")
        for i, s in enumerate(small_matrix_kwargs["samples"].values())
    }
    for name, kwargs in (
        ("GSE1-GPL0_series_matrix.txt.gz", small_matrix_kwargs),
        ("GSE1-GPL1_series_matrix.txt.gz", dict(small_matrix_kwargs, platform="GPL1", samples=others)),
    ):
        write_series_matrix(name, **kwargs).rename(folder / name)
    series = read_geo_cohort(folder)
    groups = group_platforms(series)
    assert groups.cohorts == {"GSE1_GPL0": ("GPL0",), "GSE1_GPL1": ("GPL1",)}
    assert groups.notes == ["GPL0 and GPL1 share no specimen: separate cohorts"]
    cohorts = series_cohorts(series)
    assert [c.only_platform().platform_id for c in cohorts.values()] == ["GPL0", "GPL1"]


def test_relation_fields_name_twins_and_scales_must_agree():
    def samples(ids, titles, relation=None):
        frame = pd.DataFrame({"title": titles, "source_name_ch1": ["kidney"] * len(ids)}, index=ids)
        if relation:
            frame["relation"] = relation
        return frame

    a = samples(["GSM1", "GSM2"], ["x", "y"])
    b = samples(["GSM3", "GSM4"], ["p", "q"], ["Alternative to: GSM2", "Alternative to: GSM1"])
    match = match_platforms("GPL1", a, "GPL2", b)
    assert match.twins == {"GSM2": "GSM3", "GSM1": "GSM4"} and match.complete
    assert match.rule == "GEO relation fields"
    one = samples(["GSM1"], ["n1 A"])
    assert not match_platforms("GPL1", one, "GPL2", samples(["GSM5"], ["n1 B"])).complete  # < 2 specimens


def test_the_reference_reports_both_separate_platform_cohorts(tmp_path: Path, render_series_matrix):
    folder = tmp_path / "input" / "GEO" / "Some_Trait" / "GSE1"
    folder.mkdir(parents=True)
    for platform, first in (("GPL0", 1), ("GPL1", 20)):
        samples = {
            f"GSM{first + i}": {
                "title": f"donor {first + i} {'case' if i % 2 else 'control'}",
                "source_name_ch1": "blood",
                "characteristics_ch1": [f"some trait: {'yes' if i % 2 else 'no'}"],
            }
            for i in range(6)
        }
        probes = {
            gene: [float(v + i) for i in range(6)] for v, gene in enumerate(["TP53", "EGFR", "MYC", "GAPDH"])
        }
        text = render_series_matrix("GSE1", platform, samples, probes)
        (folder / f"GSE1-{platform}_series_matrix.txt").write_text(text)
    result = run_reference(
        AnalysisRequest(trait="Some_Trait"), tmp_path / "input", tmp_path / "out", stage="preprocess"
    )
    assert [o.cohort for o in result.cohorts] == ["GSE1_GPL0", "GSE1_GPL1"]
    info = json.loads((tmp_path / "out" / "preprocess" / "Some_Trait" / "cohort_info.json").read_text())
    assert sorted(info) == ["GSE1_GPL0", "GSE1_GPL1"]
