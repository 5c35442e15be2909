"""`genoteam run --authoring model-first --config team.toml` against a stand-in that misbehaves like
real models: each failure of the old loop is now handled, and the answer still equals the offline
run. One job carries every misbehaviour (one per unit), so the whole path runs once."""

from __future__ import annotations

import json

import pytest

from genoteam.agents.memory import CodeMemory
from genoteam.cli import main
from tests.standin_model import (
    FLIPPED_LABELS,
    TRANSPOSED,
    TUPLE_BINDING,
    WRONG_NAME,
    WRONG_UNPACK,
    Script,
    ScriptedModelServer,
    code_then_verify,
    competent_model,
    empty,
    planner_stop,
    prose_around,
    python3_fence,
    refusal,
    reviewer_prose,
    slow,
    tool_call,
    truncated,
)

TRAIT = "Kidney_Clear_Cell_Carcinoma"
GEO = "GSE9900501"


def write_config(path, api_base: str, team: str = "", role_sections: str = "") -> str:
    path.write_text(
        f'[team]\nauthoring = "model-first"\n{team}\n'
        "[models.default]\n"
        'model = "openai/standin"\n'
        f'api_base = "{api_base}"\n'
        "timeout_s = 30\n"
        "max_retries = 1\n"
        "backoff_s = 0.01\n"
        "input_cost_per_token = 0.000001\n"
        "output_cost_per_token = 0.000002\n" + role_sections
    )
    return str(path)


def _argv(input_dir, out, memory, config=None, sandbox: str = "local") -> list[str]:
    argv = ["run", "--trait", TRAIT, "--input", str(input_dir), "--output", str(out), "--sandbox", sandbox]
    argv += ["--memory", str(memory), "--json", "--cohort", GEO, "--cohort", "TCGA"]
    return argv + (["--config", config] if config else [])


def _attempts(provenance: dict, task_part: str, unit: str) -> list[dict]:
    visits = [
        v for t in provenance["tasks"] if task_part in t["task_id"] for v in t["visits"] if v["unit"] == unit
    ]
    assert visits, f"no visit of {unit} in a task matching {task_part}"
    return [a for v in visits for a in v["attempts"]]


