"""The agent team as an AnalysisEngine: `run_team(request, input_dir, output_dir, progress)`.

One job: the PI plans the cohorts, a data engineer preprocesses each cohort in its own sandbox
session (cohorts side by side when they are large enough, bounded by cores, memory and the
sandbox pool), the statistician answers the question in another, and the job ends with the
GenoTEX output layout, `provenance.json`, `messages.jsonl` and `report.md`. A cohort that fails
does not stop the others; no usable cohort gives an explicit insufficient_data result naming
each cohort.

Every setting is an argument: the engine reads no environment of its own. Where a program
starts, the CLI's flags and the server's config read GENOTEAM_SANDBOX, GENOTEAM_SANDBOX_IMAGE
and GENOTEAM_TASK_INFO once (pipeline.api.EngineOptions), and the server carries them in the
job spec. The team config (GENOTEAM_CONFIG), the guidelines folder and the code memory's
workspace keep their own loaders' defaults when no argument names them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from genoteam.agents.guidelines import load_guidelines
from genoteam.agents.llm import BudgetExhausted, Ledger, ModelClient, TeamConfig, load_team_config
from genoteam.agents.loop import TaskSpec, Team, run_task
from genoteam.agents.memory import CodeMemory, ContextSignature, default_memory_path
from genoteam.agents.messages import MessageBus, TaskAssignment
from genoteam.agents.pi import parse_survey, review_plan_with_model, survey_cell
from genoteam.agents.records import TaskRecord
from genoteam.agents.run_record import JobState, RunRecord, collect_run_record
from genoteam.agents.setup_cells import cohort_setup, statistics_setup
from genoteam.data.catalogue import CohortCatalogue
from genoteam.pipeline.admission import CohortSize, estimate_cohort, refusal, refused_outcome
from genoteam.pipeline.api import (
    AnalysisRequest,
    AnalysisResult,
    CohortOutcome,
    ProgressCallback,
    Stage,
)
from genoteam.pipeline.cohorts import CohortTask, plan_cohorts
from genoteam.pipeline.parallel import run_in_parallel, worker_count
from genoteam.pipeline.results import (
    analysis_result,
    answered_result,
    insufficient_result,
    outcome_from_record,
    preprocessed_result,
    recorded_outcomes,
)
from genoteam.sandbox import SessionSpec, hostfs, open_session
from genoteam.sandbox.api import SandboxLimits, default_limits
from genoteam.sandbox.factory import resolve_backend
from genoteam.sandbox.quota import parse_size
from genoteam.sandbox.session import KernelSession
from genoteam.toolkit.errors import GenoteamError, describe
from genoteam.toolkit.layout import LAYOUT_FOLDERS

OWNER_OF = {"GEO": "geo", "TCGA": "tcga"}
STAGED_TASK_INFO = Path("inputs") / "task_info.json"  # the run's copy of the task file, mounted alone
ENV_PROBE = (
    "import json, sys, importlib.metadata as _md\n"
    "_v = {}\n"
    "for _p in ('numpy', 'pandas', 'scipy', 'scikit-learn', 'statsmodels', 'genoteam'):\n"
    "    try:\n"
    "        _v[_p] = _md.version(_p)\n"
    "    except Exception:\n"
    "        _v[_p] = None\n"
    "_v['python'] = sys.version.split()[0]\n"
    "print('__GENOTEAM_ENV__' + json.dumps(_v))\n"
)


class _Progress:
    """Units done out of the job's total; cohorts running side by side report through one lock."""

    def __init__(self, callback: ProgressCallback | None, total_units: int) -> None:
        self.callback = callback
        self.total = max(1, total_units)
        self.done = 0
        self._lock = threading.Lock()

    def unit(self, label: str) -> None:
        with self._lock:
            self.done += 1
        self.report(label)

    def report(self, message: str, fraction: float | None = None) -> None:
        """Send outside the lock: a slow receiver slows only the cohort that reports."""
        with self._lock:
            done = self.done
        if self.callback:
            self.callback(min(0.99, done / self.total) if fraction is None else fraction, message)


class TaskNotRun(GenoteamError):
    """A task that could not run to its end (its sandbox, say); the traceback is in task_errors."""


