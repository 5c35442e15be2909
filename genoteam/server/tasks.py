"""MCP tasks for the job tools, in both protocol shapes; a task is a job.

Why tasks: some clients poll tasks natively instead of calling get_job; a job tool called as a
task returns at once with a handle the client polls, so no call outlives a client's timeout.
Why a task is a job (task id = job id): jobs already live on disk, idempotent and restartable,
so a task survives a restarted server (Biomni-style clients start one per call) and two
clients asking the same question share one task. The explicit job tools stay for clients that
support neither shape.

Two shapes, one store:
- 2025-11-25 experimental tasks utility: the client puts `task: {ttl}` in tools/call params;
  the server answers `{task: {...}}`; the client polls tasks/get, reads tasks/result (which
  waits until the job ends), may call tasks/cancel and tasks/list. The SDK's handler layer
  validates every 2025 tools/call result as a CallToolResult, so this shape is answered by a
  server middleware (the SDK's documented wire-level hook), which also adds the `tasks`
  capability to the initialize result.
- io.modelcontextprotocol/tasks extension (SEP-2663, 2026-07-28): the client declares the
  extension in the request's capabilities; the server answers `{resultType: "task", ...}`; the
  client polls tasks/get, whose answer carries the final result inline once completed; tasks/cancel
  stops the job. Served through the SDK's Extension interface (tools/call interceptor + methods).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import anyio
from mcp.server.extension import Extension, MethodBinding
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, RequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from genoteam.server.jobs import TERMINAL
from genoteam.server.params import JOB_ID_PATTERN
from genoteam.server.service import Service
from genoteam.server.views import JobView, job_view
from genoteam.toolkit.errors import GenoteamError

EXTENSION = "io.modelcontextprotocol/tasks"
POLL_MS = 2_000
RESULT_WAIT_S = 50.0  # one tasks/result wait: under the ~60 s many clients allow per request
LEGACY_CAPABILITY = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}

Reply = Callable[[JobView], Any]  # a job's tool reply (CallToolResult), scrubbed
STATUS = {
    "queued": "working",
    "running": "working",
    "complete": "completed",
    "failed": "failed",
    "interrupted": "failed",
    "cancelled": "cancelled",
}


class TaskParams(RequestParams):
    task_id: str = Field(alias="taskId", pattern=JOB_ID_PATTERN)


class ListParams(RequestParams):
    cursor: str | None = None


def _iso(stamp: str | None) -> str:
    """Job times are ISO 8601 already; keep them, or now when missing."""
    return stamp or datetime.now().astimezone().isoformat()


def task_fields(view: JobView, modern: bool) -> dict[str, Any]:
    """The Task object of a job in one protocol shape."""
    status = STATUS[view.state]
    if modern and status == "failed":
        status = "completed"  # 2026: `failed` is for JSON-RPC errors; a failed job is a tool result
    message = view.message if view.state in {"queued", "running"} else (view.error or view.next_step)
    task = {
        "taskId": view.job_id,
        "status": status,
        "statusMessage": f"{view.state}: {message}" if message else view.state,
        "createdAt": _iso(view.created_at),
        "lastUpdatedAt": _iso(view.updated_at),
    }
    if modern:
        return {**task, "ttlMs": None, "pollIntervalMs": POLL_MS}
    return {**task, "ttl": None, "pollInterval": POLL_MS}


def dump(result: Any) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


class JobTasks:
    """Task operations on the job store, for both shapes (`modern` picks the wire form)."""

    def __init__(self, service: Service, reply: Reply) -> None:
        self.service = service
        self.reply = reply

    def view(self, task_id: str) -> JobView:
        try:
            record = self.service.store.get(task_id)
        except GenoteamError as error:
            raise MCPError(code=INVALID_PARAMS, message=f"no task {task_id}: {error.problem}") from None
        return job_view(record, self.service.scrub)

    async def get(self, task_id: str, modern: bool) -> dict[str, Any]:
        view = await anyio.to_thread.run_sync(self.view, task_id)
        task = task_fields(view, modern)
        if modern and view.state in TERMINAL and view.state != "cancelled":
            task["result"] = dump(await anyio.to_thread.run_sync(self.reply, view))
        return task

    async def result(self, task_id: str) -> dict[str, Any]:
        """2025 tasks/result: the tool's result once the job ended (waits a bounded time)."""
        view = await self.service.wait(task_id, RESULT_WAIT_S, None)
        if view.state not in TERMINAL:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"task {task_id} is still {view.state} after {RESULT_WAIT_S:g} s; poll tasks/get",
            )
        reply = dump(await anyio.to_thread.run_sync(self.reply, view))
        meta = {**reply.get("_meta", {}), "io.modelcontextprotocol/related-task": {"taskId": task_id}}
        return {**reply, "_meta": meta}

    async def cancel(self, task_id: str, modern: bool) -> dict[str, Any]:
        view = await anyio.to_thread.run_sync(self.view, task_id)
        if view.state in TERMINAL:
            raise MCPError(code=INVALID_PARAMS, message=f"task {task_id} already ended ({view.state})")
        outcome = await anyio.to_thread.run_sync(self.service.cancel, task_id)
        return task_fields(outcome.job, modern)

    async def list(self) -> dict[str, Any]:
        jobs = await anyio.to_thread.run_sync(self.service.list_jobs, None, 200, 0)
        kinds = {"analyze", "preprocess", "statistics"}
        return {"tasks": [task_fields(j, False) for j in jobs.jobs if j.kind in kinds]}


