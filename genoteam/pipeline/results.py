"""Building an AnalysisResult's parts, shared by every engine (reference pipeline, agent team),
so both describe cohorts, failures and genes in the same words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genoteam.pipeline.api import AnalysisRequest, AnalysisResult, CohortOutcome, GeneHit
from genoteam.pipeline.cohorts import entities_for
from genoteam.toolkit.cohort_steps import usability_verdict
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import OutputLayout


def outcome_from_record(cohort: str, trait: str, record: Mapping[str, Any], note: str = "") -> CohortOutcome:
    """A preprocessed cohort's outcome from its cohort_info record: the verdict first, then the
    record's note (or `note` when the record has none)."""
    return CohortOutcome(
        cohort=cohort,
        trait=trait,
        usable=bool(record.get("is_usable")),
        sample_size=record.get("sample_size"),
        note=f"{usability_verdict(dict(record))}; {record.get('note') or note}",
    )


def unusable_reasons(outcomes: list[CohortOutcome]) -> list[str]:
    """One short reason per cohort that could not be used: its error, else its verdict."""
    return [
        f"{o.trait}/{o.cohort}: {(o.error or o.note.split(';')[0] or 'not usable')[:400]}"
        for o in outcomes
        if not o.usable
    ]


def failure_summary(outcomes: list[CohortOutcome]) -> str:
    """'' when no cohort failed, else which failed and why."""
    failed = [o for o in outcomes if o.error]
    return "; ".join(f"{o.trait}/{o.cohort} failed: {o.error}" for o in failed)


def preprocessed_message(trait: str, outcomes: list[CohortOutcome]) -> str:
    usable = [o for o in outcomes if o.usable and o.trait == trait]
    failures = failure_summary(outcomes)
    return f"preprocessing only: {len(usable)} usable cohort(s) of {len(outcomes)}" + (
        f"; {failures}" if failures else ""
    )


def gene_hits(significant) -> list[GeneHit]:
    """GeneHits, in order, from GenoTEX's significant-genes columns (a DataFrame or the JSON's
    dict of lists: Variable, Coefficient and, when the method tests, p_value and q_value)."""

    def column(name: str) -> list:
        values = significant[name] if name in significant else [None] * len(significant["Variable"])
        return values.tolist() if hasattr(values, "tolist") else list(values)  # a Series iterates slowly

    return [
        GeneHit(
            gene=str(gene),
            coefficient=float(coef),
            p_value=None if p is None else float(p),
            q_value=None if q is None else float(q),
        )
        for gene, coef, p, q in zip(
            column("Variable"), column("Coefficient"), column("p_value"), column("q_value"), strict=True
        )
    ]


def recorded_outcomes(request: AnalysisRequest, output_dir: Path) -> list[CohortOutcome]:
    """Outcomes of cohorts preprocessed earlier, read back from their cohort_info.json files."""
    outcomes = []
    layout = OutputLayout(output_dir)
    for trait in entities_for(request.trait, request.condition):
        if not Path(layout.cohort_info_path(trait)).exists():
            raise GenoteamError(
                f"no preprocessed cohorts of '{trait}' (cohort_info.json is missing)",
                "run the preprocessing stage first",
            )
        for cohort, record in layout.cohort_info(trait).items():
            outcomes.append(outcome_from_record(cohort, trait, record))
    return outcomes


def analysis_result(
    request: AnalysisRequest,
    status: str,
    outcomes: list[CohortOutcome],
    output_dir: Path | str,
    message: str = "",
    *,
    selected: Sequence[str] = (),
    hits: Sequence[GeneHit] = (),
    method: str | None = None,
    notes: Sequence[str] = (),
    coefficient_unit: str = "",
    comparison: str = "",
) -> AnalysisResult:
    """The result every engine returns; `notes` (how the request's cohort ids were read) follow
    the message, so a result always says when it used more than the id named."""
    return AnalysisResult(
        trait=request.trait,
        condition=request.condition,
        status=status,  # type: ignore[arg-type]  # one of AnalysisResult's statuses, by the callers
        method=method or request.method,
        selected_cohorts=list(selected),
        cohorts=outcomes,
        significant_genes=list(hits),
        output_dir=str(output_dir),
        message="; ".join(part for part in (message, *notes) if part),
        coefficient_unit=coefficient_unit,
        comparison=comparison,
    )


def insufficient_result(
    request: AnalysisRequest,
    outcomes: list[CohortOutcome],
    output_dir: Path | str,
    why: str,
    skipped: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
) -> AnalysisResult:
    """No usable cohort: every cohort named with its reason, and those the plan skipped."""
    reasons = unusable_reasons(outcomes) + [f"{name}: {reason}" for name, reason in (skipped or {}).items()]
    detail = " | ".join(reasons) if reasons else "no cohort was found for the trait"
    message = f"insufficient data: {why}. {detail}"
    return analysis_result(request, "insufficient_data", outcomes, output_dir, message, notes=notes)


def preprocessed_result(
    request: AnalysisRequest, outcomes: list[CohortOutcome], output_dir: Path | str, notes: Sequence[str] = ()
) -> AnalysisResult:
    message = preprocessed_message(request.trait, outcomes)
    return analysis_result(request, "preprocessed", outcomes, output_dir, message, notes=notes)


def answered_result(
    request: AnalysisRequest,
    outcomes: list[CohortOutcome],
    output_dir: Path | str,
    answer: Mapping[str, Any],
    notes: Sequence[str] = (),
) -> AnalysisResult:
    """complete (or partial when a cohort failed) from the significant-genes JSON both engines write;
    a penalised list that depends on the column order says so in the message."""
    failures = failure_summary(outcomes)
    order_warning = ((answer.get("details") or {}).get("column_order") or {}).get("warning")
    return analysis_result(
        request,
        "partial" if failures else "complete",
        outcomes,
        output_dir,
        failures,
        selected=list((answer.get("cohorts") or {}).values()),
        hits=gene_hits(answer["significant_genes"]),
        method=answer.get("method"),
        notes=[*notes, *([order_warning] if order_warning else [])],
        coefficient_unit=str(answer.get("coefficient_unit") or ""),
        comparison=str((answer.get("details") or {}).get("comparison") or ""),
    )
