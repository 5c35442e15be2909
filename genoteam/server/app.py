"""The MCP surface: tools, resources and prompts on the official SDK's `MCPServer`.

Why this shape: flat, constrained parameters (params.py) so clients and models see exactly what
is allowed; explicit annotations so clients can tell reading tools from ones that start or stop
work; every tool returns a compact text plus structured content checked against its output
schema. Long work never blocks past a bounded wait: the tool returns the job and the client polls.
(No `from __future__ import annotations` here: the SDK reads the tool signatures at runtime.)
"""

import base64
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

import anyio
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp_types import CallToolResult, ImageContent, TextContent, ToolAnnotations, ToolExecution
from pydantic import ValidationError

from genoteam import __version__
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
    Questions,
    StateFilter,
    TaskFile,
    TopK,
    Trait,
    WaitSeconds,
    describe_invalid,
)
from genoteam.server.schema import lean, shallow
from genoteam.server.scrub import Scrubber
from genoteam.server.service import Service
from genoteam.server.tasks import JobTasks, TasksExtension, legacy_task_middleware
from genoteam.server.views import (
    CancelView,
    CohortList,
    JobList,
    JobView,
    ResultPage,
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
JOB_TOOLS = ("analyze_trait", "preprocess_cohort", "find_significant_genes", "analyze_batch")
# `--tools analysis`: what a model needs to answer a question, nothing for managing the workspace
ANALYSIS_TOOLS = frozenset({"list_traits", "list_cohorts", "analyze_trait", "get_job", "get_result"})
# title, then when to use the tool and what to call next (clients show the title; models read both)
CATALOGUE: dict[str, tuple[str, str]] = {
    "list_traits": (
        "List traits",
        "Use first, to find the trait names the data offers (query filters by substring). "
        "Next: list_cohorts or analyze_trait.",
    ),
    "list_cohorts": (
        "List a trait's cohorts",
        "Use to see which GEO series and TCGA cohort a trait has, before restricting an analysis to "
        "some; discover=true also searches GEO and TCGA (each found cohort with a decision and "
        "reasons). Next: analyze_trait.",
    ),
    "analyze_trait": (
        "Find genes associated with a trait",
        "Use to answer 'which genes are associated with this trait (given a condition)'. Runs the "
        "analysis as a job (one job per request), waiting up to wait_seconds. "
        "Next: get_job until complete, then get_result.",
    ),
    "preprocess_cohort": (
        "Preprocess one cohort",
        "Use to prepare one cohort without statistics (e.g. to inspect it first). "
        "Next: get_job, then find_significant_genes.",
    ),
    "find_significant_genes": (
        "Run the statistics only",
        "Use after preprocess_cohort, to test genes on cohorts already preprocessed in this "
        "workspace. Next: get_job, then get_result.",
    ),
    "analyze_batch": (
        "Answer many questions",
        "Use for many questions: a GenoTEX task file or TRAIT[:CONDITION] items, as one job with "
        "progress per cohort. Next: get_job, then get_result (a row per question).",
    ),
    "get_job": (
        "Job state",
        "Use to follow a job a job tool returned (wait_seconds waits for it). "
        "Next: get_result when complete.",
    ),
    "list_jobs": ("List jobs", "Use to find earlier jobs of this workspace, newest first. Next: get_result."),
    "cancel_job": (
        "Cancel a job",
        "Use to stop a running job: its worker and sandbox containers. Next: submit it again to restart.",
    ),
    "get_result": (
        "Read a result",
        "Use when a job is complete: the question as understood, method, top genes with effects "
        "and q-values, cohorts used and why others not, caveats, sources. "
        "Next: offset for more, or the genes.csv resource.",
    ),
}

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


class GenoteamServer(MCPServer):
    """The SDK's server with genoteam's boundary: one scrubber over every tool result, error and
    resource; plain-words argument errors; task support declared on the job tools."""

    def __init__(self, scrub: Scrubber, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scrub = scrub

    async def list_tools(self):  # type: ignore[override]
        tools = await super().list_tools()
        for tool in tools:
            tool.input_schema = lean(tool.input_schema)
            tool.output_schema = shallow(tool.output_schema) if tool.output_schema else None
            if tool.name in JOB_TOOLS:
                tool.execution = ToolExecution(task_support="optional")
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as error:
            cause = error.__cause__
            tool = self._tool_manager.get_tool(name)
            if isinstance(cause, ValidationError) and tool is not None:
                raise ToolError(describe_invalid(cause, tool.parameters)) from None
            text = str(error).removeprefix(f"Error executing tool {name}: ")
            raise ToolError(self.scrub(text) or "") from None
        return scrub_result(self.scrub, result)

    async def read_resource(self, uri: Any, context: Any = None) -> Any:
        try:
            contents = await super().read_resource(uri, context)
        except ResourceError as error:
            raise type(error)(self.scrub(str(error)) or "") from None
        if isinstance(contents, Iterable):
            return [
                ReadResourceContents(self.scrub(c.content) or "", c.mime_type, c.meta)
                if isinstance(c.content, str)
                else c
                for c in contents
            ]
        return contents


def scrub_result(scrub: Scrubber, result: Any) -> Any:
    """A tool result with its texts and structured content scrubbed (image data left as it is)."""
    if isinstance(result, CallToolResult):
        for block in result.content:
            if isinstance(block, TextContent):
                block.text = scrub(block.text) or ""
        result.structured_content = scrub.data(result.structured_content)
    return result


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


def resource_errors(scrub: Scrubber) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
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
    exposed = ANALYSIS_TOOLS if config.tools == "analysis" else frozenset(CATALOGUE)
    job_tools = frozenset(JOB_TOOLS) & exposed

    def reply(view: JobView) -> CallToolResult:
        submitted = SubmitView(**view.model_dump(), started_now=False)
        return scrub_result(service.scrub, job_reply(service, submitted))

    tasks = JobTasks(service, reply)
    server = GenoteamServer(
        service.scrub,
        name="genoteam",
        title="genoteam gene-expression analysis",
        version=__version__,
        instructions=INSTRUCTIONS,
        extensions=[TasksExtension(tasks, job_tools)],
        middleware=[legacy_task_middleware(tasks, job_tools)],
    )
    default_wait = config.default_wait_s
    tool_errors, read_errors = user_errors(service.scrub), resource_errors(service.scrub)

    def tool(name: str, annotations: ToolAnnotations) -> Callable[[Any], Any]:
        """Register a tool under its catalogue title and description, when exposed."""
        if name not in exposed:
            return lambda fn: fn
        title, description = CATALOGUE[name]
        return server.tool(name=name, title=title, description=description, annotations=annotations)

    # ---- discovery ---------------------------------------------------------------------------
    @tool("list_traits", READ_ONLY)
    @tool_errors
    async def list_traits(
        query: Query = "", limit: Limit = 50, offset: Offset = 0
    ) -> Annotated[CallToolResult, TraitList]:
        page = service.list_traits(query, limit, offset)
        names = ", ".join(f"{t.trait} ({t.geo_cohorts} GEO, {t.tcga_cohorts} TCGA)" for t in page.traits)
        more = f" More: offset={page.next_offset}." if page.next_offset is not None else ""
        return tool_result(page, f"{plural(page.total, 'trait')}. {names}.{more}")

    @tool("list_cohorts", SEARCHES)
    @tool_errors
    async def list_cohorts(trait: Trait, discover: Discover = False) -> Annotated[CallToolResult, CohortList]:
        found = await anyio.to_thread.run_sync(service.list_cohorts, trait, discover)
        lines = [
            f"{c.cohort} ({c.source}, expression {'yes' if c.has_expression else 'no'})"
            for c in found.cohorts
        ]
        read = f" ({found.understood})" if found.understood else ""
        text = f"{found.trait}{read}: {plural(len(lines), 'cohort')} in the input folder" + (
            ": " + "; ".join(lines) if lines else ""
        )
        text += "".join(f"\nNot read: {note}" for note in found.unsupported)
        if discover:
            text += f"\nSearched GEO ({found.query}) and TCGA:\n" + "\n".join(
                candidate_lines(found.discovered)
            )
        return tool_result(found, text + f"\nNext: analyze_trait(trait='{found.trait}').")

    # ---- jobs ----------------------------------------------------------------------------------
    async def submit(
        kind: str,
        trait: str,
        condition: str | None,
        cohorts: list[str] | None,
        method: str,
        wait_seconds: float,
        ctx: Context | None,
        discover: bool = False,
        force: bool = False,
    ) -> CallToolResult:
        request, understood = service.request(trait, condition, cohorts, method, discover)
        report = progress_reporter(ctx) if ctx is not None else None
        view = await service.submit(kind, request, wait_seconds, report, understood, force=force)  # type: ignore[arg-type]
        return job_reply(service, view)

    @tool("analyze_trait", STARTS_JOB)
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
        return await submit("analyze", trait, condition, cohorts, method, wait_seconds, ctx, discover, force)

    @tool("preprocess_cohort", STARTS_JOB)
    @tool_errors
    async def preprocess_cohort(
        trait: Trait,
        cohort: CohortId,
        ctx: Context,
        wait_seconds: WaitSeconds = default_wait,
        force: Force = False,
    ) -> Annotated[CallToolResult, SubmitView]:
        return await submit(
            "preprocess", trait, None, [cohort], "moderated-t", wait_seconds, ctx, force=force
        )

    @tool("find_significant_genes", STARTS_JOB)
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
        return await submit("statistics", trait, condition, cohorts, method, wait_seconds, ctx, force=force)

    @tool("analyze_batch", STARTS_JOB)
    @tool_errors
    async def analyze_batch(
        ctx: Context,
        task_file: TaskFile = "",
        questions: Questions = None,
        method: Method = "moderated-t",
        wait_seconds: WaitSeconds = default_wait,
        force: Force = False,
    ) -> Annotated[CallToolResult, SubmitView]:
        report = progress_reporter(ctx) if ctx is not None else None
        view = await service.submit_batch(task_file or None, questions, method, wait_seconds, report, force)
        return job_reply(service, view)

    @tool("get_job", READ_ONLY)
    @tool_errors
    async def get_job(
        job_id: JobId, ctx: Context, wait_seconds: WaitSeconds = 0
    ) -> Annotated[CallToolResult, JobView]:
        view = await service.wait(job_id, wait_seconds, progress_reporter(ctx))
        return tool_result(view, job_text(view))

    @tool("list_jobs", READ_ONLY)
    @tool_errors
    async def list_jobs(
        state: StateFilter = None, limit: Limit = 20, offset: Offset = 0
    ) -> Annotated[CallToolResult, JobList]:
        jobs = service.list_jobs(state, limit, offset)
        lines = [f"{j.job_id} {j.kind} {j.trait}: {j.state}" for j in jobs.jobs]
        return tool_result(jobs, f"{jobs.total} jobs." + ("\n" + "\n".join(lines) if lines else ""))

    @tool("cancel_job", STOPS_JOB)
    @tool_errors
    async def cancel_job(job_id: JobId) -> Annotated[CallToolResult, CancelView]:
        outcome = await anyio.to_thread.run_sync(service.cancel, job_id)
        return tool_result(outcome, f"{job_text(outcome.job)}\n{outcome.note}")

    @tool("get_result", READ_ONLY)
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
        "genoteam://jobs/{job_id}/genes.csv{?top,offset,max_q,min_abs_effect}",
        mime_type="text/csv",
        description="Significant genes, most significant first; ?top=N&offset=K pages, "
        "?max_q=0.01 and ?min_abs_effect=1 filter",
    )
    @read_errors
    def job_genes(
        job_id: str, top: str = "", offset: str = "", max_q: str = "", min_abs_effect: str = ""
    ) -> str:
        return service.genes_csv(
            job_id,
            query_number(top, "top", int, 1),
            query_number(offset, "offset", int, 0) or 0,
            query_number(max_q, "max_q", float, 0),
            query_number(min_abs_effect, "min_abs_effect", float, 0),
        )

    @server.resource(
        "genoteam://jobs/{job_id}/volcano.png", mime_type="image/png", description="Volcano plot"
    )
    @read_errors
    def job_volcano(job_id: str) -> bytes:
        return service.volcano(job_id)

    @server.resource(
        "genoteam://jobs/{job_id}/provenance/summary",
        mime_type="application/json",
        description="How a job's answer was made, in a few kB (sizes of the long parts)",
    )
    @read_errors
    def job_provenance_summary(job_id: str) -> str:
        return service.provenance_summary(job_id)

    @server.resource(
        "genoteam://jobs/{job_id}/provenance{?page}",
        mime_type="application/json",
        description="A job's full provenance, in pages of 60,000 characters (?page=N)",
    )
    @read_errors
    def job_provenance(job_id: str, page: str = "") -> str:
        return service.provenance(job_id, query_number(page, "page", int, 1) or 1)

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


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def query_number(text: str, name: str, kind: type, minimum: float) -> Any:
    """A resource query value (?top=50), or None when absent; a bad one is a clear error."""
    if text == "":
        return None
    try:
        value = kind(text)
    except ValueError:
        raise GenoteamError(
            f"?{name}={text!r} is not a number", f"pass e.g. ?{name}={minimum or 1}"
        ) from None
    if value < minimum:
        raise GenoteamError(f"?{name}={text} is below {minimum}", f"pass ?{name} of {minimum} or more")
    return value


def job_reply(service: Service, view: SubmitView) -> CallToolResult:
    """What a job tool returns: the job, and when complete its result and volcano plot."""
    if view.state != "complete":
        return tool_result(view, job_text(view))
    page = service.result(view.job_id, 10, 0)
    view = view.model_copy(update={"result": page.model_dump(mode="json")})
    reply = tool_result(view, job_text(view) + "\n" + result_text(page))
    try:
        png = service.volcano(view.job_id)
    except GenoteamError:
        return reply
    reply.content.append(ImageContent(data=base64.b64encode(png).decode(), mime_type="image/png"))
    return reply


__all__ = ["build_server", "DEFAULT_WAIT_S"]
