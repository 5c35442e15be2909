"""MCP with discover=true on a server that has no input folder: list_cohorts searches, and
analyze_trait finds, downloads (progress while it does) and analyses, through real workers and
the loopback NCBI/GEO/Xena services of tests/data/public_services.py."""

from __future__ import annotations

import anyio
from mcp import Client

from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig
from tests.data.public_services import KIDNEY


def test_discover_lists_downloads_with_progress_and_reports_the_reasons(services, env, workspace):
    config = ServerConfig(input_dir=None, workspace=workspace, engine="reference", default_wait_s=10).check()
    services.faults.stall_s["/xena/TCGA.CHOL.sampleMap/HiSeqV2_PANCAN.gz"] = 1.5  # a download one can watch
    progress: list[str] = []

    async def on_progress(value, total, message):
        progress.append(message or "")

    async def main():
        async with Client(build_server(config)) as client:
            listed = await client.call_tool("list_cohorts", {"trait": KIDNEY, "discover": True})
            submitted = await client.call_tool(
                "analyze_trait",
                {"trait": "Bile_Duct_Cancer", "discover": True, "wait_seconds": 20},
                progress_callback=on_progress,
            )
            assert not submitted.is_error, submitted.content[0].text
            job_id = submitted.structured_content["job_id"]
            for _ in range(8):
                polled = await client.call_tool(
                    "get_job", {"job_id": job_id, "wait_seconds": 20}, progress_callback=on_progress
                )
                if polled.structured_content["state"] not in {"queued", "running"}:
                    break
            assert polled.structured_content["state"] == "complete", polled.content[0].text
            page = await client.call_tool("get_result", {"job_id": job_id, "top_k": 5})
            return listed, page

    listed, page = anyio.run(main)
    found = {c["cohort"]: c for c in listed.structured_content["discovered"]}
    assert found["GSE781"]["include"] and "34 samples" in found["GSE781"]["reasons"]
    assert not found["GSE90001"]["include"] and "not human" in found["GSE90001"]["reasons"][0]
    assert "USE GEO GSE781" in listed.content[0].text and "gse[ETYP]" in listed.content[0].text
    assert any("downloading TCGA CHOL" in m for m in progress), progress
    result = page.structured_content
    (chol,) = result["discovered"]
    assert chol["cohort"] == "CHOL" and chol["include"] and chol["error"] is None and chol["reasons"]
    assert result["status"] == "complete" and result["selected_cohorts"] and result["total_genes"] > 100
    assert "Cohorts found by search" in page.content[0].text
    assert str(workspace) not in page.content[0].text + listed.content[0].text
