"""Building an AnalysisResult's parts, shared by every engine (reference pipeline, agent team),
so both describe cohorts, failures and genes in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genoteam.pipeline.api import CohortOutcome, GeneHit
from genoteam.toolkit.cohort_steps import usability_verdict


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
    n = len(significant["Variable"])
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
