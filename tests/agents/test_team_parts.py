"""Messages and routing, code memory, reply parsing, and the team configuration."""

from __future__ import annotations

import json

import pytest

from genoteam.agents.llm import OFFLINE, load_team_config
from genoteam.agents.memory import CodeMemory, ContextSignature, parse_snippet_header
from genoteam.agents.messages import (
    AttemptView,
    CodeProposal,
    CodeRequest,
    MessageBus,
    PlanDecision,
    ReviewRequest,
    ReviewVerdict,
    RoutingError,
    TaskAssignment,
)
from genoteam.agents.parsing import extract_code, extract_json_object
from genoteam.toolkit.errors import GenoteamError

# ---------------------------------------------------------------- messages


def _proposal(recipient: str, in_reply_to: str | None) -> CodeProposal:
    """The domain expert's code for unit u of task t; the routing tests vary only where it goes."""
    return CodeProposal(
        sender="domain_expert",
        recipient=recipient,
        task_id="t",
        in_reply_to=in_reply_to,
        unit="u",
        code="x=1",
        source="model",
    )


def test_routes_allow_the_protocol_and_refuse_the_rest(tmp_path):
    bus = MessageBus("j1", tmp_path / "m.jsonl")
    bus.send(
        TaskAssignment(sender="pi", recipient="geo", task_id="t", guideline="geo", trait="X", cohort="GSE1")
    )
    with pytest.raises(RoutingError, match="may not send"):
        bus.send(TaskAssignment(sender="geo", recipient="tcga", task_id="t", guideline="geo", trait="X"))
    with pytest.raises(RoutingError, match="from a role to itself"):
        bus.send(PlanDecision(sender="geo", recipient="tcga", task_id="t", action="advance", reason="r"))
    with pytest.raises(RoutingError, match="may not go to"):
        bus.send(CodeRequest(sender="geo", recipient="reviewer", task_id="t", unit="u", instructions="i"))
    request = bus.send(
        CodeRequest(sender="geo", recipient="domain_expert", task_id="t", unit="u", instructions="i")
    )
    with pytest.raises(RoutingError, match="must answer a recorded code_request"):
        bus.send(_proposal("geo", in_reply_to=None))
    with pytest.raises(RoutingError, match="go back to the sender"):
        bus.send(_proposal("tcga", in_reply_to=request.id))
    bus.send(_proposal("geo", in_reply_to=request.id))
    view = AttemptView(
        unit="u", instructions="i", attempt=1, code="x=1", status="ok", output="", author="geo"
    )
    review = bus.send(ReviewRequest(sender="geo", recipient="reviewer", task_id="t", attempt=view))
    bus.send(
        ReviewVerdict(
            sender="reviewer",
            recipient="geo",
            task_id="t",
            in_reply_to=review.id,
            unit="u",
            approved=True,
            reason="fine",
        )
    )
    recorded = MessageBus.read_record(tmp_path / "m.jsonl")
    assert [m.kind for m in recorded] == [
        "task_assignment",
        "code_request",
        "code_proposal",
        "review_request",
        "review_verdict",
    ]
    assert all(m.job_id == "j1" for m in recorded)
    assert len(bus.for_task("t")) == 5


# ---------------------------------------------------------------- memory


def test_memory_reuses_only_where_the_context_fits(tmp_path):
    memory = CodeMemory(tmp_path / "mem.sqlite")
    gpl96 = ContextSignature(platform="GPL96", file_format="soft")
    gpl97 = ContextSignature(platform="GPL97", file_format="soft")
    generic = memory.add("geo", "map_genes", ContextSignature(), "generic()", "shipped")
    specific = memory.add("geo", "map_genes", gpl96, "for_gpl96()", "geo")
    memory.record_outcome(specific, True)
    assert memory.lookup("geo", "map_genes", gpl96, job_id="a").id == generic  # shipped outranks learned
    # opted in: learned code first, the most specific first
    assert memory.lookup("geo", "map_genes", gpl96, job_id="a", prefer_learned=True).id == specific
    assert memory.lookup("geo", "map_genes", gpl97, job_id="a", prefer_learned=True).id == generic  # no fit
    old_toolkit = ContextSignature(platform="GPL96", file_format="soft", toolkit_version="0.0")
    assert memory.lookup("geo", "map_genes", old_toolkit, job_id="a") is None  # written for another toolkit
    assert memory.lookup("tcga", "map_genes", gpl96, job_id="a") is None
    # a learned snippet that fails more than it passes is no longer trusted
    memory.record_outcome(specific, False)
    memory.record_outcome(specific, False)
    assert memory.lookup("geo", "map_genes", gpl96, job_id="b", prefer_learned=True).id == generic
    stats = memory.stats("a")
    assert stats["lookups"] == 5 and stats["hits"] == 3 and stats["hit_rate"] == 0.6
    assert stats["per_unit"]["tcga/map_genes"] == {"lookups": 1, "hits": 0}
    assert memory.get(generic).uses == 3
    memory.close()
    reopened = CodeMemory(tmp_path / "mem.sqlite")  # persistent
    assert reopened.get(specific).fails == 2 and reopened.stats()["lookups"] == 6
    reopened.close()


