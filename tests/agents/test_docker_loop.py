"""The programming loop against the Docker sandbox: memory, checks, review and rollback in a container."""

from __future__ import annotations

import json

import pytest

from genoteam.agents.loop import run_task

from .conftest import (
    TOY_SNIPPETS,
    code_reply,
    make_team,
    scripted_config,
    seed_toy_snippets,
    toy_spec,
    write_toy_table,
)

pytestmark = pytest.mark.docker


def test_offline_task_in_docker(tmp_path, toy_guideline, docker_session, memory):
    seed_toy_snippets(memory)
    table = write_toy_table(tmp_path / "work" / "table.csv", with_missing=True)
    record = run_task(
        make_team(tmp_path, memory), toy_spec(toy_guideline, docker_session, table), docker_session
    )
    assert record.status == "completed", record.reason
    assert record.sandbox["backend"] == "docker"
    assert record.unit_states()["rare_fix"] == "passed"
    assert (tmp_path / "work" / "summary.csv").read_text().count("\n") == 3  # written inside the container


def test_scripted_revision_and_backtrack_in_docker(
    tmp_path, toy_guideline, docker_session, memory, script, model_server
):
    from .test_llm_path import follow_guideline

    def plan(action, unit, reason):
        return json.dumps({"action": action, "unit": unit, "reason": reason})

    script.fallback = follow_guideline
    script.add(
        json.dumps({"approved": False, "reason": "no count", "requests": ["print the row count"]}),
        role="reviewer",
        unit="load_table",
    )
    for reply in (
        plan("advance", "load_table", "a"),
        plan("advance", "preview", "b"),
        plan("advance", "choose_trait", "c"),
        plan("backtrack", "preview", "again"),
    ):
        script.add(reply, role="geo", purpose="plan")
    script.add(
        code_reply("print('table' in globals(), 'labels' in globals())\n" + TOY_SNIPPETS["preview"]),
        role="geo",
        purpose="code",
        unit="preview",
        times=2,
    )
    table = write_toy_table(tmp_path / "work" / "table.csv")
    team = make_team(tmp_path, memory, scripted_config(model_server.api_base))
    record = run_task(team, toy_spec(toy_guideline, docker_session, table), docker_session)

    assert record.status == "completed", record.reason
    load = record.visits[0]
    assert [a.verdict.approved for a in load.attempts] == [False, True]
    previews = [v for v in record.visits if v.unit == "preview"]
    assert (
        "True True" not in previews[1].attempts[0].output and "True False" in previews[1].attempts[0].output
    )
    assert record.replays[0].ok and record.replays[0].cells == 2
