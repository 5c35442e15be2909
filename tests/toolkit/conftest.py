"""Fixtures for the GEO toolkit tests: the real GEO files and a writer of small GEO files.

The writer produces files in GEO's own layouts (series matrix, family SOFT) from a few
numbers, so tests know the truth exactly; the real files check that the readers hold up on
what GEO actually publishes.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def gse781_soft(shared_input: Path) -> Path:
    return shared_input / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE781" / "GSE781_family.soft.gz"


@pytest.fixture(scope="session")
def extra_geo(shared_data: Path) -> Path:
    return shared_data / "extra_geo"


@pytest.fixture(scope="session")
def gse781(gse781_soft: Path):
    """GSE781 parsed once for the whole session (it takes about two seconds)."""
    from genoteam.toolkit.geo import read_geo

    return read_geo(gse781_soft)


def _quote(value: str) -> str:
    return f'"{value}"'


def render_series_matrix(
    accession: str,
    platform: str,
    samples: dict[str, dict[str, object]],
    probes: dict[str, list[object]],
    with_end: bool = True,
) -> str:
    """A GEO series-matrix text: !Series_/!Sample_ header lines, then the quoted table.

    samples: GSM -> {"title": str, "source_name_ch1": str, "characteristics_ch1": [str, ...]}
    probes: probe ID -> one value per sample (None is written as GEO's empty cell).
    """
    gsms = list(samples)
    lines = [
        f"!Series_title\t{_quote(accession + ' synthetic series')}",
        f"!Series_geo_accession\t{_quote(accession)}",
        f"!Series_summary\t{_quote('A small series written by the tests.')}",
        f"!Series_overall_design\t{_quote('cases versus controls')}",
        f"!Series_platform_id\t{_quote(platform)}",
        "!Sample_title\t" + "\t".join(_quote(str(samples[g]["title"])) for g in gsms),
        "!Sample_geo_accession\t" + "\t".join(_quote(g) for g in gsms),
        "!Sample_source_name_ch1\t" + "\t".join(_quote(str(samples[g]["source_name_ch1"])) for g in gsms),
        "!Sample_platform_id\t" + "\t".join(_quote(platform) for _ in gsms),
    ]
    depth = max(len(s.get("characteristics_ch1", [])) for s in samples.values())
    for i in range(depth):
        cells = [samples[g].get("characteristics_ch1", []) for g in gsms]
        lines.append(
            "!Sample_characteristics_ch1\t" + "\t".join(_quote(c[i] if i < len(c) else "") for c in cells)
        )
    lines.append("!series_matrix_table_begin")
    lines.append("\t".join([_quote("ID_REF")] + [_quote(g) for g in gsms]))
    for probe, values in probes.items():
        lines.append("\t".join([_quote(probe)] + ["" if v is None else str(v) for v in values]))
    if with_end:
        lines.append("!series_matrix_table_end")
    return "\n".join(lines) + "\n"


@pytest.fixture(name="render_series_matrix")
def render_series_matrix_fixture() -> Callable[..., str]:
    """The series-matrix renderer itself, for tests that damage the bytes they write."""
    return render_series_matrix


@pytest.fixture
def write_series_matrix(tmp_path: Path) -> Callable[..., Path]:
    """Write render_series_matrix(...) to tmp_path/name (gzip when name ends in .gz)."""

    def write(name: str, **kwargs) -> Path:
        path = tmp_path / name
        text = render_series_matrix(**kwargs).encode("utf-8")
        path.write_bytes(gzip.compress(text, mtime=0) if name.endswith(".gz") else text)
        return path

    return write


SMALL_SAMPLES = {
    "GSM1": {
        "title": "patient 1 tumour",
        "source_name_ch1": "breast tumour",
        "characteristics_ch1": ["tissue: tumor", "age: 56 yrs", "Sex: F"],
    },
    "GSM2": {
        "title": "patient 2 normal",
        "source_name_ch1": "normal breast",
        "characteristics_ch1": ["tissue: normal", "age: 61 yrs", "Sex: M"],
    },
    "GSM3": {
        "title": "patient 3 tumour",
        "source_name_ch1": "breast tumour",
        "characteristics_ch1": ["tissue: tumor", "age: 47 yrs", "Sex: F"],
    },
}
SMALL_PROBES = {"p1": [1.5, 2.0, 3.25], "p2": [10, None, 30], "p3": ["null", 4, 5]}


@pytest.fixture
def small_matrix_kwargs() -> dict:
    """A three-sample, three-probe series on platform GPL0 (values known to the tests)."""
    return {"accession": "GSE1", "platform": "GPL0", "samples": SMALL_SAMPLES, "probes": SMALL_PROBES}
