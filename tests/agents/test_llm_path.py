"""The LLM path for real: litellm -> HTTP on 127.0.0.1 -> a scripted model -> parsing, retries, ledger.

Each test scripts the replies of the roles it is about; the rest follow the guideline (plans
advance, code is the toy snippet, reviews approve), so every assertion is about one behaviour.
"""

from __future__ import annotations

import json
import re

from genoteam.agents.loop import run_task
from genoteam.agents.messages import MessageBus
from tests.standin_model import Reply, ScriptedRequest

from .conftest import (
    TOY_SNIPPETS,
    code_reply,
    make_team,
    scripted_config,
    seed_toy_snippets,
    toy_spec,
    write_toy_table,
)

APPROVE = json.dumps({"approved": True, "reason": "does what the unit asks", "requests": []})


def follow_guideline(request: ScriptedRequest) -> Reply:
    """The default model: plans advance (stop at the end), code is the toy snippet, reviews approve."""
    if request.purpose == "plan":
        facts = json.loads(request.user_text.split("# Facts\n", 1)[1])
        if facts["next_unit"] is None:
            return Reply(json.dumps({"action": "stop", "unit": None, "reason": "all units done"}))
        return Reply(json.dumps({"action": "advance", "unit": facts["next_unit"], "reason": "next in order"}))
    if request.purpose in ("code", "domain_code"):
        return Reply(code_reply(TOY_SNIPPETS[request.unit]))
    if request.purpose == "review":
        return Reply(APPROVE)
    return Reply(status=400, text=f"unexpected purpose {request.purpose}")


def _run(tmp_path, guideline, session, memory, script, server, **team_options):
    script.fallback = follow_guideline
    table = write_toy_table(tmp_path / "work" / "table.csv")
    team = make_team(tmp_path, memory, scripted_config(server.api_base, **team_options))
    record = run_task(team, toy_spec(guideline, session, table), session)
    return team, record


