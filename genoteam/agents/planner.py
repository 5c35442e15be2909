"""The planner: after each unit, choose advance, skip, backtrack (to a named unit) or stop.

The rules decide alone when the guideline binds (a unit's `skip_if` or `stop_if` is true, a
condition could not be evaluated) or when only one action is legal (no model call is spent on a
choice that is no choice). Otherwise the task owner's model is asked, when it has one; its
structured answer is checked against the legal actions (skip only optional units; backtrack only
to a visited unit and within the budget; never advance past a failed unit; never stop while
required units are pending) and replaced by the rule decision, with the reason, when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genoteam.agents.guidelines import Guideline
from genoteam.agents.llm import ModelCallError, ModelClient
from genoteam.agents.messages import PlanDecision
from genoteam.agents.parsing import extract_json_object
from genoteam.agents.prompts import plan_messages

ACTIONS = ("advance", "skip", "backtrack", "stop")


@dataclass
class PlanState:
    """What the planner knows: unit states, the next unit, what the kernel said about the conditions."""

    states: dict[str, str]
    next_unit: str | None
    last_unit: str | None = None
    last_status: str | None = None  # passed / failed / skipped
    last_reason: str = ""
    last_output: str = ""
    stop_if: bool = False  # the last unit's stop_if held
    stop_reason: str = ""
    skip_if: bool = False  # the next unit's skip_if holds
    condition_errors: list[str] = field(default_factory=list)
    backtracks_used: int = 0


class Planner:
    def __init__(
        self, client: ModelClient, owner: str, guideline: Guideline, task_id: str, max_backtracks: int
    ):
        self.client = client
        self.owner = owner
        self.guideline = guideline
        self.task_id = task_id
        self.max_backtracks = max_backtracks

    def _make(self, action: str, reason: str, unit: str | None = None, source: str = "rules") -> PlanDecision:
        return PlanDecision(
            sender=self.owner,
            recipient=self.owner,
            task_id=self.task_id,
            action=action,
            unit=unit,
            reason=reason,
            source=source,
        )

    def rules(self, state: PlanState) -> tuple[PlanDecision, bool]:
        """The rule decision and whether it binds (no model is asked then)."""
        if state.condition_errors:
            return self._make(
                "stop", "a guideline condition could not be evaluated: " + "; ".join(state.condition_errors)
            ), True
        if state.last_status == "failed":
            return self._make("stop", f"unit {state.last_unit} failed: {state.last_reason}"), False
        if state.stop_if:
            return self._make("stop", state.stop_reason or f"stop condition of {state.last_unit} holds"), True
        if state.next_unit is None:
            return self._make("stop", "all units are done"), False
        if state.skip_if:
            return self._make("skip", f"skip condition of {state.next_unit} holds", state.next_unit), True
        return self._make("advance", f"next unit in the guideline: {state.next_unit}", state.next_unit), False

    def legal_actions(self, state: PlanState) -> list[str]:
        """What may be done next: the choices the model is asked to pick from."""
        failed = state.last_status == "failed"
        actions = []
        if state.next_unit is not None and not failed:
            actions.append("advance")
            if self.guideline.unit(state.next_unit).optional:
                actions.append("skip")
        visited = any(status != "pending" for status in state.states.values())
        if visited and state.backtracks_used < self.max_backtracks:
            actions.append("backtrack")
        if failed or not self.required_pending(state):
            actions.append("stop")
        return actions

    def required_pending(self, state: PlanState) -> list[str]:
        return [
            unit.name
            for unit in self.guideline.action_units
            if not unit.optional and state.states.get(unit.name, "pending") == "pending"
        ]

    def decide(self, state: PlanState) -> PlanDecision:
        decision, binding = self.rules(state)
        legal = self.legal_actions(state)
        if binding or self.client.is_offline(self.owner) or len(legal) <= 1:
            return decision
        facts = {
            "next_unit": state.next_unit,
            "last_unit": state.last_unit,
            "last_status": state.last_status,
            "last_problem": state.last_reason,
            "last_output": state.last_output[-2_000:],
        }
        messages = plan_messages(
            self.owner,
            self.guideline,
            self.task_id,
            state.states,
            facts,
            self.max_backtracks - state.backtracks_used,
            legal,
        )
        try:
            reply = self.client.complete(self.owner, "plan", messages, self.task_id, state.next_unit)
        except ModelCallError as error:
            return self._overrule(decision, f"model unavailable: {error.problem}")
        if reply.truncated:
            return self._overrule(
                decision, "model reply unusable: cut off at max_tokens (finish_reason=length)"
            )
        data, problem = extract_json_object(reply.text)
        if data is None:
            return self._overrule(decision, f"model reply unusable: {problem}")
        refusal = self._refusal(data, state)
        if refusal:
            return self._overrule(decision, f"model decision refused: {refusal}")
        unit = data.get("unit") or (state.next_unit if data["action"] in ("advance", "skip") else None)
        return self._make(data["action"], str(data.get("reason") or "(no reason given)"), unit, "model")

    def _overrule(self, decision: PlanDecision, why: str) -> PlanDecision:
        return decision.model_copy(update={"source": f"rules ({why})"})

    def _refusal(self, data: dict, state: PlanState) -> str:
        """Empty when the model's decision is allowed; else why not."""
        action, unit = data.get("action"), data.get("unit")
        if action not in ACTIONS:
            return f"action {action!r} is not one of {', '.join(ACTIONS)}"
        if action == "stop" and "stop" not in self.legal_actions(state):
            return f"stop while required units are pending ({', '.join(self.required_pending(state))})"
        if not str(data.get("reason") or "").strip():
            return "the decision gives no reason"
        names = self.guideline.unit_names()
        if action in ("advance", "skip"):
            if state.last_status == "failed":
                return f"cannot {action} past the failed unit {state.last_unit}"
            if state.next_unit is None:
                return "no unit is left"
            if unit not in (None, state.next_unit):
                return f"{action} applies to the next unit {state.next_unit}, not {unit!r}"
            if action == "skip" and not self.guideline.unit(state.next_unit).optional:
                return f"unit {state.next_unit} is not optional"
        if action == "backtrack":
            if unit not in names:
                return f"backtrack target {unit!r} is not a unit of this guideline"
            if state.states.get(unit, "pending") == "pending":
                return f"backtrack target {unit} has not been run"
            if state.backtracks_used >= self.max_backtracks:
                return f"the task's {self.max_backtracks} backtrack(s) are used up"
        return ""
