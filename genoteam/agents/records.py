"""What the programming loop records about each task, unit visit and attempt (for provenance.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

UnitStatus = Literal["pending", "passed", "failed", "skipped"]
OUTPUT_LIMIT = 20_000  # characters of a cell's output kept per attempt (the rest is marked cut)


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n... [{len(text) - limit} characters cut] ...\n" + text[-limit // 2 :]


class VerdictRecord(BaseModel):
    approved: bool
    reason: str
    requests: list[str] = Field(default_factory=list)
    source: str  # "rules", "model", or "rules (model reply unusable: ...)"


class AttemptRecord(BaseModel):
    number: int
    author: str  # role that wrote the code: geo, tcga, statistician, domain_expert; or "memory"
    code_source: Literal["memory", "model", "none"]
    snippet_id: int | None = None
    snippet_origin: str = ""  # memory code: "shipped" or the role whose model wrote it
    code: str | None = None
    problem: str = ""  # why there was no code to run (model reply unusable, model call failed)
    cell_status: str | None = None  # CellStatus of the run, None when nothing ran
    output: str = ""
    error: str = ""
    checks: list[dict] = Field(default_factory=list)
    verdict: VerdictRecord | None = None
    rolled_back: dict | None = (
        None  # a rejected attempt undone: names removed, files removed, record restored
    )
    second_opinion: dict | None = None  # the domain expert on a rule-based choice (agree / override)
    duration_s: float = 0.0


class UnitVisit(BaseModel):
    """One pass through a unit (a unit is visited again after a backtrack)."""

    unit: str
    status: UnitStatus = "pending"
    needs_domain_knowledge: bool = False
    attempts: list[AttemptRecord] = Field(default_factory=list)
    final_code: str | None = None
    from_memory: bool = False
    reason: str = ""  # skip reason or failure reason
    duration_s: float = 0.0

    @property
    def final_output(self) -> str:
        for attempt in reversed(self.attempts):
            if attempt.verdict and attempt.verdict.approved:
                return attempt.output
        return ""


class ReplayRecord(BaseModel):
    to_unit: str
    cells: int
    ok: bool
    problem: str = ""


class TaskRecord(BaseModel):
    task_id: str
    role: str
    cohort: str | None = None
    # stopped: a stop condition held (a finding); incomplete: ended with required units pending
    status: Literal["completed", "stopped", "incomplete", "failed", "budget_exhausted"] = "failed"
    reason: str = ""
    decisions: list[dict] = Field(default_factory=list)
    visits: list[UnitVisit] = Field(default_factory=list)
    replays: list[ReplayRecord] = Field(default_factory=list)
    backtracks: int = 0
    sandbox: dict = Field(default_factory=dict)
    duration_s: float = 0.0

    def unit_states(self) -> dict[str, str]:
        """The latest status of every visited unit."""
        states: dict[str, str] = {}
        for visit in self.visits:
            states[visit.unit] = visit.status
        return states