def test_shipped_snippets_are_seeded_and_replaced_when_they_change(tmp_path):
    folder = tmp_path / "snippets" / "geo"
    folder.mkdir(parents=True)
    (folder / "load.py").write_text("# genoteam-snippet: file_format=soft\nx = 1\n")
    memory = CodeMemory(tmp_path / "mem.sqlite")
    assert memory.seed_shipped(tmp_path / "snippets") == 1
    soft = ContextSignature(file_format="soft")
    first = memory.lookup("geo", "load", soft)
    assert first.code.endswith("x = 1\n") and first.signature.file_format == "soft"
    assert memory.lookup("geo", "load", ContextSignature(file_format="matrix")) is None
    (folder / "load.py").write_text("# genoteam-snippet: file_format=soft\nx = 2\n")
    memory.seed_shipped(tmp_path / "snippets")
    assert [s.code[-6:] for s in memory.candidates("geo", "load", soft)] == ["x = 2\n"]
    assert parse_snippet_header("print(1)\n") == ContextSignature()


def test_a_corrupt_memory_file_is_a_clear_error(tmp_path):
    path = tmp_path / "mem.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(GenoteamError, match="cannot be opened"):
        CodeMemory(path)


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("reply", "code", "problem"),
    [
        ("```python\nx = 1\n```", "x = 1\n", ""),
        ("Sure, here it is:\n```python3\nx = 1\n```\nIt sets x.", "x = 1\n", ""),
        ("```py\nx = 1\n```\n```json\n{}\n```", "x = 1\n", ""),
        ("first\n```python\nx = 1\n```\nthen\n```py\ny = 2\n```\n", None, "2 python code blocks"),
        ("I'm sorry, but I can't help with that.", None, "the model declined"),
        ("", None, "empty reply"),
        ("   \n", None, "empty reply"),
        ("Sure! x = 1", None, "no ```python code block"),
        ("```python\nx = (1,\n```", None, "not valid Python"),
        ("```python\nx = 1\n", None, "truncated"),
        ("```python\nx=1\n```\n```python\ny = (", None, "truncated"),
        ("```json\n{}\n```", None, "no ```python code block"),
    ],
)
def test_code_extraction_is_strict(reply, code, problem):
    parsed = extract_code(reply)
    assert parsed.code == code
    assert problem in parsed.problem


def test_code_from_tool_calls_and_truncation_by_finish_reason():
    call = {"name": "run_python", "arguments": json.dumps({"code": "x = 1"})}
    assert extract_code("", None, [call]).code == "x = 1\n"
    assert "exactly one with a code argument" in extract_code("", None, [call, call]).problem
    assert (
        "not valid Python" in extract_code("", None, [{"name": "f", "arguments": {"code": "x = ("}}]).problem
    )
    cut = extract_code("```python\nx = 1\n```", "length")  # a closed block, but the reply was cut
    assert cut.code is None and "finish_reason=length" in cut.problem


def test_json_extraction():
    assert extract_json_object('ok {"a": 1} trailing')[0] == {"a": 1}
    assert extract_json_object('```json\n{"a": [1, 2]}\n```')[0] == {"a": [1, 2]}
    assert "malformed" in extract_json_object('{"a": ')[1]
    assert "no JSON object" in extract_json_object("advance")[1]


# ---------------------------------------------------------------- configuration


def test_no_configuration_and_no_key_means_every_role_offline():
    config = load_team_config(env={})
    assert config.all_offline()
    named = load_team_config(env={"GENOTEAM_MODEL": "openai/gpt-4o-mini"})
    assert named.all_offline()
    assert "OPENAI_API_KEY" in named.role("reviewer").offline_reason


def test_config_file_and_environment_choose_models_per_role(tmp_path):
    path = tmp_path / "team.toml"
    path.write_text(
        "[team]\nmax_revisions = 4\nmax_cost_usd = 0.5\n"
        '[models.default]\nmodel = "openai/local"\napi_base = "http://127.0.0.1:9/v1"\ntimeout_s = 30\n'
        "input_cost_per_token = 0.0\noutput_cost_per_token = 0.0\nmax_tokens = 1000\n"
        '[models.reviewer]\nmodel = "offline"\n'
        "[models.tcga]\nmax_tokens = 500\n"
        '[models.statistician]\nmodel = "openai/other"\napi_key_env = "OTHER_KEY"\nallow_unpriced = true\n'
    )
    config = load_team_config(
        path, env={"GENOTEAM_MODEL_PI": "offline", "GENOTEAM_MAX_COST_USD": "0.25", "OTHER_KEY": "k"}
    )
    assert config.max_revisions == 4 and config.max_cost_usd == 0.25
    assert config.role("geo").model == "openai/local" and config.role("geo").timeout_s == 30
    assert config.role("reviewer").model == OFFLINE and config.role("pi").model == OFFLINE
    # a section without its own model takes the default whole, with its own changes
    assert config.role("tcga").api_base == "http://127.0.0.1:9/v1" and config.role("tcga").max_tokens == 500
    # a section naming another model inherits only how to call it, never where or at what price
    other = config.role("statistician")
    assert other.api_base is None and other.input_cost_per_token is None and other.max_tokens is None
    assert other.timeout_s == 30 and other.allow_unpriced
    assert not config.all_offline()
    keyed = load_team_config(env={"GENOTEAM_MODEL_REVIEWER": "openai/gpt-4o-mini", "OPENAI_API_KEY": "sk-x"})
    assert keyed.role("reviewer").model == "openai/gpt-4o-mini" and keyed.role("geo").offline


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[models.wizard]\nmodel = 'x'\n", "unknown role"),
        ("[modles]\n", "unknown section"),
        ("[team]\nmax_revisions = -1\n", "invalid"),
        ("[team\n", "cannot be read"),
        (
            '[models.default]\nmodel = "openai/local"\napi_base = "http://127.0.0.1:9/v1"\n',
            "has no known price",
        ),
        ('[team]\nauthoring = "models"\n', "invalid"),
    ],
)
def test_bad_config_is_refused(tmp_path, text, match):
    path = tmp_path / "team.toml"
    path.write_text(text)
    with pytest.raises(GenoteamError, match=match):
        load_team_config(path, env={})


