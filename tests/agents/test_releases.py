"""Kernels free what later units no longer need: a unit's `releases` are deleted from the kernel
once it is approved, and no later unit of a shipped guideline (its snippet, checks, conditions)
reads a name an earlier unit released."""

from __future__ import annotations

import ast
from pathlib import Path

from genoteam.agents.guidelines import load_guideline, load_guidelines
from genoteam.agents.loop import run_task
from genoteam.agents.memory import SNIPPETS_DIR, snippet_roles
from genoteam.agents.messages import ROLES

from .conftest import make_team, toy_spec

GUIDELINE = """\
role: geo
title: Release a big table
action_units:
  - name: load
    instructions: Build `big` and `kept`.
    produces: [big, kept]
  - name: reduce
    instructions: Set `total` from `big`; `big` is not needed afterwards.
    produces: [total]
    releases: [big]
  - name: use
    instructions: Check what the kernel still holds.
    checks:
      - kind: expression
        expr: "'big' not in globals() and kept == 7 and total == 499999500000"
        message: big was released after reduce; kept and total stay
"""
SNIPPETS = {
    "load": "big = list(range(1_000_000))\nkept = 7\n",
    "reduce": "total = sum(big)\n",
    "use": "print('big' in globals(), kept, total)\n",
}


def test_released_variables_are_gone_from_the_kernel_after_their_unit(
    tmp_path: Path, sandbox_session, memory
):
    path = tmp_path / "guidelines" / "release.yaml"
    path.parent.mkdir()
    path.write_text(GUIDELINE)
    guideline = load_guideline(path)
    assert guideline.action_units[1].releases == ["big"]
    spec = toy_spec(guideline, sandbox_session, tmp_path / "work" / "unused.csv")
    for unit, code in SNIPPETS.items():
        memory.add("geo", unit, spec.signature, code, "shipped")
    record = run_task(make_team(tmp_path, memory), spec, sandbox_session)
    assert record.status == "completed", record.reason
    use = next(v for v in record.visits if v.unit == "use")
    assert use.attempts[-1].output.strip() == "False 7 499999500000"
    assert all(check["passed"] for check in use.attempts[-1].checks)


def _names_read(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:  # a stop reason may be plain text
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _unit_names(unit) -> set[str]:
    """Every name a unit's kernel expressions read: checks, conditions, stop reason."""
    names: set[str] = set()
    expressions = [unit.skip_if, unit.stop_if, unit.stop_reason]
    for check in unit.checks:
        fields = check.model_dump()
        expressions += [fields.get(key) for key in ("expr", "when", "of")]
        names |= {fields[key] for key in ("variable", "path_variable") if fields.get(key)}
    for text in filter(None, expressions):
        names |= _names_read(text)
    return names


def test_no_later_unit_of_a_shipped_guideline_reads_a_released_name() -> None:
    snippets: dict[tuple[str, str], str] = {}
    for snippet in SNIPPETS_DIR.glob("*/*.py"):
        code = snippet.read_text()
        roles = snippet_roles(code) if snippet.parent.name == "shared" else [snippet.parent.name]
        for role in roles:
            snippets[(role, snippet.stem)] = code
    released_somewhere = False
    for name, guideline in load_guidelines().items():
        role = {"statistics": "statistician"}.get(guideline.role, guideline.role)  # the snippets' owner
        assert role in ROLES
        units = guideline.action_units
        for i, unit in enumerate(units):
            for later in units[i + 1 :]:
                code = snippets.get((role, later.name), "")
                names = _names_read(code) | _unit_names(later)
                for released in unit.releases:
                    released_somewhere = True
                    assert released not in names, (name, unit.name, later.name, released)
                    assert f"`{released}`" not in later.instructions, (name, later.name, released)
    assert released_somewhere  # the shipped guidelines do release their raw tables
