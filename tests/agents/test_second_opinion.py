"""Shipped authoring with a domain expert model: the expert checks the rule-based clinical choice of
every judgement unit; it may override with reasons and code, and the override is run, checked and
reviewed like any attempt (the rule-based attempt is rolled back first)."""

from __future__ import annotations

import json

import pytest

from genoteam.cli import main
from tests.agents.test_misbehaving_models import GEO, TRAIT
from tests.standin_model import (
    Reply,
    Script,
    ScriptedModelServer,
    ScriptedRequest,
    competent_model,
    shipped_code,
)


def _override(request: ScriptedRequest) -> Reply:
    code = shipped_code(request.task, request.unit) + "print('expert: the status row holds the trait')\n"
    verdict = {"agree": False, "reason": "the rules read the right row but the choice must be shown"}
    return Reply(f"{json.dumps(verdict)}\n```python\n{code}```")


@pytest.mark.docker
def test_the_domain_expert_reviews_the_rule_based_choice_and_may_override_it(
    small_cohorts, tmp_path, capsys, model_sandbox
):
    script = Script(fallback=competent_model)
    script.add(_override, role="domain_expert", purpose="domain_review", unit="clinical_features", task=GEO)
    with ScriptedModelServer(script) as server:
        config = tmp_path / "team.toml"
        config.write_text(
            f'[models.domain_expert]\nmodel = "openai/expert"\napi_base = "{server.api_base}"\nallow_unpriced = true\n'
            f'[models.reviewer]\nmodel = "openai/expert"\napi_base = "{server.api_base}"\nallow_unpriced = true\n'
        )
        argv = ["run", "--trait", TRAIT, "--input", str(small_cohorts), "--output", str(tmp_path / "out")]
        argv += [
            "--sandbox",
            model_sandbox,
            "--memory",
            str(tmp_path / "m"),
            "--config",
            str(config),
            "--json",
        ]
        argv += ["--cohort", GEO, "--cohort", "TCGA"]
        code = main(argv)
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["status"] == "complete", result["message"]
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    visits = {(t["task_id"].split("/")[-1], v["unit"]): v for t in provenance["tasks"] for v in t["visits"]}
    geo = visits[(GEO, "clinical_features")]["attempts"]
    assert geo[0]["code_source"] == "memory" and geo[0]["second_opinion"]["override"] is True
    assert (
        not geo[0]["verdict"]["approved"] and "overrode the rule-based choice" in geo[0]["verdict"]["reason"]
    )
    assert geo[0]["rolled_back"] is not None  # the rule-based attempt was undone before the override ran
    assert geo[1]["author"] == "domain_expert" and geo[1]["verdict"]["approved"]
    assert geo[1]["verdict"]["source"] == "model"  # the override was reviewed
    assert "expert: the status row holds the trait" in geo[1]["output"]
    tcga = visits[("TCGA", "clinical_features")]["attempts"]
    assert len(tcga) == 1 and tcga[0]["second_opinion"] == {
        "agree": True,
        "reason": "the chosen fields hold the trait, age and gender",
        "override": False,
        "source": "model",
    }
    review = [c for c in script.calls(purpose="domain_review") if GEO in c.task]
    assert "Candidate fields (columns of `samples`)" in review[0].user_text  # the expert sees the fields
    # non-judgement units are not sent to the expert; shipped snippets are not model-reviewed
    assert {c.unit for c in script.calls(role="domain_expert")} == {"clinical_features", "identifier_review"}