def _started(result: Mapping[str, Any]) -> str | None:
    """The job id of a job tool's successful result, else None (an error stays a plain result)."""
    if result.get("isError"):
        return None
    job_id = (result.get("structuredContent") or {}).get("job_id")
    return job_id if isinstance(job_id, str) else None


def _start_now(params: dict[str, Any]) -> dict[str, Any]:
    """The call's params with no waiting (the task handle returns at once) and no `task` field."""
    arguments = {**(params.get("arguments") or {}), "wait_seconds": 0}
    return {k: v for k, v in params.items() if k != "task"} | {"arguments": arguments}


class TasksExtension(Extension):
    """The io.modelcontextprotocol/tasks extension (2026 shape) plus the task methods of both."""

    identifier = EXTENSION

    def __init__(self, tasks: JobTasks, job_tools: frozenset[str]) -> None:
        self.tasks = tasks
        self.job_tools = job_tools

    def methods(self) -> list[MethodBinding]:
        def modern(ctx: Any) -> bool:
            return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS

        async def get(ctx: Any, params: TaskParams) -> dict[str, Any]:
            task = await self.tasks.get(params.task_id, modern(ctx))
            return {"resultType": "complete", **task} if modern(ctx) else task

        async def cancel(ctx: Any, params: TaskParams) -> dict[str, Any]:
            return await self.tasks.cancel(params.task_id, modern(ctx))

        async def result(ctx: Any, params: TaskParams) -> dict[str, Any]:
            return await self.tasks.result(params.task_id)

        async def listed(ctx: Any, params: ListParams) -> dict[str, Any]:
            return await self.tasks.list()

        legacy = frozenset({"2025-11-25"})
        return [
            MethodBinding("tasks/get", TaskParams, get),
            MethodBinding("tasks/cancel", TaskParams, cancel),
            MethodBinding("tasks/result", TaskParams, result, protocol_versions=legacy),
            MethodBinding("tasks/list", ListParams, listed, protocol_versions=legacy),
        ]

    async def intercept_tool_call(self, params: Any, ctx: Any, call_next: Any) -> Any:
        declared = (ctx.session.client_capabilities and ctx.session.client_capabilities.extensions) or {}
        if (
            params.name not in self.job_tools
            or ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS
            or EXTENSION not in declared
        ):
            return await call_next(ctx)
        # the wrapped handler runs with these params: start the job without waiting
        params.arguments = _start_now(params.model_dump(by_alias=True))["arguments"]
        result = await call_next(ctx)
        wire = dump(result)
        job_id = _started(wire)
        if job_id is None:
            return result
        view = await anyio.to_thread.run_sync(self.tasks.view, job_id)
        if view.state == "complete":  # nothing to wait for: the result itself (the server decides)
            return await anyio.to_thread.run_sync(self.tasks.reply, view)
        return {"resultType": "task", **task_fields(view, modern=True)}


def legacy_task_middleware(
    tasks: JobTasks, job_tools: frozenset[str]
) -> Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]:
    """The 2025-11-25 shape: task-augmented tools/call and the `tasks` server capability."""

    async def middleware(ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or ctx.request_id is None:
            return await call_next(ctx)
        if ctx.method == "initialize":
            answer = dict(await call_next(ctx))
            answer["capabilities"] = {**answer.get("capabilities", {}), "tasks": LEGACY_CAPABILITY}
            return answer
        params = dict(ctx.params or {})
        if ctx.method != "tools/call" or "task" not in params or params.get("name") not in job_tools:
            return await call_next(ctx)
        answer = await call_next(replace(ctx, params=_start_now(params)))
        job_id = _started(answer)
        if job_id is None:  # refused before any task exists: a request error, as the 2025 spec says
            text = " ".join(c.get("text", "") for c in answer.get("content", []) if isinstance(c, dict))
            raise MCPError(code=INVALID_PARAMS, message=text or "the job could not be started")
        view = await anyio.to_thread.run_sync(tasks.view, job_id)
        return {"task": task_fields(view, modern=False)}

    return middleware


__all__ = ["EXTENSION", "JobTasks", "TasksExtension", "legacy_task_middleware"]
