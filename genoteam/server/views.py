"""What tools return: structured models (the output schemas) and the compact text for the model.

Why both: structured content is for programs (typed, schema-checked); the text is what a
language model reads, so it is short: state, top genes, counts, cohort choices, failures and
the next step. Nothing here ever carries a host path: every free text passes `Scrubber`.
"""

from __future__ import annotations

import math
from typing import Any

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from genoteam.pipeline.api import AnalysisResult, CohortOutcome, GeneHit
from genoteam.server.batch_jobs import batch_label, batch_lines
from genoteam.server.catalog import CohortInfo, TraitInfo
from genoteam.server.explain import Explanation
from genoteam.server.jobs import JobRecord
from genoteam.server.schema import Compact
from genoteam.server.scrub import Scrubber

RESOURCE_KINDS = ("report", "genes.csv", "volcano.png", "provenance/summary", "provenance")


class JobView(Compact):
    job_id: str
    kind: str
    state: str = Field(description="queued, running, complete, failed, cancelled or interrupted")
    progress: float  # fraction done, 0-1
    message: str
    trait: str
    condition: str | None
    cohorts: list[str] | None
    method: str
    engine: str
    attempt: int
    created_at: str
    updated_at: str
    finished_at: str | None = None
    result_status: str | None = Field(None, description="complete, partial, insufficient_data or failed")
    error: str | None = None
    hint: str | None = None
    resources: list[str] = Field(default_factory=list)  # resource URIs of the job's outputs
    next_step: str = ""


class SubmitView(JobView):
    started_now: bool  # False when an identical earlier request's job was returned
    understood: list[str] = Field(default_factory=list)  # names read other than as given
    result: dict[str, Any] | None = Field(None, description="When complete: the page get_result gives")


class JobList(Compact):
    jobs: list[JobView]
    total: int
    next_offset: int | None


class CancelView(Compact):
    job: JobView
    note: str


class ResultPage(Compact):
    job_id: str
    status: str = Field(description="complete, partial, insufficient_data or failed")
    partial: bool
    method: str
    trait: str
    condition: str | None
    selected_cohorts: list[str]
    cohorts: list[CohortOutcome]
    total_genes: int
    offset: int
    next_offset: int | None
    genes: list[GeneHit]
    message: str
    sandbox: str = Field(description="where the code ran: docker, local or none")
    resources: list[str]
    discovered: list[Candidate] = Field(
        default_factory=list, description="Cohorts found by search, with reasons"
    )
    explanation: Explanation | None = None
    batch: dict[str, Any] | None = Field(None, description="A batch job: counts and a page of its questions")


class TraitList(Compact):
    traits: list[TraitInfo]
    total: int
    next_offset: int | None


class Candidate(Compact):
    """A cohort found by search (discover=true): the decision (include), why, who decided."""

    cohort: str
    source: str
    trait: str  # the trait it was found for (the condition's own, in two-step questions)
    title: str
    n_samples: int | None = None
    include: bool
    reasons: list[str]
    judge: str = "rules"
    error: str | None = None  # why its download failed


def candidates(record: dict | None) -> list[Candidate]:
    """The candidates of a discovery record (genoteam.data.discovery.Discovery.to_dict), the
    condition's after the trait's."""
    records = [r for r in (record, (record or {}).get("condition")) if r]
    return [
        Candidate(
            cohort=c["cohort"],
            source=c["source"],
            trait=r["trait"],
            title=c["title"],
            n_samples=c.get("n_samples"),
            include=c["include"],
            reasons=c["reasons"],
            judge=c.get("judge", "rules"),
            error=c.get("error"),
        )
        for r in records
        for c in r.get("cohorts", [])
    ]


def candidate_lines(found: list[Candidate]) -> list[str]:
    return [
        f"- {'USE' if c.include and not c.error else 'skip'} {c.source} {c.cohort}"
        + (f" (n={c.n_samples})" if c.n_samples is not None else "")
        + f": {'; '.join(c.reasons)}"
        + (f"; download failed: {c.error}" if c.error else "")
        for c in found
    ]


