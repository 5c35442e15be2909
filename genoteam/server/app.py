"""The MCP surface: tools, resources and prompts on the official SDK's `MCPServer`.

Why this shape: flat, constrained parameters (params.py) so clients and models see exactly what
is allowed; explicit annotations so clients can tell reading tools from ones that start or stop
work; every tool returns a compact text plus structured content checked against its output
schema. Long work never blocks past a bounded wait: the tool returns the job and the client polls.
(No `from __future__ import annotations` here: the SDK reads the tool signatures at runtime.)
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp_types import CallToolResult, ToolAnnotations

from genoteam import __version__
from genoteam.pipeline.api import AnalysisRequest
from genoteam.server.config import ServerConfig
from genoteam.server.params import (
    DEFAULT_WAIT_S,
    CohortId,
    Cohorts,
    Condition,
    Discover,
    Force,
    JobId,
    Limit,
    Method,
    Offset,
    Query,
    StateFilter,
    TopK,
    Trait,
    WaitSeconds,
)
from genoteam.server.service import Service
from genoteam.server.views import (
    CancelView,
    CohortList,
    JobList,
    JobView,
    ResultPage,
    Scrubber,
    SubmitView,
    TraitList,
    candidate_lines,
    job_text,
    result_text,
    tool_result,
)
from genoteam.toolkit.errors import GenoteamError

INSTRUCTIONS = (
    "genoteam finds genes associated with a trait in GEO and TCGA gene-expression cohorts. "
    "Start with list_traits/list_cohorts, then analyze_trait. Jobs take minutes: a call waits "
    "up to wait_seconds and returns the job; poll get_job, then read get_result."
)

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
# Starting a job writes to the workspace (not read-only) and may download GEO series (open world);
# the same request returns the same job (idempotent); nothing existing is destroyed.
STARTS_JOB = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
# list_cohorts reads the input folder, and with discover=true also searches NCBI and Xena (open world)
SEARCHES = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
STOPS_JOB = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


def _say(error: GenoteamError, scrub: Scrubber) -> str:
    text = f"{error.problem}. What to do: {error.hint}" if error.hint else error.problem
    return scrub(text) or ""


def user_errors(scrub: Scrubber) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Turn a GenoteamError into a ToolError, whose text (problem and what to do) reaches the client."""

    def decorate(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except GenoteamError as error:
                raise ToolError(_say(error, scrub)) from None

        return wrapper

    return decorate


def resource_errors(scrub: Scrubber) -> Callable[[Callable[..., str]], Callable[..., str]]:
    def decorate(fn: Callable[..., str]) -> Callable[..., str]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> str:
            try:
                return fn(*args, **kwargs)
            except GenoteamError as error:
                raise ResourceError(_say(error, scrub)) from None

        return wrapper

    return decorate


def progress_reporter(ctx: Context) -> Callable[[float, str], Awaitable[None]]:
    async def report(fraction: float, message: str) -> None:
        await ctx.report_progress(round(fraction * 100, 1), 100, message)

    return report


def build_server(config: ServerConfig) -> MCPServer:
    """An MCPServer serving the jobs of `config.workspace` and the data of `config.input_dir`."""
    service = Service(config)
    server = MCPServer(
        "genoteam", title="genoteam gene-expression analysis", version=__version__, instructions=INSTRUCTIONS
    )
    default_wait = config.default_wait_s
    tool_errors, read_errors = user_errors(service.scrub), resource_errors(service.scrub)

    # ---- discovery ---------------------------------------------------------------------------
    @server.tool(annotations=READ_ONLY, description="List traits with cohorts in the input data.")
    @tool_errors
    async def list_traits(
        query: Query = "", limit: Limit = 50, offset: Offset = 0
    ) -> Annotated[CallToolResult, TraitList]:
        page = service.list_traits(query, limit, offset)
        names = ", ".join(f"{t.trait} ({t.geo_cohorts} GEO, {t.tcga_cohorts} TCGA)" for t in page.traits)
        more = f" More: offset={page.next_offset}." if page.next_offset is not None else ""
        return tool_result(page, f"{page.total} traits. {names}.{more}")

    @server.tool(
        annotations=SEARCHES,
        description="List a trait's GEO/TCGA cohorts and their files; with discover=true also search GEO and "
        "TCGA for cohorts not in the input folder, each with a decision and its reasons.",
    )
    @tool_errors
    async def list_cohorts(trait: Trait, discover: Discover = False) -> Annotated[CallToolResult, CohortList]:
        found = await anyio.to_thread.run_sync(service.list_cohorts, trait, discover)
        lines = [
            f"{c.cohort} ({c.source}, expression {'yes' if c.has_expression else 'no'})"
            for c in found.cohorts
        ]
        text = f"{trait}: {len(lines)} cohorts in the input folder" + (
            ": " + "; ".join(lines) if lines else ""
        )
        text += "".join(f"\nNot read: {note}" for note in found.unsupported)
        if discover:
            text += f"\nSearched GEO ({found.query}) and TCGA:\n" + "\n".join(
                candidate_lines(found.discovered)
            )
        return tool_result(found, text)

    # ---- jobs ----------------------------------------------------------------------------------
    async def submit(
        kind: str, request: AnalysisRequest, wait_seconds: float, ctx: Context, force: bool = False
    ) -> CallToolResult:
        view = await service.submit(kind, request, wait_seconds, progress_reporter(ctx), force=force)  # type: ignore[arg-type]
        if view.state == "complete":
            page = service.result(view.job_id, 10, 0)
            return tool_result(view, job_text(view) + "\n" + result_text(page))
        return tool_result(view, job_text(view))

    @server.tool(
        annotations=STARTS_JOB,
        description="Find genes associated with a trait (optionally given a condition) across its cohorts. "
        "Starts or reuses a job; waits up to wait_seconds.",
    )
    @tool_errors
    async def analyze_trait(
        trait: Trait,
        ctx: Context,
        condition: Condition = None,
        cohorts: Cohorts = None,
        method: Method = "moderated-t",
        discover: Discover = False,
        wait_seconds: WaitSeconds = default_wait,
        force: Force = False,
    ) -> Annotated[CallToolResult, SubmitView]:
        request = AnalysisRequest(
            trait=trait, condition=condition, cohorts=cohorts, method=method, discover=discover
        )
        return await submit("analyze", request, wait_seconds, ctx, force)

    @server.tool(annotations=STARTS_JOB, description="Preprocess one cohort for a trait (no statistics).")
    @tool_errors
    async def preprocess_cohort(
        trait: Trait,
        cohort: CohortId,
        ctx: Context,
        wait_seconds: WaitSeconds = default_wait,
        force: Force = False,
    ) -> Annotated[CallToolResult, SubmitView]:
        request = AnalysisRequest(trait=trait, cohorts=[cohort])
        return await submit("preprocess", request, wait_seconds, ctx, force)

    @server.tool(
        annotations=STARTS_JOB,
        description="Run the statistics only, on cohorts already preprocessed in this workspace.",
    )
    @tool_errors
    async def find_significant_genes(
        trait: Trait,
        ctx: Context,
        condition: Condition = None,
        cohorts: Cohorts = None,
        method: Method = "moderated-t",
        wait_seconds: WaitSeconds = default_wait,
        force: Force = False,
    ) -> Annotated[CallToolResult, SubmitView]:
        request = AnalysisRequest(trait=trait, condition=condition, cohorts=cohorts, method=method)
        return await submit("statistics", request, wait_seconds, ctx, force)

    @server.tool(annotations=READ_ONLY, description="A job's state and progress; optionally wait for it.")
    @tool_errors
    async def get_job(
        job_id: JobId, ctx: Context, wait_seconds: WaitSeconds = 0
    ) -> Annotated[CallToolResult, JobView]:
        view = await service.wait(job_id, wait_seconds, progress_reporter(ctx))
        return tool_result(view, job_text(view))

    @server.tool(annotations=READ_ONLY, description="List jobs in the workspace, newest first.")
    @tool_errors
    async def list_jobs(
        state: StateFilter = None, limit: Limit = 20, offset: Offset = 0
    ) -> Annotated[CallToolResult, JobList]:
        jobs = service.list_jobs(state, limit, offset)
        lines = [f"{j.job_id} {j.kind} {j.trait}: {j.state}" for j in jobs.jobs]
        return tool_result(jobs, f"{jobs.total} jobs." + ("\n" + "\n".join(lines) if lines else ""))

    @server.tool(annotations=STOPS_JOB, description="Stop a job: its worker and its sandbox containers.")
    @tool_errors
    async def cancel_job(job_id: JobId) -> Annotated[CallToolResult, CancelView]:
        outcome = await anyio.to_thread.run_sync(service.cancel, job_id)
        return tool_result(outcome, f"{job_text(outcome.job)}\n{outcome.note}")

    @server.tool(
        annotations=READ_ONLY, description="A finished job's result: cohorts and a page of top genes."
    )
    @tool_errors
    async def get_result(
        job_id: JobId, top_k: TopK = 20, offset: Offset = 0
    ) -> Annotated[CallToolResult, ResultPage]:
        page = service.result(job_id, top_k, offset)
        return tool_result(page, result_text(page))

    # ---- resources -------------------------------------------------------------------------------
    @server.resource(
        "genoteam://jobs/{job_id}/report", mime_type="text/markdown", description="A job's report"
    )
    @read_errors
    def job_report(job_id: str) -> str:
        return service.report(job_id)

    @server.resource(
        "genoteam://jobs/{job_id}/genes.csv", mime_type="text/csv", description="Significant genes"
    )
    @read_errors
    def job_genes(job_id: str) -> str:
        return service.genes_csv(job_id)

    @server.resource(
        "genoteam://jobs/{job_id}/provenance", mime_type="application/json", description="A job's provenance"
    )
    @read_errors
    def job_provenance(job_id: str) -> str:
        return service.provenance(job_id)

    @server.resource("genoteam://guidelines", mime_type="application/json", description="Guidelines in force")
    @read_errors
    def guidelines() -> str:
        return service.guidelines_index()

    @server.resource("genoteam://guidelines/{name}", mime_type="text/markdown", description="One guideline")
    @read_errors
    def guideline(name: str) -> str:
        return service.guideline(name)

    # ---- prompts -----------------------------------------------------------------------------------
    @server.prompt(description="Find and explain the genes associated with a trait.")
    def trait_genes(trait: str, condition: str = "") -> list[UserMessage]:
        given = f" given the condition {condition}" if condition else ""
        return [
            UserMessage(
                f"Find the genes associated with {trait}{given}. Call list_cohorts for {trait}, then "
                f"analyze_trait(trait='{trait}'" + (f", condition='{condition}'" if condition else "") + "). "
                "If the job is not complete, poll get_job with wait_seconds=20 until it is. Then call "
                "get_result and report the top genes with effect sizes and q-values, which cohorts were "
                "used and why others were not, and any partial results or failures."
            )
        ]

    @server.prompt(description="Summarise a finished job for a scientist.")
    def explain_job(job_id: str) -> list[UserMessage]:
        return [
            UserMessage(
                f"Read genoteam://jobs/{job_id}/report and get_result(job_id='{job_id}'). Summarise for a "
                "biologist: the question, the cohorts and their sample sizes, the method, the top genes, "
                "and the caveats (small cohorts, unusable or failed cohorts, partial results)."
            )
        ]

    server.genoteam_service = service  # type: ignore[attr-defined]  # for tests and the smoke check
    return server


__all__ = ["build_server", "DEFAULT_WAIT_S"]
