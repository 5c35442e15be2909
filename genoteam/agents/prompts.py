"""The prompts each role sends to its model.

Every system prompt starts with header lines (ROLE, PURPOSE, TASK, UNIT) so that a log or a
local model server can tell the calls apart; the rest is the role's brief plus the material the
role is allowed to see (the reviewer: only the current attempt and the task history).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from genoteam.agents.guidelines import ActionUnit, Guideline
from genoteam.agents.messages import ReviewRequest
from genoteam.agents.records import clip

ROLE_BRIEFS = {
    "geo": "You are the GEO data engineer of a gene-expression analysis team. You write Python code that runs in a "
    "persistent Jupyter-like kernel, one action unit at a time.",
    "tcga": "You are the TCGA data engineer of a gene-expression analysis team. You write Python code that runs in "
    "a persistent kernel, one action unit at a time.",
    "statistician": "You are the statistician of a gene-expression analysis team. You write Python code that runs "
    "in a persistent kernel, one action unit at a time.",
    "domain_expert": "You are the biomedical domain expert of a gene-expression analysis team. You write the code "
    "of the steps that need biological judgement (which sample fields hold the trait, age and gender; how to "
    "encode them; which identifiers are gene symbols).",
    "reviewer": "You are the code reviewer of a gene-expression analysis team. You judge one attempt at one "
    "action unit: does the code do what the instructions ask, correctly, and does its output show it?",
}
CODE_FORMAT = (
    "Answer with exactly one ```python code block holding the code to run next in the kernel (a reply with "
    "several blocks is refused). Variables from earlier units are still defined. Print what a reviewer needs to "
    "see (shapes, heads, choices made). Use the toolkit exactly as the API section describes it."
)


@dataclass(frozen=True)
class UnitBrief:
    """What an author sees besides the unit itself: the kernel's variables, the API, an example."""

    preview: str = ""  # preview.render_preview of the kernel before this attempt
    api: str = ""  # api_card.api_card for the unit
    example: str | None = None  # the unit's shipped snippet (model-first authoring, or a redo)


@dataclass(frozen=True)
class ReviewBrief:
    """What the reviewer judges against: the guideline's rules for the unit and the kernel before it."""

    guideline: Guideline
    unit: ActionUnit
    preview: str = ""


def checks_text(unit: ActionUnit) -> str:
    """The unit's checks, one line each, as they are run after every attempt."""
    lines = []
    for check in unit.checks:
        fields = check.model_dump(exclude_defaults=True)
        kind = fields.pop("kind", check.kind)
        message = fields.pop("message", "")
        lines.append(
            f"- {kind}: "
            + ", ".join(f"{k}={v}" for k, v in fields.items())
            + (f" ({message})" if message else "")
        )
    if unit.produces:
        lines.append("- defines: " + ", ".join(unit.produces))
    return "\n".join(lines) or "(none)"


def header(role: str, purpose: str, task_id: str, unit: str | None) -> str:
    return f"ROLE: {role}\nPURPOSE: {purpose}\nTASK: {task_id}\nUNIT: {unit or '-'}\n"


def _system(
    role: str, purpose: str, task_id: str, unit: str, rules: str, prose: str = "", prose_limit: int = 6_000
) -> str:
    """A role's system prompt: the header, the role's brief, what to answer (`rules`) and, when
    the guideline has prose, that prose (clipped)."""
    system = header(role, purpose, task_id, unit) + "\n" + ROLE_BRIEFS[role] + "\n\n" + rules
    return system + ("\n\n# Guideline\n" + clip(prose, prose_limit) if prose else "")


