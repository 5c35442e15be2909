"""Test clients that call job tools as MCP tasks, in both protocol shapes.

- `TasksClientExtension`: the mcp 2.x SDK's ClientExtension for io.modelcontextprotocol/tasks
  (SEP-2663): it declares the extension, claims `resultType: "task"` results of tools/call and
  resolves them by polling tasks/get until the task carries its result.
- The 2025-11-25 shape is driven by the mcp 1.x SDK's own experimental task client
  (tests/server/clients/legacy_tasks_client.py, run in its virtual environment).
"""

from __future__ import annotations

from typing import Any, Literal

import anyio
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp_types import CallToolResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field

EXTENSION = "io.modelcontextprotocol/tasks"
TERMINAL = {"completed", "failed", "cancelled"}


class TaskHandle(Result):
    """CreateTaskResult of the extension: a Task with resultType "task"."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    status_message: str | None = Field(None, alias="statusMessage")
    poll_interval_ms: int | None = Field(None, alias="pollIntervalMs")


class DetailedTask(Result):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    task_id: str = Field(alias="taskId")
    status: str
    status_message: str | None = Field(None, alias="statusMessage")
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class TaskIdParams(RequestParams):
    task_id: str = Field(alias="taskId")


class GetTask(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams


class TasksClientExtension(ClientExtension):
    """Declares the tasks extension and resolves task handles by polling; records what it saw."""

    identifier = EXTENSION

    def __init__(self, max_wait_s: float = 300) -> None:
        self.max_wait_s = max_wait_s
        self.handles: list[TaskHandle] = []
        self.polls: list[DetailedTask] = []

    def claims(self) -> list[ResultClaim[TaskHandle]]:
        return [ResultClaim(result_type="task", model=TaskHandle, resolve=self.resolve)]

    async def resolve(self, handle: TaskHandle, ctx: ClaimContext) -> CallToolResult:
        self.handles.append(handle)
        with anyio.fail_after(self.max_wait_s):
            while True:
                polled = await ctx.session.send_request(
                    GetTask(params=TaskIdParams(taskId=handle.task_id)), DetailedTask
                )
                self.polls.append(polled)
                if polled.status in TERMINAL:
                    break
                await anyio.sleep(min(handle.poll_interval_ms or 1000, 1000) / 1000)
        if polled.result is None:
            raise RuntimeError(
                f"task {handle.task_id} ended {polled.status} without a result: {polled.error}"
            )
        return CallToolResult.model_validate(polled.result, by_name=False)