class TeamRun:
    def __init__(
        self,
        request: AnalysisRequest,
        input_dir: Path,
        output_dir: Path,
        progress: ProgressCallback | None,
        *,
        sandbox: str,
        config: TeamConfig,
        guidelines_dir: Path | None,
        memory_path: Path,
        task_info: Path | None,
        seed_memory: bool = True,
        sandbox_image: str | None = None,
        stage: str = "all",
        sandbox_limits: SandboxLimits | None = None,
    ) -> None:
        self.request = request
        self.sandbox_limits = sandbox_limits or default_limits()  # GENOTEAM_SANDBOX_* applied
        self.input_dir = Path(input_dir).resolve()
        self.output_dir = Path(output_dir).resolve()
        self.sandbox = sandbox
        # decided once, before any work: model-written code never runs on the host (factory policy)
        self.model_code = not config.all_offline()
        self.backend = resolve_backend(sandbox, model_code=self.model_code)
        self.sandbox_image = sandbox_image
        self.guidelines = load_guidelines(guidelines_dir)
        self.task_info = Path(task_info).resolve() if task_info else None
        if self.task_info is not None and not self.task_info.is_file():
            raise GenoteamError(
                f"task file {self.task_info} does not exist", "pass GenoTEX's task_info.json or omit it"
            )
        if stage not in ("all", "preprocess", "statistics"):
            raise GenoteamError(f"unknown stage {stage!r}", "use all, preprocess or statistics")
        self.stage = stage
        if config.authoring == "model-first":
            config.require_models(self._authors(), "authoring is model-first (models write every unit)")
        owned = (
            ("regress", "provenance.json") if stage == "statistics" else (*LAYOUT_FOLDERS, "provenance.json")
        )
        stale = [name for name in owned if (self.output_dir / name).exists()]
        if stale:  # old cohort_info.json records would mix into this job's cohort selection
            raise GenoteamError(
                f"output folder {self.output_dir} already holds results ({', '.join(stale)})",
                "choose a new --output folder, or delete the old results first",
            )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.layout = hostfs.output_layout(self.output_dir)  # sandbox-written: no links, bounded
        self.state = JobState(job_id=uuid.uuid4().hex[:12])
        messages = self.output_dir / "messages.jsonl"
        messages.unlink(missing_ok=True)
        # on the host (local backend) only shipped code runs: learned code was written by a model
        memory = CodeMemory(memory_path, shipped_only=self.backend == "local")
        if seed_memory:
            memory.seed_shipped()
        self.team = Team(
            config=config,
            client=ModelClient(config, Ledger()),
            memory=memory,
            bus=MessageBus(self.state.job_id, messages),
            job_id=self.state.job_id,
        )
        self.progress = _Progress(progress, 1)
        self.memory_path = Path(memory_path)
        self.record: RunRecord | None = None  # the frozen record, once the job has ended
        self._probe_lock = threading.Lock()
        self._task_info_staged = False
        self._side_by_side = False  # cohorts running at once (each task then has its own memory handle)

    def _authors(self) -> list[str]:
        """The roles that write code in this job's stage: the guidelines' owners and the domain
        expert when a unit needs domain knowledge."""
        names = {"all": ("geo", "tcga", "statistics"), "preprocess": ("geo", "tcga")}.get(
            self.stage, ("statistics",)
        )
        roles: list[str] = []
        for name in names:
            units = self.guidelines[name].action_units
            for role in ("statistician" if name == "statistics" else name,) + (
                ("domain_expert",) if any(u.needs_domain_knowledge for u in units) else ()
            ):
                if role not in roles:
                    roles.append(role)
        return roles

    # -- sandbox sessions -------------------------------------------------------------------------
    def _staged_task_info(self) -> Path:
        """The task file copied into the run's folder (world-readable, for the sandbox user), so the
        sandbox sees that one file, never the rest of the folder it came from (a home folder, say),
        and a task file in a private folder still reaches the statistician."""
        staged = self.output_dir / STAGED_TASK_INFO
        with self._probe_lock:  # once per run (an earlier stage's copy may be of an older file)
            if not self._task_info_staged:
                hostfs.write_bytes(self.output_dir, staged, Path(self.task_info).read_bytes(), mode=0o644)
                os.chmod(staged.parent, 0o755)
                self._task_info_staged = True
        return staged

    def _session(self, task_id: str):
        inputs = {"input": self.input_dir}
        if self.task_info is not None:  # its copy alone: the file's own folder may hold anything
            inputs["task_info"] = self._staged_task_info().parent
        # only the GenoTEX folders are mounted: messages, provenance, report and plot stay out of reach
        spec = SessionSpec(
            task_id=task_id,
            work_dir=self.output_dir,
            input_dirs=inputs,
            job_id=self.state.job_id,
            writable_subdirs=LAYOUT_FOLDERS,  # what sandboxed code may write
            limits=self.sandbox_limits,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the local backend warns loudly; the choice is recorded instead
            session = open_session(
                spec, backend=self.backend, image=self.sandbox_image, model_code=self.model_code
            )
        self.state.sessions[task_id] = (
            session.info() if hasattr(session, "info") else {"backend": session.backend}
        )
        with self._probe_lock:  # cohorts side by side: the first session probes, the others wait
            if not self.state.sandbox_env:
                self._probe_environment(session)
        return session

    def _probe_environment(self, session) -> None:
        """Package versions inside the sandbox, once per job (they are what the analysis ran with)."""
        result = session.run_cell(ENV_PROBE)
        for line in result.stdout.splitlines():
            if line.startswith("__GENOTEAM_ENV__"):
                self.state.sandbox_env = json.loads(line[len("__GENOTEAM_ENV__") :])
        if not self.state.sandbox_env:
            self.state.sandbox_env = {"error": result.error_message or "no output"}

    def _survey(self, folders: dict[str, Path]) -> dict[str, dict]:
        session = self._session("pi-survey")
        try:
            mount = session.input_mounts["input"]
            dirs = {
                name: f"{mount}/{Path(path).relative_to(self.input_dir).as_posix()}"
                for name, path in folders.items()
            }
            with_background = not self.team.client.is_offline("pi")  # the PI's model reads them
            result = session.run_cell(survey_cell(dirs, with_background))
            if not result.ok:
                raise GenoteamError(
                    f"the GEO platform survey failed: {result.error_type}: {result.error_message}"
                )
            surveyed, parses = parse_survey(result.stdout)
            self.state.sessions["pi-survey"]["geo_files_parsed"] = parses  # one parse per series
            for name, found in surveyed.items():
                if "background" in found:
                    self.state.backgrounds[name] = found.pop("background")
            return surveyed
        finally:
            session.close()

    # -- the job ------------------------------------------------------------------------------------
    def run(self) -> AnalysisResult:
        from genoteam.agents.manifest import write_manifest
        from genoteam.agents.report import write_report

        request = self.request
        started = time.monotonic()
        try:
            if (
                self.stage == "statistics"
            ):  # cohorts preprocessed earlier, already under output_dir/preprocess
                outcomes = recorded_outcomes(request, self.output_dir)
                self.progress.total = len(self.guidelines["statistics"].action_units)
            else:
                catalogue = CohortCatalogue(self.input_dir)
                plan = plan_cohorts(
                    catalogue, request.trait, request.condition, request.cohorts, self._survey
                )
                try:
                    plan = review_plan_with_model(
                        self.team.client,
                        plan,
                        self.state.backgrounds,
                        request.trait,
                        request.condition,
                        request.cohorts,
                    )
                except BudgetExhausted as error:  # no cohort is started; the result says why
                    self.state.budget_exhausted = error.problem
                self.state.plan = plan
                self.state.timings["plan_s"] = time.monotonic() - started
                units = sum(len(self.guidelines[t.source.lower()].action_units) for t in plan.tasks)
                statistics_units = (
                    0 if self.stage == "preprocess" else len(self.guidelines["statistics"].action_units)
                )
                self.progress.total = max(1, units + statistics_units)
                outcomes = self._preprocess_all(plan.tasks)
            if self.state.budget_exhausted:
                result = self._budget_result(outcomes)
            elif self.stage == "preprocess":
                result = self._preprocessed(outcomes)
            else:
                result = self._answer(outcomes)
                if self.state.budget_exhausted:  # the statistician ran out
                    result = self._budget_result(outcomes)
            result = result.model_copy(update={"sandbox": self.backend})  # where the code ran
            self.state.timings["total_s"] = time.monotonic() - started
            self.record = collect_run_record(  # frozen: both files are functions of it
                self.state,
                result,
                request=request,
                input_dir=self.input_dir,
                output_dir=self.output_dir,
                task_info=self.task_info,
                guidelines=self.guidelines,
                team=self.team,
                memory_path=self.memory_path,
                requested_backend=self.sandbox,
                backend=self.backend,
            )
            write_manifest(self.record)
            write_report(self.record)
        finally:
            self.team.memory.close()
        self.progress.report("done", 1.0)
        return result

    def _budget_result(self, outcomes: list[CohortOutcome]) -> AnalysisResult:
        """The job stopped on its model budget: what was done is kept and labelled partial."""
        done = [o.cohort for o in outcomes if o.usable]
        return self._result(
            "budget_exhausted",
            outcomes,
            [],
            [],
            f"stopped: {self.state.budget_exhausted}. Partial results: {len(done)} cohort(s) preprocessed and "
            f"usable ({', '.join(done) or 'none'}); no association was tested. Raise max_cost_usd and run again.",
        )

    # -- one task, of either kind -------------------------------------------------------------------
    def _run_task(
        self,
        task_id: str,
        owner: str,
        guideline: str,
        entity: str,
        cohort: str | None,
        setup: Callable[[KernelSession], str],
        signature: ContextSignature,
    ) -> TaskRecord:
        """Assign the task, open its own sandbox session, write its setup cell (setup(session): the
        paths as that session sees them) and run the guideline's units. Raises TaskNotRun when the
        task could not run (the traceback goes to task_errors); its time is recorded either way."""
        self.team.bus.send(
            TaskAssignment(
                sender="pi",
                recipient=owner,
                task_id=task_id,
                guideline=guideline,
                cohort=cohort,
                trait=entity,
                condition=self.request.condition,
            )
        )
        label = task_id if cohort else "statistics"
        started = time.monotonic()
        try:
            session = self._session(task_id)
            try:
                spec = TaskSpec(
                    task_id=task_id,
                    owner=owner,
                    guideline=self.guidelines[guideline],
                    setup_code=setup(session),
                    signature=signature,
                    cohort=cohort,
                    on_unit=lambda unit, status: self.progress.unit(f"{label}: {unit} {status}"),
                )
                with self._task_team() as team:
                    record = run_task(team, spec, session)
                record.sandbox = self.state.sessions.get(task_id, {})
                return record
            finally:
                session.close()
        except Exception as error:  # one task's failure (even the sandbox's) is that task's outcome
            self.state.task_errors[task_id] = "".join(traceback.format_exception(error))[-4_000:]
            problem = describe(error)
            raise TaskNotRun(problem) from error
        finally:
            self.state.timings[task_id] = time.monotonic() - started

    @contextmanager
    def _task_team(self) -> Iterator[Team]:
        """The team a task works with: the job's own, or, while cohorts run side by side, the same
        team with its own handle on code memory (one database connection per thread)."""
        if not self._side_by_side:
            yield self.team
            return
        memory = CodeMemory(self.memory_path, shipped_only=self.team.memory.shipped_only)
        try:
            yield dataclasses.replace(self.team, memory=memory)
        finally:
            memory.close()

    # -- the cohorts ----------------------------------------------------------------------------------
    def _preprocess_all(self, tasks: list[CohortTask]) -> list[CohortOutcome]:
        """Every cohort of the plan, side by side when they are large enough (pipeline/parallel.py
        worker_count: bounded by cores; each starts when its estimated memory fits), each in its own
        sandbox session (the sandbox pool bounds them across jobs). Outcomes and task records are
        kept in plan order, whatever order the cohorts finish in."""
        sizes = [estimate_cohort(task.cohort) for task in tasks]
        workers = worker_count(sizes)
        if workers <= 1:
            done = [self._preprocess(task, size) for task, size in zip(tasks, sizes, strict=True)]
        else:
            self._side_by_side = True
            try:
                done = run_in_parallel(
                    self._preprocess,
                    list(zip(tasks, sizes, strict=True)),
                    sizes,
                    workers,
                    on_start=lambda i: self.progress.report(f"{tasks[i].task_id}: started"),
                    on_done=lambda i, _: self.progress.report(f"{tasks[i].task_id}: done"),
                    on_error=lambda i, error: (self._crashed(tasks[i], error), None),
                    threads=True,  # each cohort's work runs in its own sandbox process
                )
            finally:
                self._side_by_side = False
        self.state.tasks.extend(record for _, record in done if record is not None)
        return [outcome for outcome, _ in done]

    def _crashed(self, task: CohortTask, error: BaseException) -> CohortOutcome:
        self.state.task_errors[task.task_id] = "".join(traceback.format_exception(error))[-4_000:]
        return CohortOutcome(cohort=task.output_id, trait=task.entity, usable=False, error=describe(error))

    def _refused_for_memory(self, task: CohortTask, size: CohortSize | None) -> CohortOutcome | None:
        """An out_of_memory outcome, before any sandbox starts, for a cohort whose estimated need
        exceeds the sandbox's memory limit (pipeline/admission.py); None when it fits."""
        limit = self.sandbox_limits.memory
        need = refusal(
            size,
            parse_size(limit),
            f"the sandbox memory limit ({limit})",
            "run it with a larger sandbox memory limit (GENOTEAM_SANDBOX_MEMORY), or with the reference "
            "engine on a machine that has it",
        )
        if need is None or size is None:
            return None
        outcome = refused_outcome(task.output_id, task.entity, size, need)
        self.state.task_errors[task.task_id] = outcome.error or ""
        self.progress.report(f"{task.task_id}: {outcome.error}")
        return outcome

    def _preprocess(
        self, task: CohortTask, size: CohortSize | None
    ) -> tuple[CohortOutcome, TaskRecord | None]:
        """One cohort's outcome, and its task record when the task ran."""
        if self.state.budget_exhausted:  # the job is stopping: later cohorts are not started
            return CohortOutcome(
                cohort=task.output_id,
                trait=task.entity,
                usable=False,
                error=f"not run: {self.state.budget_exhausted}",
            ), None
        refused = self._refused_for_memory(task, size)
        if refused is not None:
            return refused, None

        def setup(session: KernelSession) -> str:
            return cohort_setup(
                task,
                self.request.condition,
                session.input_mounts["input"],
                session.work_path,
                self.input_dir,
                self.request.symbol_policy,
            )

        owner = OWNER_OF[task.source]
        try:
            record = self._run_task(
                task.task_id,
                owner,
                task.source.lower(),
                task.entity,
                task.output_id,
                setup,
                self._signature(task),
            )
        except TaskNotRun as error:  # one cohort's failure must not stop the others
            return CohortOutcome(
                cohort=task.output_id, trait=task.entity, usable=False, error=error.problem
            ), None
        return self._outcome(task, record), record

    def _signature(self, task: CohortTask) -> ContextSignature:
        names = [f.name.lower() for f in task.cohort.files]
        if task.source == "TCGA":
            platform = "HiSeqV2_PANCAN" if any("hiseqv2_pancan" in n for n in names) else "no-expression"
            return ContextSignature(platform=platform, file_format="xena", cohort=task.task_id)
        file_format = "series_matrix" if any("series_matrix" in n for n in names) else "soft"
        return ContextSignature(
            platform=task.platform or "unknown", file_format=file_format, cohort=task.task_id
        )

    def _outcome(self, task: CohortTask, record: TaskRecord) -> CohortOutcome:
        try:  # written in the sandbox: read without following links, bounded
            entry = self.layout.cohort_info(task.entity, missing_ok=True).get(task.output_id, {})
        except GenoteamError as error:
            return CohortOutcome(
                cohort=task.output_id,
                trait=task.entity,
                usable=False,
                error=f"cohort_info.json cannot be read after preprocessing: {error}",
            )
        if record.status == "budget_exhausted":
            self.state.budget_exhausted = record.reason
        if record.status in ("failed", "incomplete", "budget_exhausted"):
            return CohortOutcome(
                cohort=task.output_id,
                trait=task.entity,
                usable=False,
                sample_size=entry.get("sample_size"),
                error=record.reason,
            )
        outcome = outcome_from_record(task.output_id, task.entity, entry)
        if record.status == "stopped":
            note = entry.get("note") or ""
            outcome.note = record.reason + (f" ({note})" if note and note not in record.reason else "")
        outcome.note = outcome.note[:2_000]
        return outcome

    # -- the question ---------------------------------------------------------------------------------
    def _answer(self, outcomes: list[CohortOutcome]) -> AnalysisResult:
        request = self.request
        if outcomes and all(o.error for o in outcomes):
            errors = " | ".join(f"{o.trait}/{o.cohort}: {o.error[:400]}" for o in outcomes)
            return self._result(
                "failed",
                outcomes,
                [],
                [],
                f"every cohort failed, so nothing was learned about the data: {errors}",
            )
        if not any(o.usable and o.trait == request.trait for o in outcomes):
            return self._insufficient(outcomes, f"no usable cohort for '{request.trait}'")
        task_id = f"statistics/{request.trait}/{request.condition or 'None'}"

        def setup(session: KernelSession) -> str:
            task_info = (
                f"{session.input_mounts['task_info']}/{STAGED_TASK_INFO.name}" if self.task_info else None
            )
            return statistics_setup(
                request.trait,
                request.condition,
                request.method,
                request.select_by,
                session.work_path,
                task_info,
                request.genotex_version,
            )

        signature = ContextSignature(platform=request.method, file_format="genotex_layout", cohort=task_id)
        try:
            record = self._run_task(
                task_id, "statistician", "statistics", request.trait, None, setup, signature
            )
        except TaskNotRun as error:
            return self._result(
                "failed", outcomes, [], [], f"the statistician's task failed: {error.problem}"
            )
        self.state.stats_task = record
        self.state.tasks.append(record)
        if record.status == "budget_exhausted":
            self.state.budget_exhausted = record.reason
            return self._result("budget_exhausted", outcomes, [], [], record.reason)
        if record.status == "stopped" and record.unit_states().get("select_cohorts") == "passed":
            return self._insufficient(outcomes, record.reason)
        if record.status != "completed":
            return self._result(
                "failed", outcomes, [], [], f"the statistician's task {record.status}: {record.reason}"
            )
        path = self.layout.significant_genes_path(request.trait, request.condition)
        try:  # written in the sandbox: read without following links, bounded
            answer = self.layout.significant_genes(request.trait, request.condition)
            return answered_result(request, outcomes, self.output_dir, answer, self._plan_notes)
        except (ValueError, KeyError, TypeError, AttributeError, GenoteamError) as error:
            problem = describe(error)
            return self._result(
                "failed", outcomes, [], [], f"the statistician's answer {path.name} cannot be read: {problem}"
            )

    @property
    def _plan_notes(self) -> list[str]:
        return self.state.plan.notes if self.state.plan else []

    def _preprocessed(self, outcomes: list[CohortOutcome]) -> AnalysisResult:
        return preprocessed_result(self.request, outcomes, self.output_dir, self._plan_notes)

    def _insufficient(self, outcomes: list[CohortOutcome], why: str) -> AnalysisResult:
        skipped = self.state.plan.skipped if self.state.plan else {}
        return insufficient_result(self.request, outcomes, self.output_dir, why, skipped, self._plan_notes)

    def _result(self, status, outcomes, selected, hits, message, method: str | None = None) -> AnalysisResult:
        return analysis_result(
            self.request,
            status,
            outcomes,
            self.output_dir,
            message,
            selected=selected,
            hits=hits,
            method=method,
        )


def run_team(
    request: AnalysisRequest,
    input_dir: Path,
    output_dir: Path,
    progress: ProgressCallback | None = None,
    *,
    sandbox: str = "auto",
    config: TeamConfig | None = None,
    guidelines_dir: Path | None = None,
    memory_path: Path | None = None,
    task_info: Path | None = None,
    seed_memory: bool = True,
    sandbox_image: str | None = None,
    stage: Stage = "all",
    authoring: str | None = None,
    prefer_learned: bool | None = None,
    sandbox_limits: SandboxLimits | None = None,
) -> AnalysisResult:
    """Answer (trait, condition) with the agent team; every setting is an argument (see the module
    docstring; the server passes a job spec's EngineOptions as sandbox, sandbox_image, task_info).

    stage "preprocess" stops after the cohorts (status "preprocessed"); "statistics" runs only the
    statistician on cohorts already under output_dir/preprocess (the MCP server copies them there).
    seed_memory=False leaves the shipped snippets out of code memory (benchmarks of learning).
    authoring ("shipped" | "model-first") and prefer_learned override the team config's values.
    sandbox_limits: the sessions' limits (default: SandboxLimits with the GENOTEAM_SANDBOX_* variables, 4g); a cohort estimated to need
    more memory than its session may use is refused before it starts (out_of_memory)."""
    config = config or load_team_config()
    overrides = {"authoring": authoring, "prefer_learned": prefer_learned}
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if overrides:
        config = TeamConfig.model_validate({**config.model_dump(), **overrides})
    run = TeamRun(
        request,
        input_dir,
        output_dir,
        progress,
        sandbox=sandbox or "auto",
        config=config,
        guidelines_dir=guidelines_dir,
        memory_path=memory_path or default_memory_path(),
        task_info=task_info,
        seed_memory=seed_memory,
        sandbox_image=sandbox_image,
        stage=stage,
        sandbox_limits=sandbox_limits,
    )
    return run.run()
