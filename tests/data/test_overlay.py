"""The job-local input overlay: missing GEO series fetched (once) from a real loopback GEO server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from genoteam.data.cache import sha256_of_file
from genoteam.data.catalogue import CohortCatalogue
from genoteam.data.geo_download import DownloadPolicy
from genoteam.data.overlay import (
    OVERLAY_DIR,
    GeoFetcher,
    env_offline,
    input_with_accessions,
    missing_accessions,
    series_accession,
)
from genoteam.server.catalog import unknown_cohorts

TRAIT = "Kidney_Clear_Cell_Carcinoma"
FAST = DownloadPolicy(timeout_s=5.0, attempts=2, backoff_s=0.01, backoff_max_s=0.05)


@pytest.fixture
def gse781_soft(shared_input: Path) -> Path:
    return shared_input / "GEO" / TRAIT / "GSE781" / "GSE781_family.soft.gz"


@pytest.fixture
def input_without_gse781(tmp_path: Path, shared_input: Path) -> Path:
    """A GenoTEX-layout input: the real TCGA folder, and a trait folder holding one small
    generated series (GSE99999) but not GSE781."""
    root = tmp_path / "input"
    (root / "GEO" / TRAIT / "GSE99999").mkdir(parents=True)
    (root / "GEO" / TRAIT / "GSE99999" / "GSE99999_series_matrix.txt").write_text('"ID_REF"\t"GSM1"\n')
    (root / "GEO" / "Other_Trait").mkdir()
    (root / "TCGA").symlink_to(shared_input / "TCGA")
    return root


def dead_base_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/geo"


def test_ids_and_missing_series(input_without_gse781: Path) -> None:
    assert series_accession("GSE781") == "GSE781"
    assert series_accession("GSE781_GPL96") == "GSE781"
    assert series_accession("CHOL") is None
    assert series_accession("GSM11805") is None
    cohorts = ["GSE781_GPL97", "GSE99999", "KIRC", "GSE781"]
    assert missing_accessions(input_without_gse781, [TRAIT], cohorts) == ["GSE781"]
    assert missing_accessions(input_without_gse781, ["Other_Trait"], cohorts) == ["GSE781", "GSE99999"]
    assert missing_accessions(input_without_gse781, ["Other_Trait", TRAIT], cohorts) == ["GSE781"]
    # the server's validation lets GEO series through (the worker fetches them), not unknown codes
    asked = ["GSE781", "GSE781_GPL96", "KIRC", "TCGA", "TCGA_KIRC", "XYZ", "TCGA_CHOL"]
    assert unknown_cohorts(input_without_gse781, [TRAIT], asked) == ["TCGA_CHOL", "XYZ"]
    assert unknown_cohorts(input_without_gse781, [TRAIT], None) == []


def test_missing_series_is_downloaded_once_into_an_overlay(
    input_without_gse781: Path, tmp_path: Path, geo_server, gse781_soft: Path
) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    fetch = GeoFetcher(cache_dir=tmp_path / "cache", base_url=geo_server.base_url, policy=FAST)
    steps: list[str] = []

    folder, notes = input_with_accessions(
        input_without_gse781, TRAIT, ["GSE781"], tmp_path / "job1", fetch, progress=steps.append
    )
    assert folder == tmp_path / "job1" / OVERLAY_DIR
    assert [(n.accession, n.outcome) for n in notes] == [("GSE781", "downloaded")]
    assert "GSE781_family.soft.gz" in notes[0].detail
    assert steps == ["downloading GSE781 from GEO"]
    assert geo_server.count(url_path) == 1
    placed = folder / "GEO" / TRAIT / "GSE781" / "GSE781_family.soft.gz"
    assert sha256_of_file(placed) == sha256_of_file(gse781_soft)
    # the overlay is the input plus the series: existing series, other traits and TCGA are linked
    catalogue = CohortCatalogue(folder)
    assert [c.id for c in catalogue.geo_cohorts(TRAIT)] == ["GSE781", "GSE99999"]
    assert catalogue.geo_traits() == ["Kidney_Clear_Cell_Carcinoma", "Other_Trait"]
    assert catalogue.tcga_match(TRAIT) is not None
    assert (folder / "TCGA").is_symlink()
    assert not (input_without_gse781 / "GEO" / TRAIT / "GSE781").exists()  # the input is untouched

    # a second job: from the cache, no request at all
    served = len(geo_server.requests)
    folder2, notes2 = input_with_accessions(input_without_gse781, TRAIT, ["GSE781"], tmp_path / "job2", fetch)
    assert [(n.accession, n.outcome) for n in notes2] == [("GSE781", "cached")]
    assert len(geo_server.requests) == served
    assert sha256_of_file(folder2 / "GEO" / TRAIT / "GSE781" / "GSE781_family.soft.gz") == sha256_of_file(
        gse781_soft
    )


def test_rerun_rebuilds_the_overlay(
    input_without_gse781: Path, tmp_path: Path, geo_server, gse781_soft
) -> None:
    geo_server.add("GSE781", "soft", gse781_soft)
    fetch = GeoFetcher(cache_dir=tmp_path / "cache", base_url=geo_server.base_url, policy=FAST)
    input_with_accessions(input_without_gse781, TRAIT, ["GSE781"], tmp_path / "job", fetch)
    (input_without_gse781 / "GEO" / TRAIT / "GSE12345").mkdir()  # the input changed meanwhile
    folder, notes = input_with_accessions(input_without_gse781, TRAIT, ["GSE781"], tmp_path / "job", fetch)
    assert [n.outcome for n in notes] == ["cached"]
    assert [c.id for c in CohortCatalogue(folder).geo_cohorts(TRAIT)] == ["GSE12345", "GSE781", "GSE99999"]


def test_nothing_missing_keeps_the_input(input_without_gse781: Path, tmp_path: Path) -> None:
    fetch = GeoFetcher(cache_dir=tmp_path / "cache", base_url=dead_base_url(), policy=FAST)
    folder, notes = input_with_accessions(
        input_without_gse781, TRAIT, ["GSE99999", "KIRC"], tmp_path / "job", fetch
    )
    assert (folder, notes) == (input_without_gse781, [])
    assert not (tmp_path / "job").exists()


def test_series_of_another_trait_is_linked_not_downloaded(
    input_without_gse781: Path, tmp_path: Path, geo_server
) -> None:
    fetch = GeoFetcher(cache_dir=tmp_path / "cache", base_url=geo_server.base_url, policy=FAST)
    folder, notes = input_with_accessions(
        input_without_gse781, "Other_Trait", ["GSE99999"], tmp_path / "j", fetch
    )
    assert [(n.accession, n.outcome) for n in notes] == [("GSE99999", "linked")]
    assert (folder / "GEO" / "Other_Trait" / "GSE99999" / "GSE99999_series_matrix.txt").is_file()
    assert geo_server.requests == []
    # the condition trait's folder counts as present: nothing to do
    folder, notes = input_with_accessions(
        input_without_gse781, "Other_Trait", ["GSE99999"], tmp_path / "j2", fetch, also_in=[TRAIT]
    )
    assert (folder, notes) == (input_without_gse781, [])


def test_unreachable_geo_names_accession_url_and_cache(input_without_gse781: Path, tmp_path: Path) -> None:
    base = dead_base_url()
    fetch = GeoFetcher(cache_dir=tmp_path / "cache", base_url=base, policy=FAST)
    folder, notes = input_with_accessions(
        input_without_gse781, TRAIT, ["GSE781", "GSE99999"], tmp_path / "job", fetch
    )
    assert [(n.accession, n.outcome) for n in notes] == [("GSE781", "failed")]
    detail = notes[0].detail
    assert "GSE781" in detail and base in detail and str(tmp_path / "cache") in detail
    # the other cohorts go on: the overlay still holds the local series, without the failed one
    assert [c.id for c in CohortCatalogue(folder).geo_cohorts(TRAIT)] == ["GSE99999"]


def test_offline_uses_only_the_cache(
    input_without_gse781: Path, tmp_path: Path, geo_server, gse781_soft: Path, monkeypatch
) -> None:
    geo_server.add("GSE781", "soft", gse781_soft)
    cache = tmp_path / "cache"
    offline = GeoFetcher(cache_dir=cache, base_url=geo_server.base_url, offline=True, policy=FAST)
    _, notes = input_with_accessions(input_without_gse781, TRAIT, ["GSE781"], tmp_path / "a", offline)
    assert notes[0].failed and "offline" in notes[0].detail and str(cache) in notes[0].detail
    assert geo_server.requests == []
    online = GeoFetcher(cache_dir=cache, base_url=geo_server.base_url, policy=FAST)
    input_with_accessions(input_without_gse781, TRAIT, ["GSE781"], tmp_path / "b", online)
    _, notes = input_with_accessions(input_without_gse781, TRAIT, ["GSE781"], tmp_path / "c", offline)
    assert [n.outcome for n in notes] == ["cached"]
    # the worker reads GENOTEAM_OFFLINE
    monkeypatch.setenv("GENOTEAM_OFFLINE", "1")
    assert env_offline()
    monkeypatch.setenv("GENOTEAM_OFFLINE", "0")
    assert not env_offline()
