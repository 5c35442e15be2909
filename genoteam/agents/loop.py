"""The programming loop of one task: plan, write (or recall) code, run it, check it, review it.

For each step the planner chooses advance, skip, backtrack or stop. A unit's attempt takes
code from memory (a fitting, trusted snippet) or from its author's model, runs it in the
task's sandbox session, runs the unit's checks, and gets a verdict (rules first, then the
reviewer). A rejected attempt is revised up to `max_revisions` times; a unit that still fails
is recorded as failed and the task cannot advance past it. A backtrack restarts the kernel and
replays the setup cell plus the accepted code of every unit before the target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from genoteam.agents.api_card import api_card
from genoteam.agents.authors import CodeAuthors
from genoteam.agents.checks import check_cell, parse_check_output, parse_probe_output, probe_cell
from genoteam.agents.guidelines import ActionUnit, Guideline
from genoteam.agents.llm import BudgetExhausted, ModelClient, TeamConfig
from genoteam.agents.memory import SHIPPED, CodeMemory, ContextSignature
from genoteam.agents.messages import AttemptView, MessageBus, ReviewRequest, TaskReport
from genoteam.agents.planner import Planner, PlanState
from genoteam.agents.preview import parse_preview, preview_cell, render_preview
from genoteam.agents.prompts import ReviewBrief, UnitBrief
from genoteam.agents.records import AttemptRecord, ReplayRecord, TaskRecord, UnitVisit, VerdictRecord, clip
from genoteam.agents.reviewer import Reviewer
from genoteam.agents.transaction import begin_cell, commit_cell, parse_transaction_output, rollback_cell
from genoteam.sandbox.api import KERNEL_LOST as SANDBOX_KERNEL_LOST
from genoteam.sandbox.api import CellResult, CellStatus, SandboxSession
from genoteam.toolkit.errors import describe

CHECK_TIMEOUT_S = 120.0
KERNEL_LOST = tuple(s.value for s in SANDBOX_KERNEL_LOST)  # cell statuses after which the namespace is gone


@dataclass
class Team:
    """What every task of one job shares: configuration, models, memory and the message record."""

    config: TeamConfig
    client: ModelClient
    memory: CodeMemory
    bus: MessageBus
    job_id: str


@dataclass
class TaskSpec:
    task_id: str
    owner: str  # geo, tcga or statistician
    guideline: Guideline
    setup_code: str  # defines the task's variables (paths, trait, cohort); the first cell of every replay
    signature: ContextSignature
    cohort: str | None = None
    on_unit: object = None  # optional callable(unit_name, status) for progress reporting


@dataclass
class _Run:
    """Mutable state of one task run."""

    states: dict[str, str]
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (unit, code) in kernel order
    cursor: int = 0
    last: UnitVisit | None = None
    redo: dict[str, tuple[str, str]] = field(default_factory=dict)  # unit -> (why backtracked, its old code)


def cell_text(result: CellResult) -> tuple[str, str]:
    """(output, error) of a cell as the records and the prompts show them."""
    output = result.stdout + (f"\n[stderr]\n{result.stderr}" if result.stderr.strip() else "")
    if result.stdout_truncated or result.stderr_truncated:
        output += "\n[output truncated by the sandbox]"
    error = ""
    if not result.ok:
        error = f"{result.error_type or result.status.value}: {result.error_message or ''}".strip()
        if result.traceback:
            error += "\n" + clip(result.traceback, 4_000)
    return clip(output), error


class TaskRunner:
    def __init__(self, team: Team, spec: TaskSpec, session: SandboxSession) -> None:
        self.team = team
        self.spec = spec
        self.session = session
        self.guideline: Guideline = spec.guideline
        self.record = TaskRecord(task_id=spec.task_id, role=spec.owner, cohort=spec.cohort)
        self.planner = Planner(
            team.client, spec.owner, spec.guideline, spec.task_id, team.config.max_backtracks
        )
        self.reviewer = Reviewer(team.client)
        self.authors = CodeAuthors(team.client, team.bus, spec.owner, spec.guideline, spec.task_id)

    # -- the task ---------------------------------------------------------------------------------
    def run(self) -> TaskRecord:
        started = time.monotonic()
        self.record.sandbox = {"backend": getattr(self.session, "backend", "?")}
        try:
            self._run()
        except BudgetExhausted as error:  # the job stops here; what was done so far is kept
            self.record.status = "budget_exhausted"
            self.record.reason = error.problem
        except Exception as error:  # the sandbox or a model client broke: keep what was recorded so far
            self.record.status = "failed"
            self.record.reason = f"the task stopped on an unexpected error: {describe(error)}"
        finally:
            self.record.duration_s = time.monotonic() - started
            self.team.bus.send(
                TaskReport(
                    sender=self.spec.owner,
                    recipient="pi",
                    task_id=self.spec.task_id,
                    status=self.record.status,
                    summary=self.record.reason,
                    units=self.record.unit_states(),
                )
            )
        return self.record

    def _run(self) -> None:
        setup = self.session.run_cell(self.spec.setup_code)
        if not setup.ok:
            self.record.status, self.record.reason = (
                "failed",
                "the task's setup cell failed: " + cell_text(setup)[1],
            )
            return
        run = _Run(states={name: "pending" for name in self.guideline.unit_names()})
        for _ in range(self.team.config.max_steps):
            state = self._plan_state(run)
            decision = self.planner.decide(state)
            self.team.bus.send(decision)
            self.record.decisions.append(
                decision.model_dump(include={"action", "unit", "reason", "source", "time"})
            )
            if decision.action == "stop":
                self._finish(run, decision.reason, by_condition=state.stop_if)
                return
            if decision.action == "skip":
                unit = self.guideline.unit(decision.unit)
                visit = UnitVisit(unit=unit.name, status="skipped", reason=decision.reason)
                self.record.visits.append(visit)
                run.states[unit.name] = "skipped"
                run.cursor += 1
                run.last = visit
                self._notify(unit.name, "skipped")
            elif decision.action == "backtrack":
                if not self._backtrack(run, decision.unit, decision.reason):
                    return
            else:
                unit = self.guideline.unit(decision.unit)
                visit = self._run_unit(unit, run)
                self.record.visits.append(visit)
                run.states[unit.name] = visit.status
                run.last = visit
                if _over_quota(visit):  # the files stay in the work folder: no later cell can run
                    self.record.status = "failed"
                    self.record.reason = (
                        f"{unit.name}: {visit.reason}; the files it wrote stay in the work folder, "
                        "so the task stops here"
                    )
                    self._notify(unit.name, visit.status)
                    return
                if visit.status == "passed":
                    run.accepted.append((unit.name, visit.final_code or ""))
                    run.cursor += 1
                self._notify(unit.name, visit.status)
        self.record.status = "failed"
        self.record.reason = f"the planner did not finish within {self.team.config.max_steps} steps"

    def _notify(self, unit: str, status: str) -> None:
        if callable(self.spec.on_unit):
            self.spec.on_unit(unit, status)

    def _finish(self, run: _Run, reason: str, by_condition: bool = False) -> None:
        """failed: a unit failed; stopped: a stop condition held (a finding about the data);
        incomplete: required units were left without a condition saying so; else completed."""
        last_failed = run.last is not None and run.last.status == "failed"
        required = {unit.name for unit in self.guideline.action_units if not unit.optional}
        pending = [name for name, state in run.states.items() if state == "pending" and name in required]
        if last_failed:
            self.record.status = "failed"
        elif by_condition:
            self.record.status = "stopped"
        elif pending:
            self.record.status = "incomplete"
            reason = f"{reason} (required units left: {', '.join(pending)})"
        else:
            self.record.status = "completed"
        self.record.reason = reason

    # -- planning support ---------------------------------------------------------------------------
    def _plan_state(self, run: _Run) -> PlanState:
        units = self.guideline.action_units
        next_unit: ActionUnit | None = units[run.cursor] if run.cursor < len(units) else None
        state = PlanState(
            states=dict(run.states),
            next_unit=next_unit.name if next_unit else None,
            backtracks_used=self.record.backtracks,
        )
        last = run.last
        if last is not None:
            state.last_unit, state.last_status, state.last_reason = last.unit, last.status, last.reason
            state.last_output = last.final_output or (last.attempts[-1].output if last.attempts else "")
        exprs: dict[str, str] = {}
        if last is not None and last.status == "passed":
            last_unit = self.guideline.unit(last.unit)
            if last_unit.stop_if:
                exprs["stop_if"] = last_unit.stop_if
                exprs["stop_reason"] = last_unit.stop_reason or repr(
                    f"stop condition of {last_unit.name} holds"
                )
        if next_unit is not None and next_unit.skip_if and (last is None or last.status != "failed"):
            exprs["skip_if"] = next_unit.skip_if
        if exprs:
            values = self._probe(exprs)
            for key in ("stop_if", "skip_if"):
                if key in values:
                    if "error" in values[key]:
                        state.condition_errors.append(f"{key} `{exprs[key]}`: {values[key]['error']}")
                    else:
                        setattr(state, key, bool(values[key]["value"]))
            if "stop_reason" in values:
                state.stop_reason = str(values["stop_reason"].get("value") or last_unit.stop_reason)
        return state

    def _probe(self, exprs: dict[str, str]) -> dict[str, dict]:
        result = self.session.run_cell(probe_cell(exprs), timeout_s=CHECK_TIMEOUT_S)
        values = parse_probe_output(result.stdout) if result.ok else None
        if values is None:
            problem = cell_text(result)[1] or "no probe output"
            return {key: {"error": problem} for key in exprs}
        return values

    def _backtrack(self, run: _Run, target: str, reason: str) -> bool:
        """Roll the kernel back to just before `target`; its author then writes it afresh, told why."""
        index = self.guideline.index(target)
        old_code = next((code for name, code in run.accepted if name == target), "")
        keep = [(name, code) for name, code in run.accepted if self.guideline.index(name) < index]
        cells = [self.spec.setup_code] + [code for _, code in keep]
        results = self.session.restart(replay=cells)
        failed = next((i for i, result in enumerate(results) if not result.ok), None)
        ok = failed is None and len(results) == len(cells)
        problem = (
            ""
            if ok
            else f"replay cell {failed} failed: {cell_text(results[failed])[1]}"
            if failed is not None
            else (f"the sandbox replayed {len(results)} of {len(cells)} cells")
        )
        self.record.replays.append(ReplayRecord(to_unit=target, cells=len(cells), ok=ok, problem=problem))
        self.record.backtracks += 1
        if not ok:
            self.record.status, self.record.reason = (
                "failed",
                f"backtrack to {target} could not restore the state: {problem}",
            )
            return False
        run.accepted = keep
        run.redo[target] = (reason, old_code)
        for name in self.guideline.unit_names()[index:]:
            run.states[name] = "pending"
        run.cursor = index
        run.last = None
        return True

    # -- one unit -----------------------------------------------------------------------------------
    def _history(self) -> list[str]:
        lines = []
        for visit in self.record.visits:
            first = (visit.final_output or visit.reason).strip().splitlines()
            lines.append(f"{visit.unit}: {visit.status}" + (f" — {first[0][:160]}" if first else ""))
        return lines

    def _previous_outputs(self, run: _Run) -> list[tuple[str, str]]:
        out = []
        accepted = {name for name, _ in run.accepted}
        for visit in self.record.visits:
            if (
                visit.unit in accepted
                and visit.status == "passed"
                and self.guideline.unit(visit.unit).show_output
            ):
                out.append((visit.unit, visit.final_output))
        return out

    def _memory_plan(self, unit: ActionUnit, redo: bool):
        """(the first memory snippet, the rest, the shipped example) for one unit.

        shipped authoring: memory first, in trust order. model-first, or a unit the planner went
        back to (its author writes fresh code): no memory code runs; the fitting shipped snippet
        is only an example in the author's prompt."""
        memory, owner, config = self.team.memory, self.spec.owner, self.team.config
        signature = self.spec.signature
        example = memory.shipped_example(owner, unit.name, signature)
        if config.authoring == "model-first" or (redo and self.authors.can_write(unit)):
            return None, [], example
        remaining = memory.candidates(owner, unit.name, signature, config.prefer_learned)
        first_hit = memory.lookup(
            owner, unit.name, signature, job_id=self.team.job_id, prefer_learned=config.prefer_learned
        )
        return first_hit, remaining, example

    def _models_involved(self, unit: ActionUnit) -> bool:
        client = self.team.client
        return not client.is_offline(self.authors.author_of(unit)) or not client.is_offline("reviewer")

    def _preview(self, unit: ActionUnit) -> str:
        """The kernel's variables (and a judgement unit's candidate fields) as the prompts show them."""
        result = self.session.run_cell(preview_cell(unit.candidates), timeout_s=CHECK_TIMEOUT_S)
        return render_preview(parse_preview(result.stdout) if result.ok else None, unit.candidates)

    def _run_unit(self, unit: ActionUnit, run: _Run) -> UnitVisit:
        started = time.monotonic()
        visit = UnitVisit(unit=unit.name, needs_domain_knowledge=unit.needs_domain_knowledge)
        memory, owner = self.team.memory, self.spec.owner
        model_first = self.team.config.authoring == "model-first"
        redo = run.redo.pop(unit.name, None)
        first_hit, remaining, example = self._memory_plan(unit, redo is not None)
        api = api_card(unit.instructions, example.code if example else "")
        tried: set[int] = set()
        feedback: dict | None = None
        if redo is not None:
            reason, old_code = redo
            feedback = {
                "code": old_code,
                "problem": f"the planner went back to this unit: {reason}",
                "requests": [reason],
            }
        override: str | None = None  # the domain expert's code replacing a rule-based choice
        for number in range(1, self.team.config.max_revisions + 2):
            snippet = None
            if override is not None:
                pass
            elif number == 1 and first_hit is not None:
                snippet = first_hit
            elif not self.authors.can_write(unit):
                author = self.authors.author_of(unit)
                if model_first:
                    visit.reason = f"authoring is model-first, but {author} has no model (offline)"
                    break
                snippet = next((s for s in remaining if s.id not in tried), None)
                if snippet is None:
                    if number == 1:
                        visit.reason = (
                            f"no model for {author} (offline) and no fitting snippet in code memory"
                        )
                    break
            preview = self._preview(unit) if self._models_involved(unit) else ""
            if override is not None:
                attempt = AttemptRecord(
                    number=number, author="domain_expert", code_source="model", code=override
                )
                override = None
            elif snippet is not None:
                tried.add(snippet.id)
                attempt = AttemptRecord(
                    number=number,
                    author="memory",
                    code_source="memory",
                    snippet_id=snippet.id,
                    snippet_origin=snippet.origin,
                    code=snippet.code,
                )
            else:
                brief = UnitBrief(
                    preview=preview,
                    api=api,
                    example=example.code if example and model_first or example and redo else None,
                )
                proposal = self.authors.propose(
                    unit, self.spec.setup_code, self._previous_outputs(run), feedback, brief
                )
                attempt = AttemptRecord(
                    number=number,
                    author=self.authors.author_of(unit),
                    code_source="model" if proposal.code else "none",
                    code=proposal.code,
                    problem=proposal.problem,
                )
            visit.attempts.append(attempt)
            if attempt.code is None:
                attempt.verdict = VerdictRecord(
                    approved=False,
                    reason=attempt.problem,
                    source="rules",
                    requests=["answer with exactly one complete ```python code block"],
                )
                feedback = {"code": None, "problem": attempt.problem, "requests": attempt.verdict.requests}
                continue
            self._attempt(unit, attempt, run, preview)
            if attempt.cell_status == CellStatus.disk_quota.value:  # a revision cannot help
                visit.reason = attempt.verdict.reason
                break
            if attempt.second_opinion and attempt.second_opinion.get("override"):
                override = attempt.second_opinion.pop("code")
                continue
            if attempt.verdict.approved:
                visit.status, visit.final_code = "passed", attempt.code
                visit.from_memory = attempt.code_source == "memory"
                if snippet is not None:
                    memory.record_outcome(snippet.id, True)
                else:
                    learned = memory.add(
                        owner,
                        unit.name,
                        self.spec.signature.keep_only(unit.memory_keys),
                        attempt.code,
                        attempt.author,
                        model=self.team.config.role(attempt.author).model,
                        job_id=self.team.job_id,
                    )
                    memory.record_outcome(learned, True)
                break
            if snippet is not None:
                memory.record_outcome(snippet.id, False)
            feedback = {
                "code": attempt.code,
                "problem": attempt.verdict.reason,
                "requests": attempt.verdict.requests,
                "output": attempt.output,
                "error": attempt.error,
            }
        if visit.status != "passed":
            visit.status = "failed"
            if not visit.reason:
                last = visit.attempts[-1] if visit.attempts else None
                detail = last.verdict.reason if last and last.verdict else "no attempt"
                visit.reason = f"not approved after {len(visit.attempts)} attempt(s); last: {detail}"
        visit.duration_s = time.monotonic() - started
        return visit

    def _recover(self, run: _Run, unit: str, why: str) -> None:
        """The kernel is gone (timeout, memory, crash): start a fresh one with the accepted state."""
        cells = [self.spec.setup_code] + [code for _, code in run.accepted]
        results = self.session.restart(replay=cells)
        ok = len(results) == len(cells) and all(r.ok for r in results)
        problem = "" if ok else "replay failed: " + (cell_text(results[-1])[1] if results else "no kernel")
        self.record.replays.append(
            ReplayRecord(to_unit=unit, cells=len(cells), ok=ok, problem=f"{why}; {problem}")
        )

    def _attempt(self, unit: ActionUnit, attempt: AttemptRecord, run: _Run, preview: str) -> None:
        """One transactional attempt: snapshot, run + checks + verdict, then commit or roll back."""
        begun = self.session.run_cell(begin_cell(unit), timeout_s=CHECK_TIMEOUT_S)
        if not begun.ok:
            raise RuntimeError(f"the attempt could not be started in the kernel: {cell_text(begun)[1]}")
        kernel_lost = False
        try:
            kernel_lost = self._execute(unit, attempt, run, preview)
        except BudgetExhausted:
            self._undo(attempt)  # the job stops; what this attempt wrote must not count
            raise
        if attempt.verdict.approved and attempt.snippet_origin == SHIPPED and self._second_opinion_due(unit):
            self._ask_second_opinion(unit, attempt, preview)
        if attempt.verdict.approved:
            self.session.run_cell(commit_cell(unit), timeout_s=CHECK_TIMEOUT_S)
        elif not kernel_lost:  # a lost kernel was rebuilt from accepted code already
            self._undo(attempt)

    def _second_opinion_due(self, unit: ActionUnit) -> bool:
        return self.team.config.authoring == "shipped" and self.authors.wants_second_opinion(unit)

    def _ask_second_opinion(self, unit: ActionUnit, attempt: AttemptRecord, preview: str) -> None:
        """The domain expert's model checks the rule-based choice; an override replaces it (the
        shipped attempt is rolled back, the expert's code is the next attempt, reviewed as usual)."""
        opinion = self.authors.second_opinion(unit, attempt.code or "", attempt.output, preview)
        attempt.second_opinion = opinion.as_record()
        if opinion.code is not None:
            attempt.second_opinion["code"] = opinion.code  # taken by _run_unit for the next attempt
            attempt.verdict = VerdictRecord(
                approved=False,
                reason=f"the domain expert overrode the rule-based choice: {opinion.reason}",
                source="domain_expert (second opinion)",
            )

    def _undo(self, attempt: AttemptRecord) -> None:
        result = self.session.run_cell(rollback_cell(), timeout_s=CHECK_TIMEOUT_S)
        undone = parse_transaction_output(result.stdout) if result.ok else None
        if undone is None or "error" in undone:
            raise RuntimeError(
                f"attempt {attempt.number} could not be rolled back: "
                + (cell_text(result)[1] or (undone or {}).get("error", "no output"))
            )
        attempt.rolled_back = undone

    def _execute(self, unit: ActionUnit, attempt: AttemptRecord, run: _Run, preview: str) -> bool:
        """Run the attempt's code and the unit's checks; set the attempt's verdict. True when the
        attempt ended the kernel (it was rebuilt from the accepted code)."""
        started = time.monotonic()
        result = self.session.run_cell(attempt.code)
        attempt.cell_status = result.status.value
        attempt.output, attempt.error = cell_text(result)
        if result.status == CellStatus.disk_quota:  # the kernel is gone and the work folder is full
            attempt.duration_s = time.monotonic() - started
            attempt.verdict = VerdictRecord(
                approved=False,
                reason=f"the cell went over the work folder's quota ({attempt.error.splitlines()[0]})",
                source="rules (sandbox quota)",
            )
            return True
        kernel_lost = result.status.value in KERNEL_LOST
        if kernel_lost:
            self._recover(
                run, unit.name, f"attempt {attempt.number} ended the kernel ({result.status.value})"
            )
        checks = self.session.run_cell(check_cell(unit), timeout_s=CHECK_TIMEOUT_S)
        outcomes = parse_check_output(checks.stdout) if checks.ok else None
        if outcomes is None:
            attempt.checks = [
                {
                    "name": "checks",
                    "passed": False,
                    "detail": "the checks did not run: " + (cell_text(checks)[1] or "no output"),
                }
            ]
        else:
            attempt.checks = [outcome.model_dump() for outcome in outcomes]
        attempt.duration_s = time.monotonic() - started
        request = self.team.bus.send(
            ReviewRequest(
                sender=self.spec.owner,
                recipient="reviewer",
                task_id=self.spec.task_id,
                attempt=AttemptView(
                    unit=unit.name,
                    instructions=unit.instructions,
                    attempt=attempt.number,
                    code=attempt.code,
                    status=attempt.cell_status,
                    output=attempt.output,
                    error=attempt.error,
                    checks=attempt.checks,
                    author=attempt.author,
                ),
                task_history=self._history(),
            )
        )
        if attempt.code_source == "memory" and attempt.snippet_origin == SHIPPED:
            verdict = self.reviewer.rule_verdict(request) or self.reviewer.verdict(
                request,
                True,
                f"shipped snippet ran and all {len(attempt.checks)} check(s) passed",
                [],
                "rules (shipped snippet, tested with genoteam)",
            )
        else:  # model code, and learned code reused from memory: reviewed again every time
            verdict = self.reviewer.review(request, ReviewBrief(self.guideline, unit, preview))
        self.team.bus.send(verdict)
        attempt.verdict = VerdictRecord(
            approved=verdict.approved, reason=verdict.reason, requests=verdict.requests, source=verdict.source
        )
        return kernel_lost


def _over_quota(visit: UnitVisit) -> bool:
    return bool(visit.attempts) and visit.attempts[-1].cell_status == CellStatus.disk_quota.value


def run_task(team: Team, spec: TaskSpec, session: SandboxSession) -> TaskRecord:
    """Run one task (a cohort's preprocessing or the statistics) to completion, stop or failure."""
    return TaskRunner(team, spec, session).run()
