"""Jobs that name a GEO series missing from the input folder: real workers fetch it from a
loopback GEO server into <workspace>/geo_cache (once) and run the reference engine on it."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from genoteam.pipeline.api import AnalysisRequest
from genoteam.server.cli import config_from_args
from genoteam.server.engines import resolve_target
from genoteam.server.jobs import TERMINAL, JobRecord, JobStore
from genoteam.toolkit.errors import GenoteamError

TRAIT = "Kidney_Clear_Cell_Carcinoma"
SOFT = "GSE781_family.soft.gz"


@pytest.fixture
def input_without_gse781(tmp_path: Path, shared_input: Path) -> Path:
    root = tmp_path / "input"
    (root / "GEO" / TRAIT).mkdir(parents=True)
    (root / "TCGA").symlink_to(shared_input / "TCGA")
    return root


def run_to_end(store: JobStore, kind: str, request: AnalysisRequest, input_dir: Path) -> JobRecord:
    record, started = store.submit(kind, request, "reference", resolve_target("reference"), input_dir)
    assert started
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = store.get(record.job_id)
        if record.status.state in TERMINAL:
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {record.job_id} did not end: {record.status}")


def worker_log(store: JobStore, record: JobRecord) -> str:
    return (store.job_dir(record.job_id) / "worker.log").read_text()


@pytest.mark.slow
def test_job_downloads_missing_series_once(
    input_without_gse781: Path, shared_input: Path, workspace: Path, geo_server, monkeypatch
) -> None:
    url_path = geo_server.add("GSE781", "soft", shared_input / "GEO" / TRAIT / "GSE781" / SOFT)
    monkeypatch.setenv("GENOTEAM_GEO_BASE_URL", geo_server.base_url)  # the workers inherit it
    monkeypatch.delenv("GENOTEAM_OFFLINE", raising=False)
    store = JobStore(workspace)

    # GSE99999 is on no server: it fails with a clear note, GSE781 goes on (a partial result)
    first = run_to_end(
        store, "analyze", AnalysisRequest(trait=TRAIT, cohorts=["GSE781", "GSE99999"]), input_without_gse781
    )
    assert first.status.state == "complete", worker_log(store, first)
    result = store.read_result(first.job_id)
    assert result.status == "partial"
    usable = sorted(c.cohort for c in result.cohorts if c.usable)
    assert usable == ["GSE781"]  # GPL96 and GPL97 hold the same specimens: one cohort
    assert result.significant_genes and set(result.selected_cohorts) <= set(usable)
    failed = {c.cohort: c.error for c in result.cohorts if c.error}
    assert list(failed) == ["GSE99999"] and geo_server.base_url in failed["GSE99999"]
    assert "GSE781: downloaded from GEO" in result.message
    assert geo_server.count(url_path) == 1
    assert (workspace / "geo_cache").is_dir()
    overlay = store.job_dir(first.job_id) / "input_overlay"
    assert (overlay / "GEO" / TRAIT / "GSE781" / SOFT).is_file()
    assert not (input_without_gse781 / "GEO" / TRAIT / "GSE781").exists()

    # a second job in the workspace: the series comes from the cache, without any request
    served = len(geo_server.requests)
    second = run_to_end(
        store, "preprocess", AnalysisRequest(trait=TRAIT, cohorts=["GSE781"]), input_without_gse781
    )
    assert second.status.state == "complete", worker_log(store, second)
    result = store.read_result(second.job_id)
    assert result.status == "preprocessed"
    assert sorted(c.cohort for c in result.cohorts if c.usable) == ["GSE781"]
    assert "GSE781: from the GEO download cache" in result.message
    assert len(geo_server.requests) == served


def test_unreachable_geo_fails_the_job_clearly(
    input_without_gse781: Path, workspace: Path, monkeypatch
) -> None:
    with socket.socket() as sock:  # a loopback port where nothing listens
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/geo"
    monkeypatch.setenv("GENOTEAM_GEO_BASE_URL", dead)
    monkeypatch.delenv("GENOTEAM_OFFLINE", raising=False)
    store = JobStore(workspace)
    record = run_to_end(
        store, "analyze", AnalysisRequest(trait=TRAIT, cohorts=["GSE781"]), input_without_gse781
    )
    assert record.status.state == "failed", worker_log(store, record)
    error = record.status.error or ""
    assert "none of the requested cohorts is available" in error
    assert "GSE781" in error and dead in error and str(workspace / "geo_cache") in error
    assert "GENOTEAM_GEO_BASE_URL" in (record.status.hint or "")
    assert store.read_result(record.job_id) is None


def test_offline_job_fails_without_network(
    input_without_gse781: Path, workspace: Path, geo_server, monkeypatch
):
    monkeypatch.setenv("GENOTEAM_GEO_BASE_URL", geo_server.base_url)
    monkeypatch.setenv("GENOTEAM_OFFLINE", "1")
    store = JobStore(workspace)
    record = run_to_end(
        store, "preprocess", AnalysisRequest(trait=TRAIT, cohorts=["GSE781"]), input_without_gse781
    )
    assert record.status.state == "failed"
    assert "offline mode forbids downloading" in (record.status.error or "")
    assert geo_server.requests == []


def test_serve_flag_for_the_geo_base_url(workspace: Path) -> None:
    import argparse

    from genoteam.server.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        ["serve", "--workspace", str(workspace), "--geo-base-url", "http://127.0.0.1:1/geo"]
    )
    assert config_from_args(args).geo_base_url == "http://127.0.0.1:1/geo"
    args = parser.parse_args(["serve", "--workspace", str(workspace), "--geo-base-url", "ftp://x/geo"])
    with pytest.raises(GenoteamError, match="not http"):
        config_from_args(args)


@pytest.mark.slow
def test_an_mcp_client_asks_for_a_series_that_is_not_in_the_input(
    input_without_gse781: Path, shared_input: Path, workspace: Path, geo_server, monkeypatch
) -> None:
    import anyio
    from mcp import Client

    from genoteam.server.app import build_server
    from genoteam.server.config import ServerConfig

    geo_server.add("GSE781", "soft", shared_input / "GEO" / TRAIT / "GSE781" / SOFT)
    monkeypatch.setenv("GENOTEAM_GEO_BASE_URL", geo_server.base_url)
    monkeypatch.delenv("GENOTEAM_OFFLINE", raising=False)
    server = build_server(
        ServerConfig(input_dir=input_without_gse781, workspace=workspace, engine="reference")
    )

    async def main():
        async with Client(server, read_timeout_seconds=120) as client:
            listed = await client.call_tool("list_cohorts", {"trait": TRAIT})
            job = (
                await client.call_tool(
                    "analyze_trait", {"trait": TRAIT, "cohorts": ["GSE781"], "wait_seconds": 20}
                )
            ).structured_content
            with anyio.fail_after(300):
                while job["state"] in {"queued", "running"}:
                    reply = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 20})
                    job = reply.structured_content
            page = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 5})
            return listed.structured_content, job, page.structured_content

    listed, job, page = anyio.run(main)
    assert "GSE781" not in {c["cohort"] for c in listed["cohorts"]}
    assert job["state"] == "complete", job
    assert page["status"] == "complete" and page["total_genes"] > 0
    assert "GSE781: downloaded from GEO" in page["message"]
    assert str(workspace) not in str(page), "results never show host paths"
