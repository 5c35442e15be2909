"""Who writes a unit's code when memory has none that fits (or what memory gave failed).

The task owner (GEO/TCGA engineer, statistician) writes ordinary units; units that need
biological judgement go, as a CodeRequest message, to the domain expert, who answers with a
CodeProposal. Either way the code comes from that role's model and is parsed strictly: an
empty, garbled or truncated reply yields no code and a stated problem, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from genoteam.agents.guidelines import ActionUnit, Guideline
from genoteam.agents.llm import ModelCallError, ModelClient
from genoteam.agents.messages import CodeProposal, CodeRequest, MessageBus
from genoteam.agents.parsing import extract_code, extract_json_object
from genoteam.agents.prompts import UnitBrief, code_messages, second_opinion_messages


@dataclass(frozen=True)
class Proposal:
    code: str | None
    problem: str = ""


@dataclass(frozen=True)
class SecondOpinion:
    """The domain expert on a rule-based choice: agree, or override with code (reviewed as usual)."""

    agree: bool
    reason: str
    code: str | None = None
    source: str = "model"  # or "rules (...)" when the expert's reply could not be used

    def as_record(self) -> dict:
        return {
            "agree": self.agree,
            "reason": self.reason,
            "override": self.code is not None,
            "source": self.source,
        }


class CodeAuthors:
    def __init__(self, client: ModelClient, bus: MessageBus, owner: str, guideline: Guideline, task_id: str):
        self.client = client
        self.bus = bus
        self.owner = owner
        self.guideline = guideline
        self.task_id = task_id

    def author_of(self, unit: ActionUnit) -> str:
        return "domain_expert" if unit.needs_domain_knowledge else self.owner

    def can_write(self, unit: ActionUnit) -> bool:
        return not self.client.is_offline(self.author_of(unit))

    def _from_model(
        self, role: str, unit: ActionUnit, setup_code: str, previous, last_attempt, brief: UnitBrief
    ) -> Proposal:
        messages = code_messages(
            role, self.guideline, unit, self.task_id, setup_code, previous, last_attempt, brief
        )
        purpose = "domain_code" if role == "domain_expert" else "code"
        try:
            reply = self.client.complete(role, purpose, messages, self.task_id, unit.name)
        except ModelCallError as error:
            return Proposal(None, f"model call failed: {error.problem}")
        parsed = extract_code(reply.text, reply.finish_reason, reply.tool_calls)
        return Proposal(parsed.code, parsed.problem)

    def propose(
        self,
        unit: ActionUnit,
        setup_code: str,
        previous: list[tuple[str, str]],
        last_attempt: dict | None,
        brief: UnitBrief | None = None,
    ) -> Proposal:
        """Code for `unit` from its author's model (the domain expert via request/proposal messages);
        `brief` carries the kernel preview, the API card and (model-first) the shipped example."""
        brief = brief or UnitBrief()
        author = self.author_of(unit)
        if author == self.owner:
            return self._from_model(author, unit, setup_code, previous, last_attempt, brief)
        request = self._ask_expert(
            unit, unit.instructions, setup_code, list((last_attempt or {}).get("requests", []))
        )
        proposal = self._from_model("domain_expert", unit, setup_code, previous, last_attempt, brief)
        self._expert_replies(request, unit, proposal.code, proposal.problem)
        return proposal

    def _ask_expert(
        self, unit: ActionUnit, instructions: str, context: str, revisions: list[str] | None = None
    ) -> CodeRequest:
        """The owner's request to the domain expert (code for a unit, or a second opinion), sent."""
        return self.bus.send(
            CodeRequest(
                sender=self.owner,
                recipient="domain_expert",
                task_id=self.task_id,
                unit=unit.name,
                instructions=instructions,
                context=context,
                revision_requests=revisions or [],
            )
        )

    def _expert_replies(self, request: CodeRequest, unit: ActionUnit, code: str | None, problem: str) -> None:
        """The domain expert's answer to `request`, on the message record."""
        self.bus.send(
            CodeProposal(
                sender="domain_expert",
                recipient=self.owner,
                task_id=self.task_id,
                in_reply_to=request.id,
                unit=unit.name,
                code=code,
                source="model" if code else "none",
                problem=problem,
            )
        )

    def wants_second_opinion(self, unit: ActionUnit) -> bool:
        """A judgement unit whose rule-based choice the domain expert's model should check."""
        return unit.needs_domain_knowledge and not self.client.is_offline("domain_expert")

    def second_opinion(self, unit: ActionUnit, code: str, output: str, preview: str) -> SecondOpinion:
        """Ask the domain expert whether the rule-based choice stands (request/proposal messages).

        An unreadable reply, or a disagreement without code, keeps the rule-based choice and says so:
        the rules' choice passed its checks, an unusable opinion cannot replace it."""
        request = self._ask_expert(
            unit, "check the rule-based choice of this judgement unit", output[-4_000:]
        )
        messages = second_opinion_messages(self.guideline, unit, self.task_id, code, output, preview)
        try:
            reply = self.client.complete("domain_expert", "domain_review", messages, self.task_id, unit.name)
            opinion = _opinion_of(reply.text, reply.finish_reason, reply.tool_calls)
        except ModelCallError as error:
            opinion = SecondOpinion(
                True, f"the expert could not be asked: {error.problem}", None, "rules (kept)"
            )
        self._expert_replies(request, unit, opinion.code, opinion.reason)
        return opinion


def _opinion_of(text: str, finish_reason: str | None, tool_calls: list[dict]) -> SecondOpinion:
    data, problem = extract_json_object(text)
    if data is None or not isinstance(data.get("agree"), bool):
        why = problem or "no boolean `agree`"
        return SecondOpinion(True, f"the expert's reply was unusable ({why})", None, "rules (kept)")
    reason = str(data.get("reason") or "").strip()[:600] or "(no reason given)"
    if data["agree"]:
        return SecondOpinion(True, reason)
    parsed = extract_code(text, finish_reason, tool_calls)
    if parsed.code is None:
        return SecondOpinion(
            True,
            f"the expert disagreed ({reason}) but gave no usable code: {parsed.problem}",
            None,
            "rules (kept)",
        )
    return SecondOpinion(False, reason, parsed.code)
