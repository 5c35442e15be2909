"""One parse per series: the platform survey reads headers (geo.read_geo_headers) and parses a
series whole only when the platform rule must compare values; geo.PARSES, the counter in
geo.read_geo itself, counts the whole-file parses, here and inside the team's real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genoteam.agents.engine import run_team
from genoteam.agents.llm import TeamConfig
from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.reference import run_reference
from genoteam.synthetic import SynthConfig, generate
from genoteam.toolkit import geo
from genoteam.toolkit.platforms import group_platforms, survey_series

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.fixture(scope="module")
def synthetic_input(tmp_path_factory) -> Path:
    """Two single-platform GEO series (series matrix + family SOFT each) and a TCGA cohort."""
    root = tmp_path_factory.mktemp("one-parse")
    generate(SynthConfig(n_genes=300, n_samples=24, kind="both", n_geo_cohorts=2, seed=5), root / "input")
    return root / "input"


@pytest.fixture(scope="module")
def gse781(shared_input: Path) -> tuple[Path, geo.GeoSeries]:
    """The real two-platform series (GPL96 + GPL97, the same 17 specimens) and its whole read."""
    folder = shared_input / "GEO" / TRAIT / "GSE781"
    return folder, geo.read_geo_cohort(folder)


def _series_dirs(input_dir: Path) -> list[Path]:
    return sorted(p for p in (input_dir / "GEO" / TRAIT).iterdir() if p.is_dir())


def _parses(before: dict[str, int]) -> dict[str, int]:
    return {path: n - before.get(path, 0) for path, n in geo.PARSES.items() if n != before.get(path, 0)}


def test_headers_hold_what_the_survey_needs_without_the_values(synthetic_input: Path, gse781):
    reads = [(folder, geo.read_geo_cohort(folder)) for folder in _series_dirs(synthetic_input)]
    for folder, full in [*reads, gse781]:
        before = dict(geo.PARSES)
        headers = geo.read_geo_headers(folder)
        assert _parses(before) == {}, folder  # no whole-file parse
        assert (headers.accession, headers.background) == (full.accession, full.background)
        assert list(headers.platforms) == list(full.platforms)
        for pid, data in headers.platforms.items():
            assert not data.values_read and data.expression.empty
            assert list(data.expression.columns) == list(full.platforms[pid].expression.columns)
            pd.testing.assert_frame_equal(data.samples, full.platforms[pid].samples)
            if len(full.platforms) > 1:  # what the platform rule compares
                assert list(data.annotation.columns) == list(full.platforms[pid].annotation.columns)


def test_survey_parses_single_platform_series_never_and_twin_platforms_once(synthetic_input: Path, gse781):
    for folder in _series_dirs(synthetic_input):
        before = dict(geo.PARSES)
        surveyed = survey_series(folder, with_background=True)
        assert _parses(before) == {}
        full = geo.read_geo_cohort(folder)
        assert surveyed == {
            "cohorts": {c: "+".join(ids) for c, ids in group_platforms(full).cohorts.items()},
            "background": full.background,
        }
    folder = gse781[0]
    before = dict(geo.PARSES)
    assert survey_series(folder) == {"cohorts": {"GSE781": "GPL96+GPL97"}}  # scales compared: values read
    assert _parses(before) == {str(folder / "GSE781_family.soft.gz"): 1}


def test_reference_parses_each_series_once(synthetic_input: Path, tmp_path: Path):
    before = dict(geo.PARSES)
    result = run_reference(AnalysisRequest(trait=TRAIT), synthetic_input, tmp_path)
    assert result.status == "complete"
    parsed = _parses(before)
    series_files = {str(f) for d in _series_dirs(synthetic_input) for f in d.iterdir() if "matrix" in f.name}
    assert set(parsed) == series_files and set(parsed.values()) == {1}


def test_the_teams_survey_parses_no_series_whole(synthetic_input: Path, tmp_path: Path):
    """A real offline team run: its survey kernel reports geo.PARSES, recorded in provenance."""
    result = run_team(
        AnalysisRequest(trait=TRAIT),
        synthetic_input,
        tmp_path / "out",
        sandbox="local",
        config=TeamConfig(),
        memory_path=tmp_path / "memory.sqlite",
    )
    assert result.status == "complete"
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    survey = provenance["sandbox"]["sessions"]["pi-survey"]
    assert survey["geo_files_parsed"] == {}
    assert {c.cohort for c in result.cohorts} >= {d.name for d in _series_dirs(synthetic_input)}
