"""GEO download into the content-addressed cache, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import socket
import time
from pathlib import Path

import pytest

from genoteam.data.cache import ContentCache, sha256_of_file
from genoteam.data.geo_download import (
    DownloadPolicy,
    fetch_geo_series,
    matrix_names_from_listing,
    series_stub,
    series_url,
)
from genoteam.toolkit.errors import GenoteamError

FAST = DownloadPolicy(timeout_s=5.0, attempts=3, backoff_s=0.01, backoff_max_s=0.05)


@pytest.fixture
def gse781_soft(shared_input: Path) -> Path:
    return shared_input / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE781" / "GSE781_family.soft.gz"


def _blobs(cache: Path) -> list[Path]:
    return [p for p in (cache / "blobs").rglob("*") if p.is_file()] if (cache / "blobs").exists() else []


def _matrix(tmp_path: Path, name: str, platform: str) -> Path:
    path = tmp_path / name
    text = (
        f'!Series_geo_accession\t"GSE12345"\n!Series_platform_id\t"{platform}"\n'
        '!series_matrix_table_begin\n"ID_REF"\t"GSM1"\t"GSM2"\n"1007_s_at"\t5.1\t6.2\n!series_matrix_table_end\n'
    )
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return path


def test_urls_follow_geo_layout() -> None:
    assert series_stub("GSE781") == "GSEnnn"
    assert series_stub("GSE12345") == "GSE12nnn"
    assert series_stub("GSE100001") == "GSE100nnn"
    assert series_url("GSE2034") == "https://ftp.ncbi.nlm.nih.gov/geo/series/GSE2nnn/GSE2034"
    with pytest.raises(GenoteamError, match="not a GEO series accession"):
        series_stub("GSM11805")
    with pytest.raises(GenoteamError, match="not http"):
        series_url("GSE781", "file:///etc")
    html = '<a href="GSE5-GPL96_series_matrix.txt.gz">x</a><a href="/x/GSE5-GPL97_series_matrix.txt.gz">y</a><a href="GSE55_series_matrix.txt.gz">'
    assert matrix_names_from_listing(html, "GSE5") == [
        "GSE5-GPL96_series_matrix.txt.gz",
        "GSE5-GPL97_series_matrix.txt.gz",
    ]


def test_fetch_soft_once_then_from_cache(geo_server, gse781_soft: Path, tmp_path: Path) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    cache = tmp_path / "cache"
    result = fetch_geo_series("GSE781", base_url=geo_server.base_url, cache_dir=cache, policy=FAST)
    assert [f.name for f in result.files] == ["GSE781_family.soft.gz"]
    assert result.missing_kinds == ["matrix"]  # GSE781 has no series matrix on this server
    assert result.files[0].sha256 == sha256_of_file(gse781_soft) and not result.from_cache
    placed = result.place_into(tmp_path / "input" / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE781")
    assert placed[0].name == "GSE781_family.soft.gz" and placed[0].read_bytes() == gse781_soft.read_bytes()
    assert geo_server.count(url_path) == 1

    n_requests = len(geo_server.requests)
    again = fetch_geo_series("GSE781", base_url=geo_server.base_url, cache_dir=cache, policy=FAST)
    assert again.from_cache and len(geo_server.requests) == n_requests  # no request at all
    offline = fetch_geo_series("GSE781", cache_dir=cache, offline=True)
    assert offline.files[0].sha256 == result.files[0].sha256


def test_multi_platform_series_matrix(geo_server, tmp_path: Path) -> None:
    for platform in ("GPL96", "GPL97"):
        name = f"GSE12345-{platform}_series_matrix.txt.gz"
        geo_server.add("GSE12345", "matrix", _matrix(tmp_path, name, platform))
    result = fetch_geo_series(
        "GSE12345", kinds=["matrix"], base_url=geo_server.base_url, cache_dir=tmp_path / "c", policy=FAST
    )
    assert [f.name for f in result.files] == [
        "GSE12345-GPL96_series_matrix.txt.gz",
        "GSE12345-GPL97_series_matrix.txt.gz",
    ]
    assert result.missing_kinds == []
    with gzip.open(result.files[1].path, "rt") as handle:
        assert "GPL97" in handle.read()


def test_server_failing_twice_then_succeeding(geo_server, gse781_soft: Path, tmp_path: Path) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    geo_server.faults.fail_first[url_path] = 2
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)

    result = fetch_geo_series(
        "GSE781",
        kinds=["soft"],
        base_url=geo_server.base_url,
        cache_dir=tmp_path / "c",
        policy=FAST,
        sleep=sleep,
    )
    assert result.files[0].sha256 == sha256_of_file(gse781_soft)
    assert geo_server.count(url_path) == 3
    assert delays == [0.01, 0.02]  # exponential backoff


def test_outage_longer_than_the_attempts_fails_cleanly(geo_server, gse781_soft: Path, tmp_path: Path) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    geo_server.faults.fail_first[url_path] = 10
    cache = tmp_path / "c"
    with pytest.raises(GenoteamError, match=r"GSE781.*HTTP 503") as info:
        fetch_geo_series("GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=cache, policy=FAST)
    assert str(cache) in str(info.value) and geo_server.count(url_path) == 3
    assert _blobs(cache) == [] and not (cache / "refs").exists()


def test_truncated_response_is_retried_then_rejected(geo_server, gse781_soft: Path, tmp_path: Path) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    geo_server.faults.truncate[url_path] = 1  # cut short once, complete the second time
    result = fetch_geo_series(
        "GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=tmp_path / "c1", policy=FAST
    )
    assert result.files[0].size == gse781_soft.stat().st_size and geo_server.count(url_path) == 2

    geo_server.faults.truncate[url_path] = 99  # always cut short
    cache = tmp_path / "c2"
    with pytest.raises(GenoteamError, match=r"GSE781.*(truncated|broke off)"):
        fetch_geo_series("GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=cache, policy=FAST)
    assert _blobs(cache) == [] and not (cache / "refs").exists()
    # only the unfinished bytes stay, as a partial that the next attempt resumes
    assert [p.name.startswith("partial-") for p in (cache / "tmp").iterdir()] == [True]


def test_truncated_without_content_length_caught_by_gzip_check(
    geo_server, gse781_soft: Path, tmp_path: Path
) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    geo_server.faults.truncate_without_length.add(url_path)
    cache = tmp_path / "c"
    with pytest.raises(GenoteamError, match="not a complete gzip file"):
        fetch_geo_series("GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=cache, policy=FAST)
    assert _blobs(cache) == []


def test_dead_port_names_accession_and_cache(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cache = tmp_path / "cache"
    started = time.monotonic()
    with pytest.raises(GenoteamError) as info:
        fetch_geo_series("GSE781", base_url=f"http://127.0.0.1:{port}/geo", cache_dir=cache, policy=FAST)
    message = str(info.value)
    assert "GSE781" in message and str(cache) in message and "Connection refused" in message
    assert time.monotonic() - started < 5


def test_stalled_server_times_out(geo_server, gse781_soft: Path, tmp_path: Path) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    geo_server.faults.stall_s[url_path] = 2.0
    policy = DownloadPolicy(timeout_s=0.3, attempts=1, backoff_s=0.01)
    with pytest.raises(GenoteamError, match=r"GSE781.*timed out"):
        fetch_geo_series(
            "GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=tmp_path / "c", policy=policy
        )


def test_offline_without_cache_and_unknown_accession(geo_server, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    with pytest.raises(GenoteamError, match=r"GSE781 is not in the cache .*offline"):
        fetch_geo_series("GSE781", cache_dir=cache, offline=True)
    with pytest.raises(GenoteamError, match="no matrix or soft file found"):
        fetch_geo_series("GSE999", base_url=geo_server.base_url, cache_dir=cache, policy=FAST)


def test_checksums_corrupt_blob_and_expected_sha(geo_server, gse781_soft: Path, tmp_path: Path) -> None:
    url_path = geo_server.add("GSE781", "soft", gse781_soft)
    cache = tmp_path / "c"
    first = fetch_geo_series(
        "GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=cache, policy=FAST
    )
    blob = first.files[0].path
    blob.chmod(0o644)
    blob.write_bytes(b"bit rot")  # the cache no longer hashes to its name: fetched again
    second = fetch_geo_series(
        "GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=cache, policy=FAST
    )
    assert not second.from_cache and geo_server.count(url_path) == 2
    assert ContentCache(cache).has_valid_blob(second.files[0].sha256)

    wrong = {"GSE781_family.soft.gz": hashlib.sha256(b"something else").hexdigest()}
    with pytest.raises(GenoteamError, match="differs from the expected"):
        fetch_geo_series(
            "GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=tmp_path / "c2",
            policy=DownloadPolicy(attempts=1), expected_sha256=wrong,
        )  # fmt: skip
    right = {"GSE781_family.soft.gz": sha256_of_file(gse781_soft)}
    ok = fetch_geo_series(
        "GSE781", kinds=["soft"], base_url=geo_server.base_url, cache_dir=tmp_path / "c3", policy=FAST,
        expected_sha256=right,
    )  # fmt: skip
    assert ok.files[0].sha256 == right["GSE781_family.soft.gz"]
