"""The deterministic expert pipeline: toolkit only, one process, no LLM and no sandbox.
Its cohorts come from the shared cohort plan (genoteam.pipeline.cohorts), surveyed on the host.

It is the baseline the agent team must match or beat, and the embedded default's core:
preprocess every cohort of the trait (and of a condition trait), write GenoTEX's output layout,
select cohorts with GenoTEX's rules and answer the question with the chosen method.
A failure in one cohort is recorded and the others go on; no usable cohort gives an explicit
"insufficient_data" result that names each cohort and why.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from genoteam.data.catalogue import Cohort, CohortCatalogue
from genoteam.pipeline.admission import (
    CohortSize,
    estimate_cohort,
    memory_limit_bytes,
    refusal,
    refused_outcome,
)
from genoteam.pipeline.api import (
    AnalysisRequest,
    AnalysisResult,
    CohortOutcome,
    ProgressCallback,
    Stage,
)
from genoteam.pipeline.cohorts import CohortPlan, CohortTask, plan_cohorts
from genoteam.pipeline.parallel import run_in_parallel, worker_count
from genoteam.pipeline.plots import volcano_plot
from genoteam.pipeline.results import (
    answered_result,
    insufficient_result,
    outcome_from_record,
    preprocessed_result,
    recorded_outcomes,
)
from genoteam.toolkit import layout
from genoteam.toolkit.cohort_steps import CohortPreprocessResult
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.geo import GeoSeries, read_geo_cohort
from genoteam.toolkit.platforms import series_cohorts
from genoteam.toolkit.preprocess_geo import preprocess_geo_cohort
from genoteam.toolkit.stats.questions import answer_question
from genoteam.toolkit.stats.selection import load_task_info, select_one_step_cohort
from genoteam.toolkit.symbols import DEFAULT_SYMBOL_POLICY
from genoteam.toolkit.tcga import preprocess_tcga_cohort
from genoteam.toolkit.traits import condition_is_trait


class HostSurvey:
    """The plan's platform survey on this host; keeps each series' cohorts until preprocessed, so a
    series is parsed once (a reader error is kept too, and raised by that cohort's task)."""

    def __init__(self) -> None:
        self.cohorts: dict[Path, dict[str, GeoSeries] | Exception] = {}

    def __call__(self, folders: dict[str, Path]) -> dict[str, dict]:
        out = {}
        for name, path in folders.items():
            try:
                parts = self.cohorts[Path(path)] = series_cohorts(read_geo_cohort(path))
            except Exception as error:  # one series' failure belongs to its cohort alone
                self.cohorts[Path(path)] = error
                out[name] = {"error": f"{type(error).__name__}: {error}"}
                continue
            out[name] = {"cohorts": {cid: part.only_platform().platform_id for cid, part in parts.items()}}
        return out

    def take(self, cohort: Cohort, cohort_id: str) -> GeoSeries:
        """The planned cohort's data (read now when the survey did not keep it)."""
        found = self.cohorts.get(Path(cohort.path))
        if found is None:
            found = self.cohorts[Path(cohort.path)] = series_cohorts(read_geo_cohort(cohort.path))
        if isinstance(found, Exception):
            raise found
        if cohort_id not in found:
            raise GenoteamError(f"{cohort.id} holds no cohort {cohort_id}", f"its cohorts: {sorted(found)}")
        part = found.pop(cohort_id)
        if not found:
            del self.cohorts[Path(cohort.path)]
        return part


def preprocess_task(
    task: CohortTask, output_root: Path, survey: HostSurvey, symbol_policy: str = DEFAULT_SYMBOL_POLICY
) -> CohortPreprocessResult:
    """One planned cohort -> its GenoTEX outputs under output_root (symbols by `symbol_policy`)."""
    if task.source == "TCGA":
        return preprocess_tcga_cohort(
            task.cohort.path, task.entity, output_root, cohort_id=task.output_id, symbol_policy=symbol_policy
        )
    return preprocess_geo_cohort(
        survey.take(task.cohort, task.output_id), task.output_id, task.entity, output_root, symbol_policy
    )


def _outcome(
    task: CohortTask, output_root: Path, survey: HostSurvey, symbol_policy: str = DEFAULT_SYMBOL_POLICY
) -> tuple[CohortOutcome, CohortPreprocessResult | None]:
    """Preprocess one cohort, turning any failure into an outcome that says why (never raised)."""
    try:
        r = preprocess_task(task, output_root, survey, symbol_policy)
    except GenoteamError as error:
        return CohortOutcome(cohort=task.output_id, trait=task.entity, usable=False, error=str(error)), None
    except Exception as error:  # an unexpected failure in one cohort must not stop the others
        detail = "".join(traceback.format_exception_only(error)).strip()
        failed = CohortOutcome(
            cohort=task.output_id, trait=task.entity, usable=False, error=f"unexpected: {detail}"
        )
        return failed, None
    return outcome_from_record(r.cohort_id, task.entity, r.record, "; ".join(r.notes[-2:])), r


class LinkedTables:
    """Linked tables kept in memory for the statistics of the same run: per trait only the one
    the selection ranks first so far (for a two-step question, the trait's and the condition's
    best), so memory holds one table per trait whatever the number of cohorts. Any other cohort
    the statistics need is read back from its CSV."""

    def __init__(self, request: AnalysisRequest) -> None:
        self.request = request
        self.tables: dict[tuple[str, str], pd.DataFrame] = {}
        self.records: dict[str, dict[str, dict]] = {}

    def add(self, results: list[CohortPreprocessResult]) -> None:
        for r in results:
            self.records.setdefault(r.trait, {})[r.cohort_id] = r.record
            if r.linked is not None:
                self.tables[(r.trait, r.cohort_id)] = r.linked
            r.linked = None
        for trait, records in self.records.items():
            condition = self.request.condition if trait == self.request.trait else None
            best = select_one_step_cohort(records, None if condition_is_trait(condition) else condition)
            for key in [k for k in self.tables if k[0] == trait and k[1] != best]:
                del self.tables[key]


def planned_cohorts(request: AnalysisRequest, catalogue: CohortCatalogue, survey: HostSurvey) -> CohortPlan:
    """The request's cohort plan (genoteam.pipeline.cohorts), surveyed on this host."""
    return plan_cohorts(catalogue, request.trait, request.condition, request.cohorts, survey)


def _outcome_in_worker(
    task: CohortTask, output_root: Path, part: GeoSeries | None, symbol_policy: str
) -> CohortOutcome:
    """_outcome in a worker process, from the series part the parent's survey already read (one
    parse per series); only the outcome travels back (the tables stay on disk)."""
    survey = HostSurvey()
    if part is not None:
        survey.cohorts[Path(task.cohort.path)] = {task.output_id: part}
    return _outcome(task, output_root, survey, symbol_policy)[0]


def _refused(plan: CohortPlan) -> tuple[list[CohortSize | None], dict[int, CohortOutcome]]:
    """Each task's size estimate, and the outcomes of tasks refused because they cannot fit at all."""
    sizes = [estimate_cohort(task.cohort) for task in plan.tasks]
    limit = memory_limit_bytes()
    refused = {}
    for i, (task, size) in enumerate(zip(plan.tasks, sizes, strict=True)):
        need = refusal(size, limit, "this machine", "run it on a machine with more memory")
        if need is not None and size is not None:
            refused[i] = refused_outcome(task.output_id, task.entity, size, need)
    return sizes, refused


def preprocess_all(
    plan: CohortPlan,
    output_root: Path,
    progress: Callable[[str, bool], None],
    survey: HostSurvey,
    tables: LinkedTables | None = None,
    symbol_policy: str = DEFAULT_SYMBOL_POLICY,
) -> list[CohortOutcome]:
    """Preprocess the planned cohorts, side by side when they are large enough to gain from it
    (pipeline/parallel.py), else one after the other; a failure stays with its cohort, and a
    cohort that cannot fit in memory is refused before it starts (out_of_memory)."""
    tasks = plan.tasks
    sizes, refused = _refused(plan)
    outcomes: dict[int, CohortOutcome] = {}
    for i, outcome in refused.items():
        outcomes[i] = outcome
        progress(f"{tasks[i].task_id} refused: {outcome.error}", True)
    runnable = [i for i in range(len(tasks)) if i not in refused]
    workers = worker_count([sizes[i] for i in runnable])
    if workers <= 1:
        for i in runnable:
            progress(f"preprocessing {tasks[i].task_id}", False)
            outcomes[i], result = _outcome(tasks[i], output_root, survey, symbol_policy)
            if tables is not None and result is not None:
                tables.add([result])
            progress(f"{tasks[i].task_id} done", True)
        return [outcomes[i] for i in range(len(tasks))]
    jobs, queued = [], []
    for i in runnable:
        try:
            part = None if tasks[i].source == "TCGA" else survey.take(tasks[i].cohort, tasks[i].output_id)
        except Exception:  # the series could not be read: _outcome words the failure
            outcomes[i] = _outcome(tasks[i], output_root, survey, symbol_policy)[0]
            progress(f"{tasks[i].task_id} done", True)
            continue
        jobs.append((tasks[i], output_root, part, symbol_policy))
        queued.append(i)

    def died(j: int, error: BaseException) -> CohortOutcome:
        task = tasks[queued[j]]
        why = f"the worker preprocessing it died ({type(error).__name__}: {error}); it may have run out of memory"
        return CohortOutcome(cohort=task.output_id, trait=task.entity, usable=False, error=why)

    results = run_in_parallel(
        _outcome_in_worker,
        jobs,
        [sizes[i] for i in queued],
        workers,
        lambda j: progress(f"preprocessing {tasks[queued[j]].task_id} (up to {workers} at once)", False),
        lambda j, outcome: progress(f"{tasks[queued[j]].task_id} done", True),
        died,
    )
    outcomes.update(zip(queued, results, strict=True))
    return [outcomes[i] for i in range(len(tasks))]


def run_reference(
    request: AnalysisRequest,
    input_dir: Path,
    output_dir: Path,
    progress: ProgressCallback | None = None,
    task_info_path: Path | None = None,
    stage: Stage = "all",
) -> AnalysisResult:
    """Answer (trait, condition) from the cohorts under input_dir, writing GenoTEX's layout.

    stage "preprocess" stops after the cohorts; "statistics" skips them and answers from the
    cohorts already preprocessed under output_dir/preprocess."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    catalogue = CohortCatalogue(input_dir)
    task_info = load_task_info(task_info_path) if task_info_path else None
    if request.genotex_version and task_info is None:
        raise GenoteamError(
            f"GenoTEX {request.genotex_version}'s procedure chooses its penalty by the known trait genes",
            "pass GenoTEX's task file with --task-info (task_info_2024.json for 2024)",
        )
    survey = HostSurvey()
    plan = planned_cohorts(request, catalogue, survey) if stage != "statistics" else None
    notes = plan.notes if plan else []
    skipped = plan.skipped if plan else {}
    n_total = max(1, len(plan.tasks) if plan else 1)
    done = 0

    def step(message: str, finished: bool) -> None:
        nonlocal done
        done += finished
        if progress:
            progress(min(done / (n_total + 1), 0.95), message)

    tables = LinkedTables(request)
    if plan is None:
        outcomes = recorded_outcomes(request, output_dir)
    else:
        kept = tables if stage == "all" else None
        outcomes = preprocess_all(plan, output_dir, step, survey, kept, request.symbol_policy)
    if stage == "preprocess":
        return preprocessed_result(request, outcomes, output_dir, notes)
    if not any(o.usable and o.trait == request.trait for o in outcomes):
        why = f"no usable cohort for '{request.trait}'"
        return insufficient_result(request, outcomes, output_dir, why, skipped, notes)
    if progress:
        progress(n_total / (n_total + 1), "selecting cohorts and running the statistics")
    try:
        answer = answer_question(
            layout.OutputLayout(output_dir).preprocess_dir,
            request.trait,
            request.condition,
            method=request.method,
            select_by=request.select_by,
            task_info=task_info,
            tables=tables.tables,
            genotex_version=request.genotex_version,
        )
    except GenoteamError as error:
        return insufficient_result(request, outcomes, output_dir, str(error), skipped, notes)
    answer_json = answer.to_json_dict()
    layout.write_significant_genes(output_dir, request.trait, request.condition, answer_json)
    table_path = layout.OutputLayout(output_dir).association_table_path(request.trait, request.condition)
    layout.atomic_write_csv(table_path, answer.table.set_index(answer.table.columns[0]))
    cohorts = ", ".join(answer.cohorts.values())
    volcano_plot(
        answer.table, output_dir / "volcano.png", f"{request.trait} ({answer.method}, cohorts {cohorts})"
    )
    if progress:
        progress(1.0, "done")
    return answered_result(request, outcomes, output_dir, answer_json, notes)
