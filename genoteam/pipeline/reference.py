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

from genoteam.data.catalogue import Cohort, CohortCatalogue
from genoteam.pipeline.api import (
    AnalysisRequest,
    AnalysisResult,
    CohortOutcome,
    GeneHit,
    ProgressCallback,
    Stage,
)
from genoteam.toolkit import layout
from genoteam.toolkit.cohort_info import read_cohort_info
from genoteam.toolkit.cohort_steps import CohortPreprocessResult, usability_verdict
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.geo import read_geo_cohort, split_by_platform
from genoteam.toolkit.preprocess_geo import preprocess_geo_cohort
from genoteam.toolkit.stats.questions import answer_question
from genoteam.toolkit.stats.selection import CLINICAL_CONDITIONS, load_task_info
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


def _outcomes(cohort: Cohort, trait: str, output_root: Path) -> list[CohortOutcome]:
    """Preprocess one cohort, turning any failure into an outcome that says why (never raised)."""
    try:
        results = preprocess_cohort(cohort, trait, output_root)
    except GenoteamError as error:
        return [CohortOutcome(cohort=cohort.output_id, trait=trait, usable=False, error=str(error))]
    except Exception as error:  # an unexpected failure in one cohort must not stop the others
        detail = "".join(traceback.format_exception_only(error)).strip()
        return [
            CohortOutcome(cohort=cohort.output_id, trait=trait, usable=False, error=f"unexpected: {detail}")
        ]
    return [
        CohortOutcome(
            cohort=r.cohort_id,
            trait=trait,
            usable=r.is_usable,
            sample_size=r.record.get("sample_size"),
            note=f"{usability_verdict(r.record)}; {r.record.get('note') or '; '.join(r.notes[-2:])}",
        )
        for r in results
    ]


def _traits_to_preprocess(request: AnalysisRequest) -> list[str]:
    if request.condition and request.condition not in CLINICAL_CONDITIONS:
        return [request.trait, request.condition]
    return [request.trait]


def preprocess_all(
    request: AnalysisRequest,
    catalogue: CohortCatalogue,
    output_root: Path,
    progress: Callable[[str], None],
) -> list[CohortOutcome]:
    """Preprocess every cohort of the trait (and of a condition trait), in a stable order."""
    outcomes: list[CohortOutcome] = []
    for trait in _traits_to_preprocess(request):
        for cohort in catalogue.cohorts_for_trait(trait):
            if request.cohorts and trait == request.trait and not _wanted(cohort, request.cohorts):
                continue
            progress(f"preprocessing {trait}/{cohort.id}")
            outcomes += _outcomes(cohort, trait, output_root)
    return outcomes


def _wanted(cohort: Cohort, wanted: list[str]) -> bool:
    names = {cohort.id, cohort.output_id, cohort.tcga_code or ""}
    return any(w in names or w.startswith(cohort.id + "_") for w in wanted)


def _insufficient(
    request: AnalysisRequest, outcomes: list[CohortOutcome], output_dir: Path, why: str
) -> AnalysisResult:
    reasons = [f"{o.trait}/{o.cohort}: {o.error or o.note.split(';')[0]}" for o in outcomes if not o.usable]
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


def gene_hits(significant) -> list[GeneHit]:
    """The significant-gene table as GeneHits, in order (column-wise: a row loop is ~20x slower)."""
    n = len(significant)
    p_values = significant["p_value"] if "p_value" in significant else [None] * n
    q_values = significant["q_value"] if "q_value" in significant else [None] * n
    return [
        GeneHit(
            gene=str(gene),
            coefficient=float(coef),
            p_value=None if p is None else float(p),
            q_value=None if q is None else float(q),
        )
        for gene, coef, p, q in zip(
            significant["Variable"], significant["Coefficient"], p_values, q_values, strict=True
        )
    ]


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
            note = f"{usability_verdict(record)}; {record.get('note') or ''}"
            outcomes.append(
                CohortOutcome(
                    cohort=cohort,
                    trait=trait,
                    usable=bool(record.get("is_usable")),
                    sample_size=record.get("sample_size"),
                    note=note,
                )
            )
    return outcomes


def _preprocessed(
    request: AnalysisRequest, outcomes: list[CohortOutcome], output_dir: Path
) -> AnalysisResult:
    usable = [o.cohort for o in outcomes if o.usable and o.trait == request.trait]
    failed = [o for o in outcomes if o.error]
    return AnalysisResult(
        trait=request.trait,
        condition=request.condition,
        status="preprocessed",
        method=request.method,
        selected_cohorts=[],
        cohorts=outcomes,
        significant_genes=[],
        output_dir=str(output_dir),
        message=f"preprocessing only: {len(usable)} usable cohort(s) of {len(outcomes)}"
        + (
            f"; {len(failed)} failed: " + "; ".join(f"{o.cohort}: {o.error}" for o in failed)
            if failed
            else ""
        ),
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
    n_total = max(1, sum(len(catalogue.cohorts_for_trait(t)) for t in _traits_to_preprocess(request)))
    done = 0

    def step(message: str) -> None:
        nonlocal done
        if progress:
            progress(min(done / (n_total + 1), 0.95), message)
        done += 1

    if stage == "statistics":
        outcomes = recorded_outcomes(request, output_dir)
    else:
        outcomes = preprocess_all(request, catalogue, output_dir, step)
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
        )
    except GenoteamError as error:
        return _insufficient(request, outcomes, output_dir, str(error))
    layout.write_significant_genes(output_dir, request.trait, request.condition, answer.to_json_dict())
    failed = [o for o in outcomes if o.error]
    if progress:
        progress(1.0, "done")
    sig = answer.significant
    return AnalysisResult(
        trait=request.trait,
        condition=request.condition,
        status="partial" if failed else "complete",
        method=answer.method,
        selected_cohorts=list(answer.cohorts.values()),
        cohorts=outcomes,
        significant_genes=gene_hits(sig),
        output_dir=str(output_dir),
        message=(f"{len(failed)} cohort(s) failed: " + "; ".join(f"{o.cohort}: {o.error}" for o in failed))
        if failed
        else "",
    )
