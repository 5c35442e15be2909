"""The PI: the cohort plan (genoteam.pipeline.cohorts, shared with the reference pipeline and the
server) with its platform survey run in the sandbox, since reading a series means parsing input
files; each assignment is a recorded message.

Offline the plan is rule-based and deterministic. When the PI role has a model, it reviews the
rule plan: from each GEO cohort's background text (title, summary, design, read in the same
survey) it says which cohorts are relevant to the trait, in what order to work on them, and why.
Rules bound it: TCGA cohorts (matched by the domain rules) and cohorts the user asked for by id
are never dropped; a cohort the model leaves out of its answer keeps its place after the ones it
ranked; an unreadable reply or a failed call leaves the rule plan, and the plan's notes say so.
"""

from __future__ import annotations

import dataclasses
import json

from genoteam.agents.llm import ModelCallError, ModelClient
from genoteam.agents.parsing import extract_json_object
from genoteam.agents.prompts import header
from genoteam.pipeline.cohorts import CohortPlan, CohortTask
from genoteam.toolkit.errors import GenoteamError

SURVEY_MARKER = "__GENOTEAM_SURVEY__"
PARSES_MARKER = "__GENOTEAM_PARSES__"
PURPOSE = "pi_plan"
BACKGROUND_LIMIT = 1_500  # characters of each background field shown to the PI's model


def survey_cell(series_dirs: dict[str, str], with_background: bool = False) -> str:
    """Python for the sandbox: the cohorts (platform groups) of each GEO series folder, read from
    its headers, with `with_background` its title, summary and design (for the PI's model), and
    how often each file was parsed whole (geo.PARSES: only where the platform rule needs values)."""
    return (
        "def _genoteam_survey(dirs):\n"
        "    import json\n"
        "    from genoteam.toolkit import geo\n"
        "    from genoteam.toolkit.platforms import survey_series\n"
        "    out = {}\n"
        "    for name, path in dirs.items():\n"
        f"        out[name] = survey_series(path, with_background={with_background!r})\n"
        "        if 'background' in out[name]:\n"
        f"            out[name]['background'] = {{k: str(v)[:{BACKGROUND_LIMIT}] for k, v in out[name]['background'].items()}}\n"
        f"    print({PARSES_MARKER!r} + json.dumps(dict(geo.PARSES)))\n"
        f"    print({SURVEY_MARKER!r} + json.dumps(out))\n"
        f"_genoteam_survey({series_dirs!r})\n"
        "del _genoteam_survey\n"
    )


def parse_survey(stdout: str) -> tuple[dict[str, dict], dict[str, int]]:
    """The survey cell's result and the files it parsed whole (path -> times)."""
    found: dict[str, dict] | None = None
    parses: dict[str, int] = {}
    for line in stdout.splitlines():
        if line.startswith(SURVEY_MARKER):
            found = json.loads(line[len(SURVEY_MARKER) :])
        elif line.startswith(PARSES_MARKER):
            parses = json.loads(line[len(PARSES_MARKER) :])
    if found is None:
        raise GenoteamError(
            "the GEO platform survey printed no result", "see the sandbox output in provenance.json"
        )
    return found, parses


def _candidates_text(plan: CohortPlan, backgrounds: dict[str, dict]) -> str:
    lines = []
    for task in plan.tasks:
        lines.append(f"- id: {task.task_id}")
        lines.append(f"  source: {task.source}" + (f", platform {task.platform}" if task.platform else ""))
        for key, text in (backgrounds.get(task.cohort.id) or {}).items():
            if text:
                lines.append(f"  {key}: " + " ".join(str(text).split()))
    return "\n".join(lines)


def plan_messages(
    plan: CohortPlan, backgrounds: dict[str, dict], trait: str, condition: str | None
) -> list[dict]:
    question = f"which genes are associated with {trait}" + (f" given {condition}" if condition else "")
    system = (
        header("pi", PURPOSE, f"plan/{trait}", None)
        + "\nYou are the principal investigator of a gene-expression analysis team. The question: "
        + question
        + ". Below are the candidate cohorts found for it. Say which are relevant (their samples can be split "
        "by the trait: cases and controls, or a measured trait), in the order the team should work on them "
        "(most informative first), and why, from their background text. Answer with one JSON object: "
        '{"cohorts": [{"id": "<id>", "relevant": true|false, "reason": "<one sentence>"}, ...]} listing every '
        "candidate once. TCGA cohorts and cohorts the user named are kept whatever you answer."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "# Candidate cohorts\n" + _candidates_text(plan, backgrounds)},
    ]


def _protected(task: CohortTask, requested: list[str] | None) -> str:
    """Why the model may not drop this task ("" when it may)."""
    if task.source == "TCGA":
        return "TCGA cohorts are matched by the domain rules"
    if requested and any(name in (task.output_id, task.cohort.id, task.task_id) for name in requested):
        return "the user asked for it"
    return ""


def review_plan_with_model(
    client: ModelClient,
    plan: CohortPlan,
    backgrounds: dict[str, dict],
    trait: str,
    condition: str | None,
    requested: list[str] | None = None,
) -> CohortPlan:
    """The rule plan as the PI's model would have it: relevant cohorts only, in its order, with
    its reasons in the notes; the rule plan itself when the model cannot be used (said in notes)."""
    if client.is_offline("pi") or not plan.tasks:
        return plan
    model = client.config.role("pi").model
    try:
        reply = client.complete(
            "pi", PURPOSE, plan_messages(plan, backgrounds, trait, condition), f"plan/{trait}"
        )
    except ModelCallError as error:
        return dataclasses.replace(plan, notes=[*plan.notes, f"PI model {model} not used: {error.problem}"])
    data, problem = (None, "cut off at max_tokens") if reply.truncated else extract_json_object(reply.text)
    answers = data.get("cohorts") if isinstance(data, dict) else None
    if not isinstance(answers, list):
        problem = problem or "no `cohorts` list"
        return dataclasses.replace(
            plan, notes=[*plan.notes, f"PI model {model} reply unusable ({problem}): rule plan kept"]
        )
    by_id = {task.task_id: task for task in plan.tasks}
    kept: list[CohortTask] = []
    seen: set[str] = set()
    skipped, notes = dict(plan.skipped), list(plan.notes)
    for answer in answers:
        cohort_id = answer.get("id") if isinstance(answer, dict) else None
        if cohort_id not in by_id or cohort_id in seen:
            notes.append(
                f"PI model {model}: ignored an answer for an unknown or repeated cohort: {str(answer)[:120]}"
            )
            continue
        seen.add(cohort_id)
        task, reason = by_id[cohort_id], str(answer.get("reason") or "").strip()[:300] or "(no reason given)"
        protected = _protected(task, requested)
        if answer.get("relevant") is False and not protected:
            skipped[cohort_id] = f"the PI's model ({model}) judged it not relevant: {reason}"
            notes.append(f"PI model {model}: {cohort_id} not relevant: {reason}")
            continue
        if answer.get("relevant") is False:
            notes.append(f"PI model {model} judged {cohort_id} not relevant ({reason}); kept: {protected}")
        else:
            notes.append(f"PI model {model}: {cohort_id} relevant: {reason}")
        kept.append(task)
    unanswered = [task for task in plan.tasks if task.task_id not in seen]
    if unanswered:
        notes.append(
            f"PI model {model} did not rank {', '.join(t.task_id for t in unanswered)}: kept after the others"
        )
    return dataclasses.replace(plan, tasks=kept + unanswered, skipped=skipped, notes=notes)
