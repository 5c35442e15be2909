"""The PI plans with its model: which candidate cohorts are relevant (from their background text),
in what order, and why; the rules bound it, and an unusable reply leaves the rule plan, said so."""

from __future__ import annotations

import json

import pytest

from genoteam.cli import main
from tests.standin_model import Reply, Script, ScriptedModelServer, competent_model

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.fixture(scope="module")
def two_series(tmp_path_factory):
    from genoteam.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("pi")
    generate(SynthConfig(n_genes=200, n_samples=20, kind="both", n_geo_cohorts=2, seed=5), root / "input")
    return root / "input"


def _run(input_dir, tmp_path, script: Script, capsys, sandbox: str) -> tuple[dict, dict]:
    with ScriptedModelServer(script) as server:
        # only the PI has a model: the rest of the team works offline (shipped snippets)
        sections = (
            f'[models.pi]\nmodel = "openai/pi"\napi_base = "{server.api_base}"\nallow_unpriced = true\n'
        )
        config = tmp_path / "team.toml"
        config.write_text(sections)
        argv = ["run", "--trait", TRAIT, "--input", str(input_dir), "--output", str(tmp_path / "out")]
        code = main(
            [*argv, "--sandbox", sandbox, "--memory", str(tmp_path / "m"), "--config", str(config), "--json"]
        )
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result["message"]
    return result, json.loads((tmp_path / "out" / "provenance.json").read_text())


@pytest.mark.docker
def test_the_pi_model_drops_an_irrelevant_cohort_and_orders_the_rest(
    two_series, tmp_path, capsys, model_sandbox
):
    answer = {
        "cohorts": [
            {"id": f"{TRAIT}/GSE9900502", "relevant": True, "reason": "tumour and normal tissue"},
            {"id": f"{TRAIT}/GSE9900501", "relevant": False, "reason": "a cell-line study, no patients"},
            {"id": f"{TRAIT}/TCGA", "relevant": False, "reason": "no reason to keep it"},
        ]
    }
    script = Script(fallback=competent_model).add(f"Here is my plan:\n{json.dumps(answer)}", role="pi")
    result, provenance = _run(two_series, tmp_path, script, capsys, model_sandbox)
    prompt = script.calls(role="pi")[0].user_text
    assert (
        "title: SYNTHETIC Kidney Clear Cell Carcinoma vs normal tissue" in prompt
    )  # it read the backgrounds
    assert "- id: Kidney_Clear_Cell_Carcinoma/GSE9900501" in prompt
    plan = provenance["plan"]
    assert [t["task_id"] for t in plan["tasks"]] == [f"{TRAIT}/GSE9900502", f"{TRAIT}/TCGA"]
    assert "a cell-line study" in plan["skipped"][f"{TRAIT}/GSE9900501"]
    assert "GSE9900501" not in {c["cohort"] for c in result["cohorts"]}
    notes = " ".join(plan["notes"])
    assert "kept: TCGA cohorts are matched by the domain rules" in notes  # the rules bound the model


@pytest.mark.docker
def test_an_unusable_pi_reply_leaves_the_rule_plan_and_says_so(two_series, tmp_path, capsys, model_sandbox):
    script = Script(fallback=competent_model).add(Reply("I would start with the larger study."), role="pi")
    result, provenance = _run(two_series, tmp_path, script, capsys, model_sandbox)
    plan = provenance["plan"]
    assert len(plan["tasks"]) == 3 and not any("not relevant" in why for why in plan["skipped"].values())
    assert any("reply unusable" in note and "rule plan kept" in note for note in plan["notes"])
    assert len(script.calls(role="pi")) == 1 and len(script.requests) == 1  # nobody else has a model