def code_messages(
    role: str,
    guideline: Guideline,
    unit: ActionUnit,
    task_id: str,
    setup_code: str,
    previous_outputs: list[tuple[str, str]],
    last_attempt: dict | None,
    brief: UnitBrief | None = None,
) -> list[dict]:
    """Prompt for writing (or revising) the code of one unit."""
    brief = brief or UnitBrief()
    purpose = "domain_code" if role == "domain_expert" else "code"
    system = _system(role, purpose, task_id, unit.name, CODE_FORMAT, guideline.prose, 12_000)
    parts = [f"# Context (already run in the kernel)\n```python\n{setup_code.strip()}\n```"]
    if brief.preview:
        parts.append("# Variables in the kernel now\n" + brief.preview)
    if brief.api:
        parts.append("# API (genoteam.toolkit, generated from its source)\n" + brief.api)
    for name, output in previous_outputs:
        parts.append(f"# Output of unit `{name}`\n{clip(output, 3_000)}")
    parts.append(f"# Action unit `{unit.name}`\n{unit.instructions.strip()}")
    if unit.produces:
        parts.append("It must define: " + ", ".join(f"`{name}`" for name in unit.produces))
    parts.append("# Checks run after your code\n" + checks_text(unit))
    if brief.example:
        parts.append(
            "# Example\nCode that did this unit on other cohorts (tested with genoteam). It is an example, "
            "not an answer: check every choice it makes against this cohort's data and adapt it.\n"
            f"```python\n{brief.example.strip()}\n```"
        )
    if last_attempt:
        output = last_attempt.get("output") or ""
        error = last_attempt.get("error") or ""
        parts.append(
            "# Your previous attempt was rejected (the kernel was rolled back to before it)\n"
            + (f"```python\n{last_attempt['code']}\n```\n" if last_attempt.get("code") else "")
            + (f"What it printed:\n```\n{clip(output, 3_000)}\n```\n" if output.strip() else "")
            + (f"Error:\n{clip(error, 3_000)}\n" if error else "")
            + f"Problem: {last_attempt['problem']}\n"
            + "".join(f"- {request}\n" for request in last_attempt.get("requests", []))
            + "Write the corrected code for the whole unit."
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def second_opinion_messages(
    guideline: Guideline, unit: ActionUnit, task_id: str, code: str, output: str, preview: str
) -> list[dict]:
    """Prompt for the domain expert's check of the rule-based choice a shipped snippet made."""
    rules = (
        "The team's rule-based chooser has made the choice below for a unit that needs biological judgement. "
        "Check it against the candidate fields. If it is right, answer with one JSON object "
        '{"agree": true, "reason": "..."}. If it is wrong, answer {"agree": false, "reason": "what is wrong"} '
        "followed by exactly one ```python code block with the corrected code for the whole unit (it will be "
        "run, checked and reviewed like any other attempt)."
    )
    system = _system("domain_expert", "domain_review", task_id, unit.name, rules, guideline.prose)
    user = (
        f"# Action unit `{unit.name}`\n{unit.instructions.strip()}\n\n"
        + (f"# Variables in the kernel before the choice\n{preview}\n\n" if preview else "")
        + f"# The rule-based code that ran\n```python\n{code.strip()}\n```\n\n# What it printed\n{clip(output, 6_000)}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def review_messages(request: ReviewRequest, task_id: str, brief: ReviewBrief | None = None) -> list[dict]:
    """Prompt for judging one attempt: the guideline's rules for the unit, the kernel before the
    attempt, the attempt and the task history; nothing else (not the author's reasoning)."""
    attempt = request.attempt
    rules = (
        'Answer with one JSON object: {"approved": true|false, "reason": "...", "requests": ["concrete change", ...]}.'
        " Reject only for a concrete problem, and then list what must change."
    )
    prose = brief.guideline.prose if brief is not None else ""
    system = _system("reviewer", "review", task_id, attempt.unit, rules, prose)
    rules = (
        f"# Checks of this unit (already run; results below)\n{checks_text(brief.unit)}\n\n"
        + (f"# Variables in the kernel before the attempt\n{brief.preview}\n\n" if brief.preview else "")
        if brief is not None
        else ""
    )
    user = (
        rules
        + "# Task history\n"
        + ("\n".join(request.task_history) or "(first unit)")
        + f"\n\n# Action unit `{attempt.unit}` (attempt {attempt.attempt}, written by {attempt.author})\n"
        + attempt.instructions.strip()
        + f"\n\n# Code\n```python\n{attempt.code}\n```\n# Output (status {attempt.status})\n{clip(attempt.output, 6_000)}"
        + (f"\n# Error\n{attempt.error}" if attempt.error else "")
        + "\n# Checks\n"
        + json.dumps(attempt.checks, indent=1)
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def plan_messages(
    role: str,
    guideline: Guideline,
    task_id: str,
    states: dict[str, str],
    facts: dict,
    backtracks_left: int,
    legal: list[str] | tuple[str, ...] = ("advance", "skip", "backtrack", "stop"),
) -> list[dict]:
    """Prompt for the planner: the units with their states, what the last unit showed, the legal options."""
    choices = "|".join(f'"{action}"' for action in legal)
    system = (
        header(role, "plan", task_id, facts.get("next_unit"))
        + "\nYou plan the next step of a data-processing task that follows a guideline of action units.\n"
        f'Answer with one JSON object: {{"action": {choices}, "unit": "<unit name or null>",'
        ' "reason": "..."}. advance runs the next pending unit; skip passes over the next unit (only units marked'
        " optional); backtrack re-runs a named earlier unit with fresh code, rolling the kernel back to just before"
        " it (say in the reason what was wrong: its author reads it); stop ends the task (only when a unit failed"
        f" or no required unit is left). Legal now: {', '.join(legal)}. Backtracks left: {backtracks_left}."
    )
    lines = [
        f"- {unit.name}: {states.get(unit.name, 'pending')}" + (" (optional)" if unit.optional else "")
        for unit in guideline.action_units
    ]
    user = "# Units\n" + "\n".join(lines) + "\n\n# Facts\n" + json.dumps(facts, indent=1, default=str)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