class CohortList(Compact):
    trait: str
    understood: str = ""
    cohorts: list[CohortInfo]
    unsupported: list[str] = Field(default_factory=list)  # e.g. GEO DataSet folders, with what to use
    query: str | None = None  # the GEO search (discover=true)
    discovered: list[Candidate] = Field(default_factory=list)


def resource_uris(job_id: str) -> list[str]:
    return [f"genoteam://jobs/{job_id}/{kind}" for kind in RESOURCE_KINDS]


def job_view(record: JobRecord, scrub: Scrubber) -> JobView:
    spec, status = record.spec, record.status
    if status.state in {"queued", "running"}:
        next_step = f"poll get_job(job_id='{spec.job_id}', wait_seconds=20) until it is complete"
    elif status.state == "complete":
        next_step = f"read get_result(job_id='{spec.job_id}')"
    elif status.state == "cancelled":
        next_step = "submit the request again to restart it"
    else:
        next_step = (status.hint and scrub(status.hint)) or "submit the request again to retry"
    return JobView(
        job_id=spec.job_id,
        kind=spec.kind,
        state=status.state,
        progress=round(status.progress, 4),
        message=scrub(status.message) or "",
        trait=batch_label(spec.batch) if spec.batch else spec.request.trait,
        condition=spec.request.condition,
        cohorts=spec.request.cohorts,
        method=spec.request.method,
        engine=spec.engine,
        attempt=status.attempt,
        created_at=spec.created_at,
        updated_at=status.updated_at,
        finished_at=status.finished_at,
        result_status=status.result_status,
        error=scrub(status.error),
        hint=scrub(status.hint),
        resources=(
            resource_uris(spec.job_id)[: 1 if spec.batch else None] if status.state == "complete" else []
        ),
        next_step=next_step,
    )


def job_text(view: JobView) -> str:
    what = f"{view.kind} {view.trait}" + (f" | {view.condition}" if view.condition else "")
    line = f"Job {view.job_id} ({what}, engine {view.engine}): {view.state}"
    if view.state in {"queued", "running"}:
        line += f", {view.progress:.0%} - {view.message}"
    elif view.result_status:
        line += f", result {view.result_status}"
    if view.error:
        line += f"\nError: {view.error}"
    if isinstance(view, SubmitView) and view.understood:
        line += "\nNames: " + "; ".join(view.understood)
    return f"{line}\nNext: {view.next_step}"


def gene_sort_key(hit: GeneHit) -> tuple[float, float, float, str]:
    """Most significant first: q, then p, then the largest effect; genes without p last."""
    q = hit.q_value if hit.q_value is not None and not math.isnan(hit.q_value) else math.inf
    p = hit.p_value if hit.p_value is not None and not math.isnan(hit.p_value) else math.inf
    return (q, p, -abs(hit.coefficient), hit.gene)


def sorted_genes(result: AnalysisResult) -> list[GeneHit]:
    return sorted(result.significant_genes, key=gene_sort_key)


def result_page(
    job_id: str,
    result: AnalysisResult,
    top_k: int,
    offset: int,
    scrub: Scrubber,
    explanation: Explanation | None = None,
) -> ResultPage:
    genes = sorted_genes(result)
    page = genes[offset : offset + top_k]
    end = offset + len(page)
    cohorts = [
        c.model_copy(update={"note": scrub(c.note) or "", "error": scrub(c.error)}) for c in result.cohorts
    ]
    return ResultPage(
        job_id=job_id,
        status=result.status,
        partial=result.status != "complete",
        method=result.method,
        trait=result.trait,
        condition=result.condition,
        selected_cohorts=result.selected_cohorts,
        cohorts=cohorts,
        total_genes=len(genes),
        offset=offset,
        next_offset=end if end < len(genes) else None,
        genes=page,
        message=scrub(result.message) or "",
        sandbox=result.sandbox,
        resources=resource_uris(job_id) if result.significant_genes else resource_uris(job_id)[:1],
        discovered=[c.model_copy(update={"error": scrub(c.error)}) for c in candidates(result.discovery)],
        explanation=explanation,
    )


