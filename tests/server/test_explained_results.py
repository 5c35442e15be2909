"""What the model reads, checked fact by fact against the data and the engine's own records.

The reference engine answers three real questions through the mcp 2.x client: TCGA CHOL, GSE781
(two platforms, one answer) and a two-step question (Bile_Duct_Cancer given
Kidney_Clear_Cell_Carcinoma, through genes known for the condition). Every fact of the result
text is compared with an independent reading: the linked tables the engine wrote (class counts,
covariates present), the significant-genes record (covariates in the model, condition genes,
cohorts), genes.csv (effects, q-values, the threshold) and the cohorts list_cohorts shows.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from pathlib import Path

import anyio
import pandas as pd
from mcp import Client

from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig

PNG = b"\x89PNG\r\n\x1a\n"


async def finish(client: Client, arguments: dict) -> tuple:
    """analyze_trait to completion; returns the final reply and the result page."""
    reply = await client.call_tool("analyze_trait", {**arguments, "wait_seconds": 20})
    assert not reply.is_error, reply.content[0].text
    with anyio.fail_after(900):
        while reply.structured_content["state"] in {"queued", "running"}:
            await client.call_tool(
                "get_job", {"job_id": reply.structured_content["job_id"], "wait_seconds": 30}
            )
            reply = await client.call_tool("analyze_trait", {**arguments, "wait_seconds": 0})
    page = await client.call_tool("get_result", {"job_id": reply.structured_content["job_id"], "top_k": 10})
    genes = await client.read_resource(f"genoteam://jobs/{reply.structured_content['job_id']}/genes.csv")
    return reply, page, list(csv.DictReader(io.StringIO(genes.contents[0].text)))


def record_of(workspace: Path, job_id: str, trait: str, condition: str | None) -> dict:
    path = workspace / "jobs" / job_id / "output" / "regress" / trait
    return json.loads((path / f"significant_genes_condition_{condition or 'None'}.json").read_text())


def linked(workspace: Path, job_id: str, trait: str, cohort: str) -> pd.DataFrame:
    return pd.read_csv(
        workspace / "jobs" / job_id / "output" / "preprocess" / trait / f"{cohort}.csv", index_col=0
    )


def check_common(reply, page, genes: list[dict], record: dict, table: pd.DataFrame, trait: str) -> str:
    """Facts every complete result must state truly; returns the text for question-specific checks."""
    text = reply.content[0].text
    ex = page.structured_content["explanation"]
    assert page.content[0].text in text  # analyze_trait's text is the job line plus get_result's text
    # the question and the method actually run
    assert f"Question: Which genes are associated with {trait}" in text
    assert record["method"] == "moderated-t" and "Method: moderated-t" in text
    assert "Threshold: Benjamini-Hochberg q < 0.05" in text
    assert all(float(g["q_value"]) < 0.05 for g in genes), "a reported gene is above the stated threshold"
    # covariates: the model's (record) and the ones the table can support (present, not constant)
    model_covariates = record["details"]["covariates"]
    possible = [c for c in ("Age", "Gender") if c in table and table[c].nunique() > 1]
    assert set(possible) <= set(model_covariates)
    assert f"Covariates: {', '.join(model_covariates)}." in text and ex["covariates"] == model_covariates
    # unit and direction
    assert record["coefficient_unit"].startswith("log2 fold change")  # the unit the statistics recorded
    assert f"Effect: {record['coefficient_unit']}; positive = " in text
    # top genes: the first rows of genes.csv, with their effect, q and a direction matching the sign
    assert [g["gene"] for g in ex["top_genes"]] == [row["gene"] for row in genes[:10]]
    for shown, row in zip(ex["top_genes"], genes[:10], strict=True):
        assert math.isclose(shown["effect"], float(row["coefficient"]))
        assert math.isclose(shown["q_value"], float(row["q_value"]))
        assert shown["direction"].startswith("higher" if shown["effect"] > 0 else "lower")
        assert f"{shown['gene']} effect " in text and shown["direction"] in text
    assert f"Significant genes: {len(genes)}." in text
    # the volcano plot comes with the result
    images = [block for block in reply.content if block.type == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(PNG)
    assert "Next: " in text and "genes.csv?top=" in text and "provenance/summary" in text
    return text


def check_cohorts(page, listed: dict[str, list[dict]], record: dict) -> None:
    """Each cohort considered has one line: used (and in which role), or why not."""
    ex = page.structured_content["explanation"]
    outcomes = {(c["trait"], c["cohort"]): c for c in page.structured_content["cohorts"]}
    uses = {(u["trait"], u["cohort"]): u for u in ex["cohorts"]}
    assert set(uses) == set(outcomes)
    roles = record["cohorts"]
    for key, use in uses.items():
        outcome = outcomes[key]
        if use["used"]:
            assert key[1] in roles.values() and use["why"].startswith("used")
        elif outcome["error"]:
            assert "preprocessing failed" in use["why"]
        elif not outcome["usable"]:
            assert use["why"].startswith("not used: ") and outcome["note"].split(";")[0] in use["why"]
        else:
            assert use["why"].startswith("usable but not chosen")
        assert f"- {key[1]} ({key[0]}, n=" in page.content[0].text
    for trait, cohorts in listed.items():  # every listed cohort with expression was considered
        considered = {c for t, c in outcomes if t == trait}
        for cohort in cohorts:
            assert any(
                c == cohort or c.startswith(cohort + "_") or not c.startswith("GSE") for c in considered
            )


def test_every_fact_of_the_result_text_is_present_and_true(shared_input, workspace, monkeypatch):
    monkeypatch.setenv("GENOTEAM_TASK_INFO", str(shared_input.parent / "metadata" / "task_info.json"))
    server = build_server(ServerConfig(input_dir=shared_input, workspace=workspace, engine="reference"))

    async def main():
        async with Client(server, read_timeout_seconds=120) as client:
            listed = {}
            for trait in ("Bile_Duct_Cancer", "Kidney_Clear_Cell_Carcinoma"):
                reply = await client.call_tool("list_cohorts", {"trait": trait})
                listed[trait] = [
                    c["cohort"] for c in reply.structured_content["cohorts"] if c["has_expression"]
                ]
            chol = await finish(client, {"trait": "Bile_Duct_Cancer"})
            volcano = await client.read_resource(
                f"genoteam://jobs/{chol[0].structured_content['job_id']}/volcano.png"
            )
            kidney = await finish(client, {"trait": "Kidney_Clear_Cell_Carcinoma"})
            two = await finish(
                client, {"trait": "Bile_Duct_Cancer", "condition": "Kidney_Clear_Cell_Carcinoma"}
            )
            reported = {}  # every cohort id a result reports is accepted back as input
            for _reply, page, _ in (chol, kidney):
                trait = page.structured_content["trait"]
                for cohort in page.structured_content["selected_cohorts"]:
                    again = await client.call_tool(
                        "analyze_trait", {"trait": trait, "cohorts": [cohort], "wait_seconds": 0}
                    )
                    reported[cohort] = again
                    if not again.is_error and again.structured_content["state"] in {"queued", "running"}:
                        await client.call_tool("cancel_job", {"job_id": again.structured_content["job_id"]})
            return listed, chol, kidney, two, volcano, reported

    listed, chol, kidney, two, volcano, reported = anyio.run(main)
    assert reported and all(not r.is_error for r in reported.values()), {
        c: r.content[0].text for c, r in reported.items() if r.is_error
    }
    assert volcano.contents[0].mime_type == "image/png"
    assert base64.b64decode(volcano.contents[0].blob).startswith(PNG)

    # TCGA CHOL: tumour vs normal with the counts of the linked table the model used
    reply, page, genes = chol
    job = reply.structured_content["job_id"]
    record = record_of(workspace, job, "Bile_Duct_Cancer", None)
    [cohort] = record["cohorts"].values()
    table = linked(workspace, job, "Bile_Duct_Cancer", cohort)
    kept = table.dropna(subset=["Bile_Duct_Cancer", *record["details"]["covariates"]])
    counts = kept["Bile_Duct_Cancer"].value_counts()
    text = check_common(reply, page, genes, record, table, "Bile_Duct_Cancer")
    assert (counts[1], counts[0]) == (36, 9)  # the data README's facts
    assert f"Design: {counts[1]} tumour vs {counts[0]} normal samples of TCGA-CHOL" in text
    assert "positive = higher in tumour than normal samples" in text
    assert "only 9 normal samples" in text and "tumour vs normal" in text
    assert "https://portal.gdc.cancer.gov/projects/TCGA-CHOL" in text
    check_cohorts(page, {"Bile_Duct_Cancer": listed["Bile_Duct_Cancer"]}, record)

    # GSE781: a GEO series; cases vs controls; every other cohort says why it was not used
    reply, page, genes = kidney
    job = reply.structured_content["job_id"]
    record = record_of(workspace, job, "Kidney_Clear_Cell_Carcinoma", None)
    [cohort] = record["cohorts"].values()
    table = linked(workspace, job, "Kidney_Clear_Cell_Carcinoma", cohort)
    kept = table.dropna(subset=["Kidney_Clear_Cell_Carcinoma", *record["details"]["covariates"]])
    counts = kept["Kidney_Clear_Cell_Carcinoma"].value_counts()
    text = check_common(reply, page, genes, record, table, "Kidney_Clear_Cell_Carcinoma")
    assert f"Design: {counts[1]} case vs {counts[0]} control samples of {cohort}" in text
    assert f"small cohort: {len(kept)} samples" in text
    assert "https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE781" in text
    assert {"CA9", "NDUFA4L2"} <= {g["gene"] for g in genes}  # the clear-cell markers (FINDINGS.md)
    check_cohorts(page, {"Kidney_Clear_Cell_Carcinoma": listed["Kidney_Clear_Cell_Carcinoma"]}, record)
    assert "not used: " in text  # TCGA KIRC has no expression matrix here

    # two-step: the condition predicted from its known genes is a covariate of the model
    reply, page, genes = two
    job = reply.structured_content["job_id"]
    record = record_of(workspace, job, "Bile_Duct_Cancer", "Kidney_Clear_Cell_Carcinoma")
    table = linked(workspace, job, "Bile_Duct_Cancer", record["cohorts"]["trait"])
    text = check_common(reply, page, genes, record, table, "Bile_Duct_Cancer")
    condition_genes = record["details"]["condition_genes"]
    assert "Kidney_Clear_Cell_Carcinoma" in record["details"]["covariates"]
    assert f"from {len(condition_genes)} genes known for Kidney_Clear_Cell_Carcinoma" in text
    assert all(g in text for g in condition_genes[:8])
    assert f"- {record['cohorts']['condition']} (Kidney_Clear_Cell_Carcinoma, n=" in text
    assert "used as the condition cohort" in text and "used as the trait cohort" in text
    assert "TCGA-CHOL" in text and "acc=GSE781" in text
    check_cohorts(page, listed, record)


def test_names_and_ids_round_trip_to_one_job(step_config):
    async def main():
        async with Client(build_server(step_config)) as client:
            jobs = {}
            for trait in ("Bile_Duct_Cancer", "bile duct cancer", "BILE-DUCT-CANCER", "Cholangiocarcinoma"):
                reply = await client.call_tool("analyze_trait", {"trait": trait, "wait_seconds": 0})
                assert not reply.is_error, reply.content[0].text
                jobs[trait] = reply.structured_content
            conditions = {}
            for condition in ("Age", "age", "AGE", "Gender", "gender", "sex", "Sex"):
                reply = await client.call_tool(
                    "analyze_trait", {"trait": "Bile_Duct_Cancer", "condition": condition, "wait_seconds": 0}
                )
                conditions[condition] = reply.structured_content
            first = jobs["Bile_Duct_Cancer"]["job_id"]
            polled = await client.call_tool("get_job", {"job_id": first, "wait_seconds": 30})
            page = await client.call_tool("get_result", {"job_id": first})
            back = await client.call_tool("list_cohorts", {"trait": page.structured_content["trait"]})
            traits = await client.call_tool("list_traits", {"limit": 200})
            canonical = []
            for listed in traits.structured_content["traits"]:
                reply = await client.call_tool("list_cohorts", {"trait": listed["trait"]})
                canonical.append((listed["trait"], reply.structured_content["trait"], reply.is_error))
            miss = await client.call_tool("analyze_trait", {"trait": "Bile Duct Cancr"})
            bad = await client.call_tool("analyze_trait", {"trait": "Bile/Duct"})
            return jobs, conditions, polled, page, back, canonical, miss, bad

    jobs, conditions, polled, page, back, canonical, miss, bad = anyio.run(main)
    assert len({j["job_id"] for j in jobs.values()}) == 1 and {j["trait"] for j in jobs.values()} == {
        "Bile_Duct_Cancer"
    }
    assert jobs["Bile_Duct_Cancer"]["understood"] == []
    assert jobs["Cholangiocarcinoma"]["understood"] == [
        "'Cholangiocarcinoma' read as Bile_Duct_Cancer (a recognised name of the same disease)"
    ]
    assert len({conditions[c]["job_id"] for c in ("Age", "age", "AGE")}) == 1
    assert len({conditions[c]["job_id"] for c in ("Gender", "gender", "sex", "Sex")}) == 1
    assert conditions["sex"]["condition"] == "Gender" and conditions["age"]["condition"] == "Age"
    assert conditions["Age"]["job_id"] != conditions["Gender"]["job_id"]
    assert polled.structured_content["state"] == "complete" and not page.is_error
    assert page.structured_content["trait"] == "Bile_Duct_Cancer" and not back.is_error
    assert all(given == answered and not error for given, answered, error in canonical), canonical
    assert len(canonical) == 36
    assert miss.is_error and "did you mean Bile_Duct_Cancer" in miss.content[0].text
    text = bad.content[0].text
    assert (
        bad.is_error
        and text.startswith("invalid arguments: trait ")
        and "it takes: Trait as in list_traits" in text
    )
    assert "pydantic" not in text and "validation error" not in text and "String should match" not in text