def test_a_memory_written_by_an_older_layout_is_carried_over(tmp_path):
    import sqlite3

    from genoteam.agents.memory import CodeMemory

    path = tmp_path / "code_memory.sqlite"
    with sqlite3.connect(path) as db:  # the layout before snippets had a cohort column
        db.execute(
            "CREATE TABLE snippets (id INTEGER PRIMARY KEY, role TEXT NOT NULL, unit TEXT NOT NULL, "
            "platform TEXT NOT NULL, file_format TEXT NOT NULL, toolkit_version TEXT NOT NULL, "
            "code TEXT NOT NULL, code_sha TEXT NOT NULL, origin TEXT NOT NULL, created REAL NOT NULL, "
            "passes INTEGER NOT NULL DEFAULT 0, fails INTEGER NOT NULL DEFAULT 0, "
            "uses INTEGER NOT NULL DEFAULT 0, retired INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute(
            "INSERT INTO snippets (role, unit, platform, file_format, toolkit_version, code, code_sha, "
            "origin, created, passes, uses) VALUES ('geo', 'u', 'GPL96', 'soft', 'v1', 'x = 1', 'sha', "
            "'model', 0, 3, 5)"
        )
    memory = CodeMemory(path)
    memory.seed_shipped()  # failed with "no column named cohort" before the upgrade
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT cohort, passes, uses FROM snippets WHERE code_sha = 'sha'").fetchone()
    assert row == ("", 3, 5)
    memory.close()


def test_learned_code_records_its_author_and_stays_in_its_workspace(tmp_path):
    import shutil

    first = tmp_path / "ws1" / "code_memory.sqlite"
    memory = CodeMemory(first)
    learned = memory.add("geo", "u", ContextSignature(), "x = 1\n", "geo", model="openai/m", job_id="job1")
    memory.record_outcome(learned, True)
    entry = memory.get(learned)
    assert (entry.model, entry.job_id, entry.workspace) == ("openai/m", "job1", str(first.parent.resolve()))
    assert memory.lookup("geo", "u", ContextSignature()).id == learned
    memory.close()
    # the same file copied into another workspace offers none of the learned code
    second = tmp_path / "ws2" / "code_memory.sqlite"
    second.parent.mkdir()
    shutil.copy(first, second)
    elsewhere = CodeMemory(second)
    assert elsewhere.lookup("geo", "u", ContextSignature()) is None
    assert elsewhere.get(learned).code == "x = 1\n"  # still listed, just never offered here
    elsewhere.close()


def test_memory_command_lists_and_forgets_learned_code(tmp_path, capsys):
    from genoteam.cli import main

    path = tmp_path / "code_memory.sqlite"
    memory = CodeMemory(path)
    memory.seed_shipped()
    kept = memory.add("geo", "u1", ContextSignature(), "a = 1\n", "geo", model="openai/a", job_id="j1")
    gone = memory.add("tcga", "u2", ContextSignature(), "b = 1\n", "tcga", model="openai/b", job_id="j2")
    shipped_id = next(e.id for e in memory.entries() if e.shipped)
    memory.close()
    assert main(["memory", "list", "--memory", str(path), "--learned", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["model"], r["job"], r["reusable_here"]) for r in rows] == [
        (kept, "openai/a", "j1", True),
        (gone, "openai/b", "j2", True),
    ]
    assert main(["memory", "forget", "--memory", str(path), "--job", "j2"]) == 0
    assert f"forgot 1 snippet(s): {gone}" in capsys.readouterr().out
    assert main(["memory", "forget", "--memory", str(path), str(shipped_id)]) == 1
    assert "shipped with genoteam and cannot be forgotten" in capsys.readouterr().err
    assert main(["memory", "forget", "--memory", str(path), "999999"]) == 1
    assert "has no snippet 999999" in capsys.readouterr().err
    reopened = CodeMemory(path)
    assert [e.id for e in reopened.entries() if not e.shipped] == [kept]
    reopened.close()