SANDBOX_WORDS = {
    "docker": "the Docker sandbox",
    "local": "the server's machine WITHOUT isolation (--sandbox local)",
    "none": "no sandbox (the reference engine runs the toolkit in-process)",
}


def _fmt(value: float | None) -> str:
    return "NA" if value is None or math.isnan(value) else f"{value:.3g}"


STATUS_WORDS = {
    "complete": "complete",
    "partial": "PARTIAL: some cohorts failed (see cohorts); the answer uses the others",
    "insufficient_data": "insufficient data: no usable cohort answered the question",
    "preprocessed": "preprocessing only (no statistics were asked for)",
    "failed": "failed",
}
BATCH_STATUS_WORDS = {
    "complete": "complete: every question answered or known to lack data",
    "partial": "PARTIAL: some tasks failed (their reasons below); the other questions stand",
    "failed": "failed: no question has an answer",
}


def result_text(page: ResultPage) -> str:
    """The page as a model reads it: the question, the model, genes with meaning, cohorts, caveats."""
    if page.batch is not None:
        more = page.batch["next_offset"]
        tail = [f"More: get_result(job_id='{page.job_id}', offset={more})."] if more is not None else []
        head = f"Result of {page.job_id}: {BATCH_STATUS_WORDS.get(page.status, page.status)}."
        return "\n".join([head, *batch_lines(page.batch), *tail])
    ex = page.explanation
    lines = [
        f"Result of {page.job_id}: {STATUS_WORDS.get(page.status, page.status)}; "
        f"code ran in: {SANDBOX_WORDS.get(page.sandbox, page.sandbox)}."
    ]
    if ex is not None:
        lines.append(f"Question: {ex.question}")
        if ex.condition_use:
            lines.append(f"Condition: {ex.condition_use}.")
        if ex.design:
            lines.append(f"Design: {ex.design}.")
        if ex.threshold or ex.covariates or page.total_genes:
            covariates = ", ".join(ex.covariates) if ex.covariates else "none"
            lines.append(
                f"Method: {ex.method}. Covariates: {covariates}. Threshold: {ex.threshold or 'n/a'}."
            )
        else:
            lines.append(f"Method: {ex.method}.")
        if ex.effect_unit:
            lines.append(f"Effect: {ex.effect_unit}; positive = {ex.positive_effect}.")
    lines.append(f"Significant genes: {page.total_genes}.")
    if page.genes and ex is not None and ex.top_genes:
        shown = "; ".join(
            f"{g.gene} effect {_fmt(g.effect)}, q {_fmt(g.q_value)}: {g.direction}" for g in ex.top_genes
        )
        lines.append(f"Genes {page.offset + 1}-{page.offset + len(page.genes)}: {shown}.")
    elif page.genes:
        shown = ", ".join(f"{g.gene} (effect {_fmt(g.coefficient)}, q {_fmt(g.q_value)})" for g in page.genes)
        lines.append(f"Genes {page.offset + 1}-{page.offset + len(page.genes)}: {shown}.")
    if page.next_offset is not None:
        lines.append(f"More: get_result(job_id='{page.job_id}', offset={page.next_offset}).")
    if ex is not None:
        lines.append("Cohorts:")
        lines += [
            f"- {c.cohort} ({c.trait}, n={c.samples if c.samples is not None else 'unknown'}): {c.why}"
            for c in ex.cohorts
        ]
        if page.discovered:
            lines.append("Cohorts found by search:")
            lines += candidate_lines(page.discovered)
        if ex.caveats:
            lines.append("Caveats: " + "; ".join(ex.caveats) + ".")
        if ex.sources:
            lines.append("Sources: " + ", ".join(f"{s.id} {s.url}" for s in ex.sources) + ".")
        if ex.next_calls:
            lines.append("Next: " + "; ".join(ex.next_calls) + ".")
    elif page.message:
        lines.append(f"Note: {page.message}")
    return "\n".join(lines)


def tool_result(model: BaseModel, text: str) -> CallToolResult:
    """The compact text for the model plus the structured content for programs."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=model.model_dump(mode="json")
    )
