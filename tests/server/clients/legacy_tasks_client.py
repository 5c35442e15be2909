"""Run in the mcp 1.x virtual environment: call analyze_trait as a 2025-11-25 task, print JSON.

usage: python legacy_tasks_client.py PYTHON TRAIT   (PYTHON: the interpreter that has genoteam)
Uses the 1.x SDK's own experimental task client (session.experimental): call_tool_as_task,
poll_task (tasks/get until terminal), get_task_result (tasks/result), list_tasks, cancel_task.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError
from mcp.types import CallToolResult


async def main(python: str, trait: str) -> dict:
    params = StdioServerParameters(command=python, args=["-m", "genoteam", "serve"], env=dict(os.environ))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        created = await session.experimental.call_tool_as_task("analyze_trait", {"trait": trait})
        task_id = created.task.taskId
        statuses = []
        async for status in session.experimental.poll_task(task_id):
            statuses.append(status.status)
        result = await session.experimental.get_task_result(task_id, CallToolResult)
        listed = await session.experimental.list_tasks()
        try:
            await session.experimental.call_tool_as_task("analyze_trait", {"trait": "No such trait"})
            bad = "accepted"
        except McpError as error:
            bad = error.error.message
        return {
            "protocol": init.protocolVersion,
            "tasks_capability": init.capabilities.tasks.model_dump(mode="json")
            if init.capabilities.tasks
            else None,
            "task_support": tools["analyze_trait"].execution.taskSupport
            if tools["analyze_trait"].execution
            else None,
            "created_status": created.task.status,
            "task_id": task_id,
            "statuses": statuses,
            "result_text": result.content[0].text,
            "result_types": [c.type for c in result.content],
            "structured": result.structuredContent,
            "related": (result.meta or {}).get("io.modelcontextprotocol/related-task"),
            "listed": [t.taskId for t in listed.tasks],
            "bad": bad,
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