@pytest.mark.docker
def test_every_misbehaviour_is_handled_and_the_answer_equals_the_offline_run(
    small_cohorts, tmp_path, capsys, model_sandbox
):
    assert main(_argv(small_cohorts, tmp_path / "offline", tmp_path / "m0.sqlite")) == 0
    offline = json.loads(capsys.readouterr().out)

    script = Script(fallback=competent_model)
    script.add(planner_stop, purpose="plan")  # the first planner call gives up on a good cohort
    script.add(prose_around, role="geo", purpose="code", unit="load_cohort")
    script.add(python3_fence, role="domain_expert", unit="clinical_features", task=GEO)
    script.add(tool_call, role="domain_expert", unit="identifier_review")
    script.add(TUPLE_BINDING, role="geo", purpose="code", unit="normalize_genes")
    script.add(code_then_verify, role="geo", purpose="code", unit="link_and_assess")
    script.add(WRONG_NAME, role="tcga", purpose="code", unit="load_cohort")
    script.add(WRONG_UNPACK, role="tcga", purpose="code", unit="load_cohort")
    script.add(FLIPPED_LABELS, role="domain_expert", unit="clinical_features", task="/TCGA")
    script.add(TRANSPOSED, role="tcga", purpose="code", unit="normalize_genes")
    script.add(truncated, role="tcga", purpose="code", unit="link_and_assess")
    script.add(refusal, role="tcga", purpose="code", unit="link_and_assess")
    script.add(empty, role="statistician", purpose="code", unit="select_cohorts")
    script.add(slow(1.5), role="statistician", purpose="code", unit="select_cohorts")
    script.add(reviewer_prose, role="reviewer", unit="association", times=2)
    with ScriptedModelServer(script) as server:
        config = write_config(tmp_path / "team.toml", server.api_base)
        code = main(_argv(small_cohorts, tmp_path / "out", tmp_path / "m1.sqlite", config, model_sandbox))
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["status"] == offline["status"] == "complete", result["message"]
    genes = [(g["gene"], round(g["coefficient"], 9)) for g in result["significant_genes"]]
    assert genes == [(g["gene"], round(g["coefficient"], 9)) for g in offline["significant_genes"]]
    assert result["selected_cohorts"] == offline["selected_cohorts"]

    p = json.loads((tmp_path / "out" / "provenance.json").read_text())
    verdict = lambda a: (a["verdict"]["approved"], a["problem"] or a["verdict"]["reason"])  # noqa: E731
    # replies: prose around one block, a python3 fence and a tool call are all code
    assert verdict(_attempts(p, GEO, "load_cohort")[0])[0]
    assert verdict(_attempts(p, GEO, "clinical_features")[0])[0]
    assert verdict(_attempts(p, GEO, "identifier_review")[0])[0]
    # several blocks are refused with the reason, never half-run
    first, second = _attempts(p, GEO, "link_and_assess")[:2]
    assert (
        first["code_source"] == "none"
        and "2 python code blocks" in first["problem"]
        and second["verdict"]["approved"]
    )
    # a rejected attempt is rolled back: the tuple bound to gene_data does not break the next attempt
    tuple_try, fixed = _attempts(p, GEO, "normalize_genes")[:2]
    assert not tuple_try["verdict"]["approved"] and tuple_try["rolled_back"] is not None
    assert fixed["verdict"]["approved"]
    # wrong names and shapes fail with their errors; the revision prompt shows the error and the API
    load = _attempts(p, "/TCGA", "load_cohort")
    assert (
        "load_tcga_cohort" in load[0]["error"]
        and "cannot unpack non-iterable TcgaCohortFiles" in load[1]["error"]
    )
    assert load[2]["verdict"]["approved"]
    third_prompt = script.calls(role="tcga", purpose="code", unit="load_cohort")[2].user_text
    assert "cannot unpack non-iterable TcgaCohortFiles" in third_prompt
    assert "find_tcga_files(cohort_dir: str | Path) -> TcgaCohortFiles" in third_prompt
    # invariants code cannot talk past: labels recomputed from barcodes, a transposed table caught
    flipped = _attempts(p, "/TCGA", "clinical_features")[0]
    barcode = next(c for c in flipped["checks"] if c["name"].startswith("tcga_barcode_trait"))
    assert not barcode["passed"] and "differ from the barcodes" in barcode["detail"]
    transposed = _attempts(p, "/TCGA", "normalize_genes")[0]
    assert any("transposed" in c["detail"] for c in transposed["checks"] if not c["passed"])
    assert any(path.endswith("gene_data/TCGA.csv") for path in transposed["rolled_back"]["removed_files"])
    # truncation is read from finish_reason; a refusal is named
    cut, declined, ok = _attempts(p, "/TCGA", "link_and_assess")[:3]
    assert (
        "finish_reason=length" in cut["problem"]
        and "declined" in declined["problem"]
        and ok["verdict"]["approved"]
    )
    # empty and slow replies
    select = _attempts(p, "statistics/", "select_cohorts")
    assert "empty reply" in select[0]["problem"] and select[1]["verdict"]["approved"]
    # review fails closed: a verdict in prose, twice, is a rejection, not an approval
    association = _attempts(p, "statistics/", "association")
    assert not association[0]["verdict"]["approved"] and "fails closed" in association[0]["verdict"]["source"]
    assert association[1]["verdict"]["approved"]
    # a planner stop with required units pending is refused: the cohort was not given up
    sources = [d["source"] for t in p["tasks"] for d in t["decisions"]]
    assert any("stop while required units are pending" in s for s in sources)
    # learned code records its model and job; the rejected attempts were not learned
    store = CodeMemory(tmp_path / "m1.sqlite")
    learned = [e for e in store.entries() if not e.shipped]
    store.close()
    assert {(e.model, e.job_id) for e in learned} == {("openai/standin", p["job_id"])}
    assert not any("load_tcga_cohort" in e.code or "gene_data.T" in e.code for e in learned)


@pytest.mark.docker
def test_the_budget_stops_the_job_with_partial_results(small_cohorts, tmp_path, capsys, model_sandbox):
    script = Script(fallback=competent_model)
    with ScriptedModelServer(script) as server:
        # max_tokens 2000 at $2e-6: each call may cost ~$0.004 plus its prompt
        config = write_config(
            tmp_path / "team.toml", server.api_base, "max_cost_usd = 0.05\n", "max_tokens = 2000\n"
        )
        code = main(_argv(small_cohorts, tmp_path / "out", tmp_path / "m.sqlite", config, model_sandbox))
    result = json.loads(capsys.readouterr().out)
    assert code == 4 and result["status"] == "budget_exhausted"
    assert "model budget is exhausted" in result["message"] and "Partial results" in result["message"]
    p = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert p["models"]["usage"]["cost_usd"] <= 0.05  # never past the budget
    calls = p["models"]["calls"]
    refused = [c for c in calls if any(e.startswith("budget") for e in c["errors"])]
    assert len(refused) == 1 and refused[0] == calls[-1]  # the first refusal ended the job
    assert len(script.requests) == sum(c["ok"] for c in calls)  # refused calls never left the host
    # the cohort being worked on when the money ran out is an error, later ones were not started
    errors = [c["error"] or "" for c in result["cohorts"]]
    assert any("model budget is exhausted" in e for e in errors)
    assert all(c["usable"] or c["error"] for c in result["cohorts"])  # nothing claims more than was done


def test_an_unpriced_model_is_refused_unless_allowed(small_cohorts, tmp_path, capsys):
    path = tmp_path / "team.toml"
    path.write_text('[models.default]\nmodel = "openai/local-llm"\napi_base = "http://127.0.0.1:9/v1"\n')
    assert main(_argv(small_cohorts, tmp_path / "out", tmp_path / "m.sqlite", str(path))) == 1
    err = capsys.readouterr().err
    assert "has no known price" in err and "allow_unpriced" in err and not (tmp_path / "out").exists()
