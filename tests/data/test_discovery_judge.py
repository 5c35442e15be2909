"""The PI's model as the judge of discovered cohorts: a real OpenAI-compatible stand-in model on
loopback (tests/standin_model.py) answers for each candidate, the rules review its answers, and
every decision records who made it; a model that misbehaves leaves the decision to the rules."""

from __future__ import annotations

import json

from genoteam.agents.cohort_judge import PURPOSE, PiCohortJudge
from genoteam.agents.llm import ModelClient, RoleModel, TeamConfig
from genoteam.data.discovery import find_cohorts
from tests.data.public_services import KIDNEY
from tests.standin_model import Reply, Script, ScriptedModelServer, ScriptedRequest


def pi_model(request: ScriptedRequest) -> Reply:
    candidate = json.loads(request.user_text)
    verdicts = {
        "GSE781": '{"include": true, "reason": "tumour and adjacent normal kidney from the same patients"}',
        "GSE90001": '```json\n{"include": true, "reason": "renal clear cell carcinoma, worth a look"}\n```',
        "GSE90002": "I think this one is fine.",  # not the JSON asked for
    }
    return Reply(verdicts.get(candidate["cohort"], '{"include": false, "reason": "too small to compare"}'))


def test_the_pi_model_decides_and_the_rules_review_it(services, env):
    script = Script(fallback=pi_model)
    with ScriptedModelServer(script) as server:
        config = TeamConfig(
            models={
                "pi": RoleModel(
                    model="openai/standin-pi", api_base=server.api_base, timeout_s=5, max_retries=0
                )
            }
        )
        judge = PiCohortJudge(ModelClient(config))
        found = find_cohorts(KIDNEY, cache_dir=env, judge=judge)
    decisions = {c.candidate.cohort: c.decision for c in found.choices}
    assert decisions["GSE781"].include and decisions["GSE781"].judge.startswith("pi model openai/standin-pi")
    assert decisions["GSE781"].reasons[0] == "model: tumour and adjacent normal kidney from the same patients"
    # the model says yes to the mouse study: the rules overrule it, and say so
    mouse = decisions["GSE90001"]
    assert not mouse.include and any(r.startswith("overruled by the rules: not human") for r in mouse.reasons)
    # an unreadable reply: the rules decide, and the record says why
    assert (
        decisions["GSE90002"].judge == "rules"
        and "not the JSON asked for" in decisions["GSE90002"].reasons[-1]
    )
    assert decisions["GSE90003"].reasons == ("model: too small to compare",)
    assert decisions["KIRC"].judge == "rules"  # TCGA matches stay with the domain rules
    asked = {json.loads(r.user_text)["cohort"] for r in script.calls(role="pi", purpose=PURPOSE)}
    assert asked == {"GSE781", "GSE90001", "GSE90002", "GSE90003"}
    assert found.to_dict()["cohorts"][0]["judge"] == decisions["GSE781"].judge
