"""One cohort id scheme through the MCP server (mcp 2.x client, real reference engine): the ids
list_cohorts shows and results report are accepted back, a platform id of a combined cohort is
read as that cohort (and the result says so), and an id of no cohort is refused with the list."""

from __future__ import annotations

import anyio
from mcp import Client

from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig
from tests.job_polling import finish

KIDNEY = "Kidney_Clear_Cell_Carcinoma"


def test_the_server_accepts_the_ids_the_engines_report(shared_input, workspace):
    server = build_server(ServerConfig(input_dir=shared_input, workspace=workspace, engine="reference"))

    async def main():
        async with Client(server, read_timeout_seconds=120) as client:
            listed = await client.call_tool("list_cohorts", {"trait": KIDNEY})
            chol = await client.call_tool("list_cohorts", {"trait": "Bile_Duct_Cancer"})
            prep = await client.call_tool(
                "preprocess_cohort", {"trait": KIDNEY, "cohort": "GSE781_GPL97", "wait_seconds": 20}
            )
            assert not prep.is_error, prep.content[0].text
            job = await finish(client, prep.structured_content, limit_s=600)
            page = (await client.call_tool("get_result", {"job_id": job["job_id"]})).structured_content
            again = {}
            for trait, cohort in [(KIDNEY, c["cohort"]) for c in page["cohorts"]] + [
                ("Bile_Duct_Cancer", "TCGA")
            ]:
                reply = await client.call_tool(
                    "preprocess_cohort", {"trait": trait, "cohort": cohort, "wait_seconds": 0}
                )
                again[cohort] = reply
                if not reply.is_error:
                    await client.call_tool("cancel_job", {"job_id": reply.structured_content["job_id"]})
            wrong = await client.call_tool(
                "preprocess_cohort", {"trait": "Bile_Duct_Cancer", "cohort": "KIRC"}
            )
            return listed.structured_content, chol.structured_content, job, page, again, wrong

    listed, chol, job, page, again, wrong = anyio.run(main)
    assert [c["cohort"] for c in listed["cohorts"]] == ["GSE781", "TCGA"]
    assert [c["cohort"] for c in chol["cohorts"]] == ["TCGA"]
    assert job["state"] == "complete" and page["status"] == "preprocessed"
    assert [c["cohort"] for c in page["cohorts"]] == ["GSE781"]  # the combined cohort, GPL96+GPL97
    assert "GSE781_GPL97: that platform is part of cohort GSE781 (GPL96+GPL97)" in page["message"]
    assert set(again) == {"GSE781", "TCGA"} and not any(r.is_error for r in again.values())
    assert wrong.is_error and "KIRC" in wrong.content[0].text and "TCGA" in wrong.content[0].text
