"""The programming loop with every role offline, in a real local sandbox kernel."""

from __future__ import annotations

import json

from genoteam.agents.loop import run_task
from genoteam.agents.messages import MessageBus

from .conftest import make_team, seed_toy_snippets, toy_spec, write_toy_table


def test_offline_task_runs_every_unit_from_memory_and_skips_by_condition(
    tmp_path, toy_guideline, sandbox_session, memory
):
    seed_toy_snippets(memory)
    table = write_toy_table(tmp_path / "work" / "table.csv")
    seen = []
    team = make_team(tmp_path, memory)
    record = run_task(
        team,
        toy_spec(toy_guideline, sandbox_session, table, on_unit=lambda u, s: seen.append((u, s))),
        sandbox_session,
    )

    assert record.status == "completed", record.reason
    states = record.unit_states()
    assert states == {
        "load_table": "passed",
        "preview": "passed",
        "choose_trait": "passed",
        "rare_fix": "skipped",
        "summarise": "passed",
        "save": "passed",
    }
    assert ("rare_fix", "skipped") in seen
    skip = next(d for d in record.decisions if d["action"] == "skip")
    assert skip["unit"] == "rare_fix" and "skip condition" in skip["reason"]
    for visit in record.visits:
        if visit.status == "passed":
            assert visit.from_memory and visit.final_code
            assert visit.attempts[-1].verdict.approved
            assert all(check["passed"] for check in visit.attempts[-1].checks)
    # the work really happened in the kernel: the file exists with the class means
    saved = (tmp_path / "work" / "summary.csv").read_text()
    assert "TP53" in saved and len(saved.splitlines()) == 3
    # memory counted 5 hits (rare_fix was skipped, so not looked up)
    stats = memory.stats("job-test")
    assert stats["lookups"] == 5 and stats["hits"] == 5
    # every message was routed and recorded; the record re-validates
    recorded = MessageBus.read_record(tmp_path / "messages.jsonl")
    kinds = [m.kind for m in recorded]
    assert kinds.count("review_request") == 5 and kinds.count("review_verdict") == 5
    assert kinds[-1] == "task_report" and recorded[-1].status == "completed"
    assert team.client.ledger.calls == []  # offline: no model call at all


def test_missing_values_make_the_planner_run_the_conditional_unit(
    tmp_path, toy_guideline, sandbox_session, memory
):
    seed_toy_snippets(memory)
    table = write_toy_table(tmp_path / "work" / "table.csv", with_missing=True)
    record = run_task(
        make_team(tmp_path, memory), toy_spec(toy_guideline, sandbox_session, table), sandbox_session
    )
    assert record.status == "completed"
    assert record.unit_states()["rare_fix"] == "passed"


def test_stop_condition_ends_the_task_early_as_stopped_not_failed(
    tmp_path, toy_guideline, sandbox_session, memory
):
    seed_toy_snippets(memory)
    table = write_toy_table(tmp_path / "work" / "table.csv", n_tumour=10, n_normal=2)
    record = run_task(
        make_team(tmp_path, memory), toy_spec(toy_guideline, sandbox_session, table), sandbox_session
    )
    assert record.status == "stopped"
    assert record.reason == "fewer than 3 samples in a class"
    assert "save" not in record.unit_states()
    assert not (tmp_path / "work" / "summary.csv").exists()


def test_a_failing_snippet_fails_the_unit_and_the_task_with_the_error(
    tmp_path, toy_guideline, sandbox_session, memory
):
    seed_toy_snippets(memory, units={"load_table", "preview"})
    bad = memory.add(
        "geo",
        "choose_trait",
        memory.candidates("geo", "load_table", _sig())[0].signature,
        "labels = table['no_such_column']\n",
        "shipped",
    )
    table = write_toy_table(tmp_path / "work" / "table.csv")
    record = run_task(
        make_team(tmp_path, memory), toy_spec(toy_guideline, sandbox_session, table), sandbox_session
    )

    assert record.status == "failed"
    visit = record.visits[-1]
    assert visit.unit == "choose_trait" and visit.status == "failed"
    attempt = visit.attempts[0]
    assert attempt.cell_status == "error" and "KeyError" in attempt.error
    assert not attempt.verdict.approved and attempt.verdict.source == "rules"
    assert any("produces:trait_col" in c["name"] and not c["passed"] for c in attempt.checks)
    assert "choose_trait failed" in record.reason
    assert memory.get(bad).fails == 1
    assert "summarise" not in record.unit_states()  # never advanced past the failure


def test_offline_with_no_fitting_snippet_fails_with_a_clear_reason(
    tmp_path, toy_guideline, sandbox_session, memory
):
    table = write_toy_table(tmp_path / "work" / "table.csv")
    record = run_task(
        make_team(tmp_path, memory), toy_spec(toy_guideline, sandbox_session, table), sandbox_session
    )
    assert record.status == "failed"
    assert "offline" in record.visits[0].reason and "no fitting snippet" in record.visits[0].reason
    assert record.visits[0].attempts == []


def test_a_check_failure_rejects_code_that_ran(tmp_path, toy_guideline, sandbox_session, memory):
    seed_toy_snippets(memory, units=set())
    memory.add(
        "geo",
        "load_table",
        _sig(),
        "import pandas as pd\ntable = pd.read_csv(table_file, index_col=0).head(4)\n",
        "shipped",
    )
    table = write_toy_table(tmp_path / "work" / "table.csv")
    record = run_task(
        make_team(tmp_path, memory), toy_spec(toy_guideline, sandbox_session, table), sandbox_session
    )
    attempt = record.visits[0].attempts[0]
    assert attempt.cell_status == "ok"
    shape = next(c for c in attempt.checks if c["name"].startswith("shape"))
    assert not shape["passed"] and "min rows 10, found 4" in shape["detail"]
    assert record.visits[0].status == "failed"
    json.dumps(record.model_dump())  # the record is JSON-serialisable for provenance


def _sig():
    from genoteam.agents.memory import ContextSignature

    return ContextSignature()


def test_a_sandbox_that_breaks_mid_task_fails_the_task_and_keeps_the_record(
    tmp_path, toy_guideline, sandbox_session, memory
):
    seed_toy_snippets(memory)
    table = write_toy_table(tmp_path / "work" / "table.csv")

    def break_after_first_unit(unit, status):
        if unit == "load_table":
            sandbox_session.close()  # as if the container vanished

    spec = toy_spec(toy_guideline, sandbox_session, table, on_unit=break_after_first_unit)
    record = run_task(make_team(tmp_path, memory), spec, sandbox_session)
    assert record.status == "failed"
    assert "unexpected error" in record.reason and "closed" in record.reason
    assert "open a new session" in record.reason  # what to do travels with the problem
    assert record.visits[0].unit == "load_table" and record.visits[0].status == "passed"
    assert MessageBus.read_record(tmp_path / "messages.jsonl")[-1].status == "failed"
