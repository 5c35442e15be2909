"""Typed messages between the roles of the team, explicit routing rules, and the per-job record.

Every exchange between roles is a pydantic message sent through a `MessageBus`. The bus
refuses a message whose sender/recipient pair is not in `ROUTES` (and a reply that does not go
back to the sender of what it answers), and appends each accepted message to
`<job_dir>/messages.jsonl`, so a job's conversation can be read after the fact.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from genoteam.sandbox import hostfs
from genoteam.toolkit.errors import GenoteamError

Role = Literal["pi", "geo", "tcga", "statistician", "reviewer", "domain_expert"]
ROLES: tuple[str, ...] = ("pi", "geo", "tcga", "statistician", "reviewer", "domain_expert")
TASK_OWNERS = frozenset({"geo", "tcga", "statistician"})


class _Message(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    job_id: str = ""
    task_id: str = ""
    sender: Role
    recipient: Role
    in_reply_to: str | None = None
    time: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))


class TaskAssignment(_Message):
    """PI -> owner: one cohort to preprocess, or the statistics questions to answer."""

    kind: Literal["task_assignment"] = "task_assignment"
    guideline: str
    cohort: str | None = None
    trait: str
    condition: str | None = None
    questions: list[str] = Field(default_factory=list)


class PlanDecision(_Message):
    """Owner -> itself: the planner's choice of what to do next, with its reason."""

    kind: Literal["plan_decision"] = "plan_decision"
    action: Literal["advance", "skip", "backtrack", "stop"]
    unit: str | None = None
    reason: str
    source: str = "rules"  # "rules" or "model", plus why a model decision was overruled


class CodeRequest(_Message):
    """Owner -> domain expert: write the code of a unit that needs biological judgement."""

    kind: Literal["code_request"] = "code_request"
    unit: str
    instructions: str
    context: str = ""
    revision_requests: list[str] = Field(default_factory=list)


class CodeProposal(_Message):
    """Domain expert -> owner: the code it proposes (or why it has none)."""

    kind: Literal["code_proposal"] = "code_proposal"
    unit: str
    code: str | None
    source: str  # "model", "memory" or "none"
    problem: str = ""


class AttemptView(BaseModel):
    """What the reviewer sees of the current attempt: code, what running it printed, the checks."""

    unit: str
    instructions: str
    attempt: int
    code: str
    status: str
    output: str
    error: str = ""
    checks: list[dict] = Field(default_factory=list)
    author: str


class ReviewRequest(_Message):
    kind: Literal["review_request"] = "review_request"
    attempt: AttemptView
    task_history: list[str] = Field(default_factory=list)  # one line per unit done so far


class ReviewVerdict(_Message):
    """Reviewer -> owner: approve or reject, with a reason and concrete requests."""

    kind: Literal["review_verdict"] = "review_verdict"
    unit: str
    approved: bool
    reason: str
    requests: list[str] = Field(default_factory=list)
    source: str = "rules"


class TaskReport(_Message):
    """Owner -> PI: how the task ended, and the state of each unit."""

    kind: Literal["task_report"] = "task_report"
    status: Literal["completed", "stopped", "incomplete", "failed", "budget_exhausted"]
    summary: str
    units: dict[str, str] = Field(default_factory=dict)


Message = Annotated[
    TaskAssignment | PlanDecision | CodeRequest | CodeProposal | ReviewRequest | ReviewVerdict | TaskReport,
    Field(discriminator="kind"),
]
MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)

# kind -> (allowed senders, allowed recipients); "self" means the recipient must be the sender.
ROUTES: dict[str, tuple[frozenset[str], frozenset[str] | str]] = {
    "task_assignment": (frozenset({"pi"}), TASK_OWNERS),
    "plan_decision": (TASK_OWNERS, "self"),
    "code_request": (TASK_OWNERS, frozenset({"domain_expert"})),
    "code_proposal": (frozenset({"domain_expert"}), TASK_OWNERS),
    "review_request": (TASK_OWNERS, frozenset({"reviewer"})),
    "review_verdict": (frozenset({"reviewer"}), TASK_OWNERS),
    "task_report": (TASK_OWNERS, frozenset({"pi"})),
}
REPLIES = {"code_proposal": "code_request", "review_verdict": "review_request"}


class RoutingError(GenoteamError):
    pass


class MessageBus:
    """Validates routes and records every message of one job, in order."""

    def __init__(self, job_id: str, record_path: Path | None = None) -> None:
        self.job_id = job_id
        self.record_path = record_path
        self.messages: list[_Message] = []
        self._by_id: dict[str, _Message] = {}
        self._lock = threading.Lock()
        if record_path is not None:
            record_path.parent.mkdir(parents=True, exist_ok=True)

    def check_route(self, message: _Message) -> None:
        kind = message.kind  # type: ignore[attr-defined]
        senders, recipients = ROUTES[kind]
        if message.sender not in senders:
            raise RoutingError(
                f"{message.sender} may not send a {kind} message", f"allowed senders: {sorted(senders)}"
            )
        if recipients == "self":
            if message.recipient != message.sender:
                raise RoutingError(f"a {kind} message goes from a role to itself, not to {message.recipient}")
        elif message.recipient not in recipients:
            raise RoutingError(
                f"a {kind} message may not go to {message.recipient}",
                f"allowed recipients: {sorted(recipients)}",
            )
        if kind in REPLIES:
            original = self._by_id.get(message.in_reply_to or "")
            if original is None or original.kind != REPLIES[kind]:  # type: ignore[attr-defined]
                raise RoutingError(f"a {kind} message must answer a recorded {REPLIES[kind]} message")
            if message.recipient != original.sender or message.sender != original.recipient:
                raise RoutingError(f"a {kind} message must go back to the sender of the request it answers")

    def send(self, message: _Message) -> _Message:
        with self._lock:
            message.job_id = message.job_id or self.job_id
            self.check_route(message)
            self.messages.append(message)
            self._by_id[message.id] = message
            if self.record_path is not None:  # never through a link or into a FIFO at that name
                hostfs.append_line(self.record_path, message.model_dump_json() + "\n")
        return message

    def for_task(self, task_id: str) -> list[_Message]:
        return [m for m in self.messages if m.task_id == task_id]

    @staticmethod
    def read_record(path: Path) -> list[_Message]:
        """The messages of a recorded job, re-validated into their types."""
        return [
            MESSAGE_ADAPTER.validate_python(json.loads(line))
            for line in path.read_text().splitlines()
            if line
        ]
