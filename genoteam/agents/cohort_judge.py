"""The PI's model as the judge of discovered cohorts (genoteam.data.relevance.Judge).

Why: a title and summary say more to a reader than word rules can (a synonym, a study of the
trait under another name, a study that mentions the trait only as an exclusion). The PI's model
reads each GEO candidate's background and answers {"include": true|false, "reason": "..."}; the
rules then review it: what no reader may overrule (not human, not an array profile, sample count
out of bounds) turns an include into a rejection that says so. A failed call or an unreadable
reply leaves the decision to the rules and says that too. TCGA matches stay with the domain rules.
"""

from __future__ import annotations

import json
import re

from genoteam.agents.llm import ModelCallError, ModelClient, TeamConfig, load_team_config
from genoteam.agents.prompts import header
from genoteam.data.relevance import Candidate, Decision, RuleJudge, SampleBounds, TraitNames, reviewed

PURPOSE = "cohort relevance"
INSTRUCTIONS = (
    "You decide whether a GEO series can answer which genes are associated with a trait. Read its "
    "title, summary, type, organism and sample count. Include it only when its samples can be "
    "split by the trait itself (cases and controls, or a measured trait). Answer with one JSON "
    'object and nothing else: {"include": true or false, "reason": "<one sentence>"}.'
)


def configured_judge(config: TeamConfig | None = None) -> PiCohortJudge | None:
    """The PI model's judge when the team config (file or environment) gives the PI a model;
    None (the rules decide) when the PI is offline."""
    config = config or load_team_config()
    return None if config.role("pi").offline else PiCohortJudge(ModelClient(config))


def _parse(text: str) -> tuple[bool, str] | None:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("include"), bool):
        return None
    reason = str(data.get("reason") or "").strip()[:300]
    return data["include"], reason or "(the model gave no reason)"


class PiCohortJudge:
    """Decides with the PI role's model, reviewed by the rules; `name` records the model."""

    def __init__(self, client: ModelClient, role: str = "pi") -> None:
        self.client, self.role = client, role
        self.name = f"{role} model {client.config.role(role).model} (reviewed by rules)"

    def __call__(self, candidate: Candidate, names: TraitNames, bounds: SampleBounds) -> Decision:
        rules = RuleJudge()
        if candidate.source == "TCGA":
            return rules(candidate, names, bounds)
        background = {
            "trait": names.trait,
            "other names": list(names.synonyms),
            **candidate.to_dict(),
            "summary": candidate.summary[:3000],
        }
        messages = [
            {
                "role": "system",
                "content": header(self.role, PURPOSE, f"discover/{names.trait}", None) + INSTRUCTIONS,
            },
            {"role": "user", "content": json.dumps(background, indent=1)},
        ]
        try:
            reply = self.client.complete(self.role, PURPOSE, messages, f"discover/{names.trait}")
        except ModelCallError as error:
            fallback = rules(candidate, names, bounds)
            return Decision(
                fallback.include, (*fallback.reasons, f"the model could not decide: {error.problem}"), "rules"
            )
        parsed = _parse(reply.text)
        if parsed is None:
            fallback = rules(candidate, names, bounds)
            note = f"the model's reply was not the JSON asked for ({reply.text[:80]!r}); the rules decided"
            return Decision(fallback.include, (*fallback.reasons, note), "rules")
        include, reason = parsed
        return reviewed(self.name, include, f"model: {reason}", candidate, names, bounds)