def test_rejected_attempt_is_revised_and_approved(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    script.add(
        json.dumps(
            {
                "approved": False,
                "reason": "the sample count is not shown",
                "requests": ["print the number of tumour samples"],
            }
        ),
        role="reviewer",
        unit="load_table",
    )
    team, record = _run(tmp_path, toy_guideline, sandbox_session, memory, script, model_server)

    assert record.status == "completed", record.reason
    visit = record.visits[0]
    assert visit.unit == "load_table" and visit.status == "passed" and not visit.from_memory
    first, second = visit.attempts
    assert first.code_source == "model" and first.cell_status == "ok"
    assert not first.verdict.approved and first.verdict.source == "model"
    assert first.verdict.requests == ["print the number of tumour samples"]
    assert second.verdict.approved and second.verdict.source == "model"
    # the revision prompt carried the reviewer's concrete request and the rejected code
    revision_prompt = script.calls(role="geo", purpose="code", unit="load_table")[1].user_text
    assert (
        "print the number of tumour samples" in revision_prompt
        and "previous attempt was rejected" in revision_prompt
    )
    # the approved model code was learned, with its context signature and a pass
    learned = memory.candidates(
        "geo", "load_table", toy_spec(toy_guideline, sandbox_session, tmp_path).signature
    )
    assert learned[0].origin == "geo" and learned[0].passes == 1 and learned[0].signature.platform == "TOY"
    # tokens and cost were counted per role from the HTTP replies
    by_role = team.client.ledger.summary()["by_role"]
    assert by_role["reviewer"]["calls"] >= 6 and by_role["reviewer"]["prompt_tokens"] > 0
    assert by_role["geo"]["cost_usd"] > 0


def test_memory_hit_needs_no_model_call(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    seed_toy_snippets(memory, units={"load_table", "summarise"})
    team, record = _run(tmp_path, toy_guideline, sandbox_session, memory, script, model_server)

    assert record.status == "completed", record.reason
    for unit in ("load_table", "summarise"):
        visit = next(v for v in record.visits if v.unit == unit)
        assert visit.from_memory and visit.attempts[0].author == "memory"
        assert visit.attempts[0].verdict.source.startswith("rules (shipped snippet")
        assert (
            script.calls(purpose="code", unit=unit) == [] and script.calls(role="reviewer", unit=unit) == []
        )
    assert len(script.calls(role="geo", purpose="code", unit="save")) == 1
    stats = memory.stats("job-test")
    assert stats["hits"] == 2 and stats["lookups"] == 5


def test_domain_expert_writes_the_domain_unit_and_the_reviewer_judges(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    team, record = _run(tmp_path, toy_guideline, sandbox_session, memory, script, model_server)
    assert record.status == "completed", record.reason
    visit = next(v for v in record.visits if v.unit == "choose_trait")
    assert visit.needs_domain_knowledge and visit.attempts[0].author == "domain_expert"
    assert len(script.calls(role="domain_expert", purpose="domain_code", unit="choose_trait")) == 1
    assert script.calls(role="geo", purpose="code", unit="choose_trait") == []
    assert len(script.calls(role="reviewer", unit="choose_trait")) == 1
    assert script.calls(role="domain_expert", unit="load_table") == []
    kinds = [
        (m.kind, m.sender, m.recipient)
        for m in MessageBus.read_record(tmp_path / "messages.jsonl")
        if getattr(m, "unit", None) == "choose_trait"
    ]
    assert ("code_request", "geo", "domain_expert") in kinds and (
        "code_proposal",
        "domain_expert",
        "geo",
    ) in kinds
    assert ("review_verdict", "reviewer", "geo") in kinds
    # the reviewer sees the current attempt and the task history, not the code of earlier units
    save_review = script.calls(role="reviewer", unit="save")[0].user_text
    assert "summary.to_csv(out_file)" in save_review and "groupby(labels)" not in save_review
    assert "summarise: passed" in save_review


def test_planner_skips_an_optional_unit_and_backtracks_with_the_kernel_rolled_back(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    def plan(action, unit, reason):
        return json.dumps({"action": action, "unit": unit, "reason": reason})

    script.add(plan("skip", "preview", "the shape is already printed"), role="geo", purpose="plan")
    script.add(plan("stop", None, "enough"), role="geo", purpose="plan")  # refused: required units pending
    script.add(plan("skip", "summarise", "not needed"), role="geo", purpose="plan")  # refused: not optional
    script.add(plan("backtrack", "choose_trait", "labels should be re-derived"), role="geo", purpose="plan")
    # the second visit of choose_trait proves the kernel was rolled back: `labels` is gone again
    script.add(
        code_reply("print('labels defined:', 'labels' in globals())\n" + TOY_SNIPPETS["choose_trait"]),
        role="domain_expert",
        unit="choose_trait",
        times=2,
    )
    team, record = _run(
        tmp_path, toy_guideline, sandbox_session, memory, script, model_server, max_backtracks=1
    )

    assert record.status == "completed", record.reason
    actions = [(d["action"], d["unit"], d["source"].split(":")[0]) for d in record.decisions]
    assert actions == [
        ("advance", "load_table", "rules"),  # the only legal action: no model call
        ("skip", "preview", "model"),
        ("advance", "choose_trait", "rules (model decision refused"),  # no stop with required units pending
        ("skip", "rare_fix", "rules"),  # binding skip_if: the model is not asked
        ("advance", "summarise", "rules (model decision refused"),  # summarise is not optional
        ("backtrack", "choose_trait", "model"),
        ("advance", "choose_trait", "rules"),  # backtracks used up: advance is all that is left
        ("skip", "rare_fix", "rules"),
        ("advance", "summarise", "rules"),
        ("advance", "save", "rules"),
        ("stop", None, "rules"),
    ]
    assert "stop while required units are pending (choose_trait" in record.decisions[2]["source"]
    assert "unit summarise is not optional" in record.decisions[4]["source"]
    assert len(script.calls(purpose="plan")) == 4  # only where there was a choice
    # the backtrack's reason reaches the unit's author, who writes it afresh
    redo = script.calls(role="domain_expert", unit="choose_trait")[1]
    assert "the planner went back to this unit: labels should be re-derived" in redo.user_text
    assert record.backtracks == 1
    assert record.replays[0].ok and record.replays[0].to_unit == "choose_trait"
    assert record.replays[0].cells == 2  # setup + load_table (preview was skipped: no code)
    visits = [v for v in record.visits if v.unit == "choose_trait"]
    assert len(visits) == 2
    assert "labels defined: True" not in visits[1].attempts[0].output
    assert "labels defined: False" in visits[1].attempts[0].output
    assert record.unit_states()["preview"] == "skipped" and record.unit_states()["save"] == "passed"


def test_unusable_model_replies_are_attempts_that_fail_visibly(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    script.add("I am sorry, I cannot write that.", role="geo", purpose="code", unit="load_table")
    script.add("", role="geo", purpose="code", unit="load_table")
    script.add(
        "```python\nimport pandas as pd\ntable = pd.read_csv(", role="geo", purpose="code", unit="load_table"
    )
    script.add(
        Reply(code_reply(TOY_SNIPPETS["load_table"]), delay_s=2.5),
        role="geo",
        purpose="code",
        unit="load_table",
        times=2,
    )  # both tries of one call time out (timeout 2 s, 1 retry)
    team, record = _run(
        tmp_path, toy_guideline, sandbox_session, memory, script, model_server, max_revisions=5
    )

    assert record.status == "completed", record.reason
    attempts = next(v for v in record.visits if v.unit == "load_table").attempts
    problems = [a.problem for a in attempts]
    assert "the model declined: I am sorry" in problems[0]
    assert "empty reply" in problems[1]
    assert "unclosed ``` code block (truncated reply)" in problems[2]
    assert "model call failed" in problems[3] and "Timeout" in problems[3]
    assert attempts[4].verdict.approved and attempts[4].code_source == "model"
    assert all(
        a.code_source == "none" and a.cell_status is None and not a.verdict.approved for a in attempts[:4]
    )
    timed_out = [c for c in team.client.ledger.calls if not c.ok and c.purpose == "code"]
    assert (
        len(timed_out) == 1
        and timed_out[0].attempts == 2
        and all("Timeout" in e for e in timed_out[0].errors)
    )
    assert team.client.ledger.summary()["by_role"]["geo"]["failed_calls"] == 1


def test_garbage_from_the_planner_falls_back_to_rules_and_an_unreadable_review_is_asked_again(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    script.add("let me think... skip, probably", role="geo", purpose="plan")
    script.add('{"approved": "yes"}', role="reviewer", unit="load_table")
    team, record = _run(tmp_path, toy_guideline, sandbox_session, memory, script, model_server)
    assert record.status == "completed", record.reason
    assert record.decisions[1]["action"] == "advance"
    assert record.decisions[1]["source"].startswith(
        "rules (model reply unusable: the reply holds no JSON object"
    )
    verdict = record.visits[0].attempts[0].verdict
    assert verdict.approved and verdict.source == "model (asked twice)"
    again = script.calls(role="reviewer", unit="load_table")[1]
    assert (
        "could not be read as a verdict (the JSON has no boolean `approved`)" in again.messages[-1]["content"]
    )


def test_a_review_without_a_verdict_twice_is_a_rejection(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    """Fail closed: 'Final Decision: Rejected' prose used to count as an approval."""
    prose = "The labels look inverted: tumour samples are coded 0.\n\nFinal Decision: Rejected"
    script.add(prose, role="reviewer", unit="choose_trait", times=2)
    team, record = _run(tmp_path, toy_guideline, sandbox_session, memory, script, model_server)
    assert record.status == "completed", record.reason
    attempts = next(v for v in record.visits if v.unit == "choose_trait").attempts
    first = attempts[0].verdict
    assert (
        not first.approved and "fails closed" in first.source and "could not be read, twice" in first.reason
    )
    assert attempts[0].rolled_back is not None and "labels" in attempts[0].rolled_back["removed_names"]
    assert attempts[1].verdict.approved and attempts[1].verdict.source == "model"
    assert len(script.calls(role="reviewer", unit="choose_trait")) == 3


def test_http_errors_are_retried_then_reported(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    script.add(Reply(status=503, text="overloaded"), role="geo", purpose="code", unit="load_table")
    team, record = _run(tmp_path, toy_guideline, sandbox_session, memory, script, model_server)
    assert record.status == "completed"
    first_code_call = next(c for c in team.client.ledger.calls if c.purpose == "code")
    assert first_code_call.ok and first_code_call.attempts == 2
    assert re.search(r"ServiceUnavailable|InternalServer|APIError", first_code_call.errors[0])


def test_the_budget_stops_the_task_before_a_call_could_overshoot(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    # each call's worst case is its prompt plus max_tokens (4096) at 2e-6 per token: ~$0.008
    team, record = _run(
        tmp_path, toy_guideline, sandbox_session, memory, script, model_server, max_cost_usd=0.0095
    )
    assert record.status == "budget_exhausted"
    assert "model budget is exhausted" in record.reason and "$0.0095" in record.reason
    ledger = team.client.ledger
    served = [c for c in ledger.calls if c.ok]
    refused = [c for c in ledger.calls if any(e.startswith("budget") for e in c.errors)]
    assert len(refused) == 1 and refused[0] is ledger.calls[-1]  # the job stopped at the first refusal
    assert len(script.requests) == len(served) >= 2  # refused calls never reached the server
    assert ledger.cost_usd <= 0.0095


def test_an_attempt_that_kills_the_kernel_is_recovered_by_replay(
    tmp_path, toy_guideline, sandbox_session, memory, script, model_server
):
    script.add(code_reply("import os\nos._exit(3)\n"), role="geo", purpose="code", unit="preview")
    team, record = _run(tmp_path, toy_guideline, sandbox_session, memory, script, model_server)
    assert record.status == "completed", record.reason
    preview = next(v for v in record.visits if v.unit == "preview")
    assert preview.attempts[0].cell_status == "killed" and not preview.attempts[0].verdict.approved
    assert preview.attempts[1].verdict.approved  # ran on the rebuilt namespace: `table` was replayed
    assert (
        record.replays[0].ok
        and record.replays[0].to_unit == "preview"
        and "ended the kernel" in record.replays[0].problem
    )
