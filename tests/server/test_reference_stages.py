"""preprocess_cohort then find_significant_genes with the real reference engine on TCGA CHOL:
the statistics job answers from the cohorts the preprocessing job wrote, with no preprocessing
of its own, and gives the same genes as one analyze_trait job."""

from __future__ import annotations

import anyio
from mcp import Client

from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig
from tests.job_polling import finish

TRAIT = "Bile_Duct_Cancer"


def test_preprocess_then_statistics_equals_one_analysis(shared_input, workspace):
    server = build_server(ServerConfig(input_dir=shared_input, workspace=workspace, engine="reference"))

    async def main():
        async with Client(server, read_timeout_seconds=120) as client:
            prep = await client.call_tool(
                "preprocess_cohort", {"trait": TRAIT, "cohort": "CHOL", "wait_seconds": 20}
            )
            prep_job = await finish(client, prep.structured_content, limit_s=600)
            stats = await client.call_tool("find_significant_genes", {"trait": TRAIT, "wait_seconds": 20})
            stats_job = await finish(client, stats.structured_content, limit_s=600)
            whole = await client.call_tool("analyze_trait", {"trait": TRAIT, "wait_seconds": 20})
            whole_job = await finish(client, whole.structured_content, limit_s=600)
            pages = []
            for job in (prep_job, stats_job, whole_job):
                reply = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 25})
                pages.append(reply.structured_content)
            return prep_job, stats_job, pages

    prep_job, stats_job, (prep_page, stats_page, whole_page) = anyio.run(main)
    assert prep_job["state"] == "complete" and prep_page["status"] == "preprocessed"
    assert prep_page["total_genes"] == 0, "a preprocessing job must not present genes as an answer"
    assert stats_job["state"] == "complete" and stats_page["status"] == "complete"
    assert prep_job["job_id"] in stats_page["message"]
    assert stats_page["total_genes"] == whole_page["total_genes"] > 1000
    assert [g["gene"] for g in stats_page["genes"]] == [g["gene"] for g in whole_page["genes"]]
