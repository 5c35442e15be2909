"""The deterministic expert pipeline: toolkit only, one process, no LLM and no sandbox.

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
from genoteam.pipeline.api import (
    AnalysisRequest,
    AnalysisResult,
    CohortOutcome,
    ProgressCallback,
    Stage,
)
from genoteam.pipeline.results import (
    failure_summary,
    gene_hits,
    outcome_from_record,
    preprocessed_message,
    unusable_reasons,
)
from genoteam.toolkit import layout
from genoteam.toolkit.cohort_info import read_cohort_info
from genoteam.toolkit.cohort_steps import CohortPreprocessResult
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.geo import read_geo_cohort, split_by_platform
from genoteam.toolkit.preprocess_geo import preprocess_geo_cohort
from genoteam.toolkit.stats.questions import answer_question
from genoteam.toolkit.stats.selection import CLINICAL_CONDITIONS, load_task_info, select_one_step_cohort
from genoteam.toolkit.symbols import normalize_gene_symbols
from genoteam.toolkit.tcga import preprocess_tcga_cohort


def preprocess_cohort(cohort: Cohort, trait: str, output_root: Path) -> list[CohortPreprocessResult]:
    """One cohort folder -> one result per output cohort (a GEO series splits per platform)."""
    if cohort.source == "TCGA":
        return [
            preprocess_tcga_cohort(
                cohort.path,
                trait,
                output_root,
                normalize_genes=normalize_gene_symbols,
                cohort_id=cohort.output_id,
            )
        ]
    series = read_geo_cohort(cohort.path)
    return [
        preprocess_geo_cohort(part, cohort_id, trait, output_root)
        for cohort_id, part in split_by_platform(series).items()
    ]


def _outcomes(
    cohort: Cohort, trait: str, output_root: Path
) -> tuple[list[CohortOutcome], list[CohortPreprocessResult]]:
    """Preprocess one cohort, turning any failure into an outcome that says why (never raised)."""
    try:
        results = preprocess_cohort(cohort, trait, output_root)
    except GenoteamError as error:
        return [CohortOutcome(cohort=cohort.output_id, trait=trait, usable=False, error=str(error))], []
    except Exception as error:  # an unexpected failure in one cohort must not stop the others
        detail = "".join(traceback.format_exception_only(error)).strip()
        failed = CohortOutcome(
            cohort=cohort.output_id, trait=trait, usable=False, error=f"unexpected: {detail}"
        )
        return [failed], []
    outcomes = [outcome_from_record(r.cohort_id, trait, r.record, "; ".join(r.notes[-2:])) for r in results]
    return outcomes, results


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
            best = select_one_step_cohort(records, condition if condition in CLINICAL_CONDITIONS else None)
            for key in [k for k in self.tables if k[0] == trait and k[1] != best]:
                del self.tables[key]


def _traits_to_preprocess(request: AnalysisRequest) -> list[str]:
    if request.condition and request.condition not in CLINICAL_CONDITIONS:
        return [request.trait, request.condition]
    return [request.trait]


def planned_cohorts(request: AnalysisRequest, catalogue: CohortCatalogue) -> list[tuple[str, Cohort]]:
    """(trait, cohort) pairs to preprocess, in a stable order: every cohort of the trait (only
    the requested ones when the request names cohorts) and of a condition trait."""
    return [
        (trait, cohort)
        for trait in _traits_to_preprocess(request)
        for cohort in catalogue.cohorts_for_trait(trait)
        if not (request.cohorts and trait == request.trait and not _wanted(cohort, request.cohorts))
    ]


def preprocess_all(
    planned: list[tuple[str, Cohort]],
    output_root: Path,
    progress: Callable[[str], None],
    tables: LinkedTables | None = None,
) -> list[CohortOutcome]:
    """Preprocess the planned cohorts one after the other; a failure stays with its cohort."""
    outcomes: list[CohortOutcome] = []
    for trait, cohort in planned:
        progress(f"preprocessing {trait}/{cohort.id}")
        done, results = _outcomes(cohort, trait, output_root)
        outcomes += done
        if tables is not None:
            tables.add(results)
    return outcomes


def _wanted(cohort: Cohort, wanted: list[str]) -> bool:
    names = {cohort.id, cohort.output_id, cohort.tcga_code or ""}
    return any(w in names or w.startswith(cohort.id + "_") for w in wanted)


def _insufficient(
    request: AnalysisRequest, outcomes: list[CohortOutcome], output_dir: Path, why: str
) -> AnalysisResult:
    reasons = unusable_reasons(outcomes)
    return AnalysisResult(
        trait=request.trait,
        condition=request.condition,
        status="insufficient_data",
        method=request.method,
        selected_cohorts=[],
        cohorts=outcomes,
        significant_genes=[],
        output_dir=str(output_dir),
        message=f"insufficient data: {why}. " + (" | ".join(reasons) if reasons else "no cohort was found"),
    )


def recorded_outcomes(request: AnalysisRequest, output_dir: Path) -> list[CohortOutcome]:
    """Outcomes of cohorts preprocessed earlier, read back from their cohort_info.json files."""
    outcomes = []
    for trait in _traits_to_preprocess(request):
        info_path = layout.OutputLayout(output_dir).cohort_info_path(trait)
        if not info_path.exists():
            raise GenoteamError(
                f"no preprocessed cohorts of '{trait}' ({info_path.name} is missing)",
                "run the preprocessing stage first",
            )
        for cohort, record in read_cohort_info(info_path).items():
            outcomes.append(outcome_from_record(cohort, trait, record))
    return outcomes


def _preprocessed(
    request: AnalysisRequest, outcomes: list[CohortOutcome], output_dir: Path
) -> AnalysisResult:
    return AnalysisResult(
        trait=request.trait,
        condition=request.condition,
        status="preprocessed",
        method=request.method,
        selected_cohorts=[],
        cohorts=outcomes,
        significant_genes=[],
        output_dir=str(output_dir),
        message=preprocessed_message(request.trait, outcomes),
    )


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
    planned = planned_cohorts(request, catalogue)
    n_total = max(1, len(planned))
    done = 0

    def step(message: str) -> None:
        nonlocal done
        if progress:
            progress(min(done / (n_total + 1), 0.95), message)
        done += 1

    tables = LinkedTables(request)
    if stage == "statistics":
        outcomes = recorded_outcomes(request, output_dir)
    else:
        outcomes = preprocess_all(planned, output_dir, step, tables if stage == "all" else None)
    if stage == "preprocess":
        return _preprocessed(request, outcomes, output_dir)
    if not any(o.usable and o.trait == request.trait for o in outcomes):
        return _insufficient(request, outcomes, output_dir, f"no usable cohort for '{request.trait}'")
    if progress:
        progress(n_total / (n_total + 1), "selecting cohorts and running the statistics")
    try:
        answer = answer_question(
            output_dir / "preprocess",
            request.trait,
            request.condition,
            method=request.method,
            select_by=request.select_by,
            task_info=task_info,
            tables=tables.tables,
        )
    except GenoteamError as error:
        return _insufficient(request, outcomes, output_dir, str(error))
    layout.write_significant_genes(output_dir, request.trait, request.condition, answer.to_json_dict())
    if progress:
        progress(1.0, "done")
    failures = failure_summary(outcomes)
    return AnalysisResult(
        trait=request.trait,
        condition=request.condition,
        status="partial" if failures else "complete",
        method=answer.method,
        selected_cohorts=list(answer.cohorts.values()),
        cohorts=outcomes,
        significant_genes=gene_hits(answer.significant),
        output_dir=str(output_dir),
        message=failures,
    )
