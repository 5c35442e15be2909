"""The mcp 2.x client against the server in memory: tools, schemas, jobs, results, resources."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client

from genoteam.server.app import build_server
from genoteam.server.smoke import EXPECTED_TOOLS


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def test_tools_have_flat_params_annotations_and_output_schemas(step_config):
    async def main():
        async with Client(build_server(step_config)) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in run(main)}
    assert set(tools) == EXPECTED_TOOLS
    for tool in tools.values():
        assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("type") != "object", f"{tool.name}.{name} is nested"
    assert tools["cancel_job"].annotations.destructive_hint is True
    assert tools["get_job"].annotations.read_only_hint is True
    assert tools["analyze_trait"].annotations.idempotent_hint is True
    assert tools["analyze_trait"].input_schema["required"] == ["trait"]
    for tool in tools.values():
        assert tool.title and tool.description.startswith("Use "), tool.name
        assert '"title"' not in json.dumps([tool.input_schema, tool.output_schema]), tool.name


def test_analyze_trait_progress_poll_result_and_resources(step_config, step_engine, shared_input):
    step_engine(GENOTEAM_STEP_ENGINE_STEPS="6", GENOTEAM_STEP_ENGINE_STEP_S="0.4")
    progress: list[tuple[float, str]] = []

    async def on_progress(value, total, message):
        progress.append((value, message or ""))

    async def main():
        async with Client(build_server(step_config)) as client:
            first = await client.call_tool(
                "analyze_trait",
                {"trait": "Bile_Duct_Cancer", "wait_seconds": 0.5},
                progress_callback=on_progress,
            )
            assert not first.is_error, first.content[0].text
            job = first.structured_content
            assert job["state"] in {"queued", "running"} and job["started_now"] is True
            same = await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 0})
            assert (
                same.structured_content["job_id"] == job["job_id"]
                and not same.structured_content["started_now"]
            )
            for _ in range(6):  # a busy machine may need more than one bounded wait
                polled = await client.call_tool(
                    "get_job", {"job_id": job["job_id"], "wait_seconds": 20}, progress_callback=on_progress
                )
                if polled.structured_content["state"] not in {"queued", "running"}:
                    break
            assert polled.structured_content["state"] == "complete", polled.content[0].text
            page = await client.call_tool("get_result", {"job_id": job["job_id"], "top_k": 5, "offset": 5})
            report = await client.read_resource(f"genoteam://jobs/{job['job_id']}/report")
            genes = await client.read_resource(f"genoteam://jobs/{job['job_id']}/genes.csv")
            provenance = await client.read_resource(f"genoteam://jobs/{job['job_id']}/provenance")
            listed = await client.call_tool("list_jobs", {"state": "complete"})
            return page, report, genes, provenance, listed

    page, report, genes, provenance, listed = run(main)
    assert any("step" in message for _, message in progress), progress
    assert [v for v, _ in progress] == sorted(v for v, _ in progress)
    result = page.structured_content
    assert result["status"] == "complete" and result["selected_cohorts"] == ["CHOL"]
    assert result["cohorts"][0]["sample_size"] == 45  # columns of the real CHOL expression matrix
    assert result["total_genes"] == 30 and result["offset"] == 5 and len(result["genes"]) == 5
    assert result["next_offset"] == 10
    assert "CHOL" in page.content[0].text and "offset=10" in page.content[0].text
    csv_text = genes.contents[0].text
    assert csv_text.splitlines()[0] == "gene,coefficient,p_value,q_value" and len(csv_text.splitlines()) == 31
    assert "Bile_Duct_Cancer" in report.contents[0].text
    everything = (
        json.dumps(result) + page.content[0].text + provenance.contents[0].text + report.contents[0].text
    )
    assert str(step_config.input_dir) not in everything and str(step_config.workspace) not in everything
    assert "<input>" in provenance.contents[0].text  # the engine wrote a host path; it is scrubbed
    assert listed.structured_content["total"] == 1


def test_failed_job_says_why_and_resubmission_restarts_it(step_config, step_engine):
    step_engine(GENOTEAM_STEP_ENGINE_FAIL="1", GENOTEAM_STEP_ENGINE_STEPS="1")

    async def main():
        async with Client(build_server(step_config)) as client:
            failed = await client.call_tool(
                "analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 20}
            )
            no_result = await client.call_tool("get_result", {"job_id": failed.structured_content["job_id"]})
            return failed, no_result

    failed, no_result = run(main)
    job = failed.structured_content
    assert (
        job["state"] == "failed"
        and "on purpose" in job["error"]
        and job["hint"] == "unset GENOTEAM_STEP_ENGINE_FAIL"
    )
    assert str(step_config.input_dir) not in job["error"]
    assert no_result.is_error and "failed" in no_result.content[0].text

    step_engine(GENOTEAM_STEP_ENGINE_FAIL="", GENOTEAM_STEP_ENGINE_STEPS="1")

    async def again():
        async with Client(build_server(step_config)) as client:
            return await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 20})

    retried = run(again).structured_content
    assert retried["job_id"] == job["job_id"] and retried["attempt"] == 2 and retried["state"] == "complete"


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("analyze_trait", {"trait": "../etc/passwd"}, "trait"),
        ("analyze_trait", {"trait": "Bile_Duct_Cancer", "cohorts": ["GSE1; rm -rf /"]}, "cohorts"),
        ("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 3600}, "wait_seconds"),
        ("analyze_trait", {"trait": "x" * 5000}, "trait"),
        ("analyze_trait", {"trait": "No_Such_Trait"}, "no trait 'No_Such_Trait'"),
        (
            "analyze_trait",
            {"trait": "Bile_Duct_Cancer", "cohorts": ["KIRC"]},
            "not cohorts of Bile_Duct_Cancer",
        ),
        ("get_job", {"job_id": "../../etc"}, "job_id"),
        ("get_job", {"job_id": "job-0000000000000000"}, "no job job-0000000000000000"),
        ("get_result", {"job_id": "job-0000000000000000", "top_k": 0}, "top_k"),
        ("cancel_job", {"job_id": "job-ffffffffffffffff"}, "no job"),
        ("list_cohorts", {"trait": "Bile_Duct"}, "did you mean Bile_Duct_Cancer"),
    ],
)
def test_bad_inputs_get_clear_errors_and_the_server_keeps_serving(step_config, tool, arguments, expected):
    async def main():
        async with Client(build_server(step_config)) as client:
            bad = await client.call_tool(tool, arguments)
            good = await client.call_tool("list_traits", {"query": "bile"})
            return bad, good

    bad, good = run(main)
    assert bad.is_error and expected in bad.content[0].text, bad.content[0].text
    assert not good.is_error and good.structured_content["traits"][0]["trait"] == "Bile_Duct_Cancer"


def test_discovery_lists_real_traits_and_cohorts(step_config):
    async def main():
        async with Client(build_server(step_config)) as client:
            traits = await client.call_tool("list_traits", {"limit": 5, "offset": 0})
            kidney = await client.call_tool("list_cohorts", {"trait": "Kidney_Clear_Cell_Carcinoma"})
            prompts = await client.list_prompts()
            prompt = await client.get_prompt("trait_genes", {"trait": "Bile_Duct_Cancer"})
            return traits, kidney, prompts, prompt

    traits, kidney, prompts, prompt = run(main)
    listed = traits.structured_content
    assert listed["total"] == 36 and len(listed["traits"]) == 5 and listed["next_offset"] == 5
    cohorts = {c["cohort"]: c for c in kidney.structured_content["cohorts"]}
    assert cohorts["GSE781"]["source"] == "GEO" and cohorts["GSE781"]["has_expression"]
    assert cohorts["TCGA"]["source"] == "TCGA" and not cohorts["TCGA"]["has_expression"]  # KIRC
    assert {p.name for p in prompts.prompts} == {"trait_genes", "explain_job"}
    assert "analyze_trait(trait='Bile_Duct_Cancer')" in prompt.messages[0].content.text


def test_preprocess_then_statistics_only_on_the_preprocessed_cohorts(step_config, step_engine):
    step_engine(GENOTEAM_STEP_ENGINE_STEPS="1")

    async def main():
        async with Client(build_server(step_config)) as client:
            early = await client.call_tool(
                "find_significant_genes", {"trait": "Bile_Duct_Cancer", "wait_seconds": 20}
            )
            prep = await client.call_tool(
                "preprocess_cohort", {"trait": "Bile_Duct_Cancer", "cohort": "CHOL", "wait_seconds": 20}
            )
            stats = await client.call_tool(
                "find_significant_genes", {"trait": "Bile_Duct_Cancer", "wait_seconds": 20}
            )
            page = await client.call_tool("get_result", {"job_id": stats.structured_content["job_id"]})
            return early.structured_content, prep.structured_content, stats.structured_content, page

    early, prep, stats, page = run(main)
    assert early["state"] == "failed" and "no preprocessed cohorts" in early["error"]
    assert prep["kind"] == "preprocess" and prep["state"] == "complete" and prep["cohorts"] == ["CHOL"]
    assert stats["kind"] == "statistics" and stats["state"] == "complete" and stats["attempt"] == 2
    result = page.structured_content
    assert result["method"] == "step-engine-statistics" and prep["job_id"] in result["message"]
    assert result["total_genes"] == 30


def test_resources_fit_a_context_window(step_config, step_engine):
    step_engine(GENOTEAM_STEP_ENGINE_STEPS="1")

    async def main():
        async with Client(build_server(step_config)) as client:
            done = await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 30})
            base = f"genoteam://jobs/{done.structured_content['job_id']}"
            reads = {}
            for suffix in (
                "genes.csv",
                "genes.csv?top=5",
                "genes.csv?top=5&offset=5",
                "genes.csv?max_q=0.0001",
                "genes.csv?min_abs_effect=0.5",
                "provenance/summary",
                "provenance?page=1",
            ):
                reads[suffix] = (await client.read_resource(f"{base}/{suffix}")).contents[0].text
            errors = {}
            for suffix in ("genes.csv?top=zero", "provenance?page=9", "volcano.png"):
                try:
                    await client.read_resource(f"{base}/{suffix}")
                except Exception as error:  # the client raises the server's resource error
                    errors[suffix] = str(error)
            templates = await client.list_resource_templates()
            return reads, errors, templates

    reads, errors, templates = run(main)
    rows = lambda text: [line.split(",")[0] for line in text.splitlines()[1:] if not line.startswith("#")]  # noqa: E731
    everything = rows(reads["genes.csv"])
    assert len(everything) == 30
    assert (
        rows(reads["genes.csv?top=5"]) == everything[:5]
        and "# 25 more rows: ?offset=5" in reads["genes.csv?top=5"]
    )
    assert rows(reads["genes.csv?top=5&offset=5"]) == everything[5:10]
    assert rows(reads["genes.csv?max_q=0.0001"]) == everything[:10]  # q = 1e-5 * rank in the step engine
    assert rows(reads["genes.csv?min_abs_effect=0.5"]) == everything[:2]  # effect = 1 / rank
    summary = json.loads(reads["provenance/summary"])
    assert summary["pages"] == 1 and summary["summary"]["engine"] == "steps"
    assert json.loads(reads["provenance?page=1"])["engine"] == "steps"
    assert "not a number" in errors["genes.csv?top=zero"] and "pages 1-1" in errors["provenance?page=9"]
    assert "no volcano plot" in errors["volcano.png"]
    uris = {t.uri_template for t in templates.resource_templates}
    assert (
        "genoteam://jobs/{job_id}/volcano.png" in uris
        and "genoteam://jobs/{job_id}/provenance/summary" in uris
    )
