"""Run in the mcp 1.x virtual environment: drive `genoteam serve` over stdio, print a JSON summary.

usage: python legacy_mcp1_client.py PYTHON TRAIT   (PYTHON: the interpreter that has genoteam)
The server's env (input, workspace, engine) comes from this process's environment.
"""

import asyncio
import json
import os
import sys

import mcp
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(python: str, trait: str) -> dict:
    params = StdioServerParameters(command=python, args=["-m", "genoteam", "serve"], env=dict(os.environ))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        started = await session.call_tool("analyze_trait", {"trait": trait, "wait_seconds": 2})
        job_id = started.structuredContent["job_id"]
        state = started.structuredContent["state"]
        for _ in range(20):
            if state not in ("queued", "running"):
                break
            polled = await session.call_tool("get_job", {"job_id": job_id, "wait_seconds": 20})
            state = polled.structuredContent["state"]
        result = await session.call_tool("get_result", {"job_id": job_id, "top_k": 3})
        bad = await session.call_tool("get_job", {"job_id": "../../etc/passwd"})
        templates = await session.list_resource_templates()
        genes = await session.read_resource(f"genoteam://jobs/{job_id}/genes.csv")
        return {
            "mcp_version": getattr(mcp, "__version__", None)
            or __import__("importlib.metadata").metadata.version("mcp"),
            "protocol": init.protocolVersion,
            "server": init.serverInfo.name,
            "tools": sorted(t.name for t in tools.tools),
            "state": state,
            "selected": result.structuredContent["selected_cohorts"],
            "genes": [g["gene"] for g in result.structuredContent["genes"]],
            "result_text": result.content[0].text,
            "bad_is_error": bad.isError,
            "bad_text": bad.content[0].text,
            "templates": sorted(t.uriTemplate for t in templates.resourceTemplates),
            "csv_lines": len(genes.contents[0].text.splitlines()),
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
