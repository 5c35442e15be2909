"""The tool catalogue a model reads on every request: titled, says when to use each tool, budgeted.

Budget: the whole tools/list answer (names, titles, descriptions, input and output schemas, as
the mcp 2.x client receives it) stays under 16,000 bytes, about 4,000 tokens. Why that number:
clients send the list with every model request, so it is paid on each turn; 4k tokens is ~2% of a
200k-token context, the size BioMCP-style servers budget for a handful of tools, and it leaves
~2% headroom over today's list (~15.7 kB with analyze_batch, after the output schemas lost their
descriptions) so growth is a decision, not an accident. The analysis-only set (`--tools analysis`,
five tools) is budgeted at 9,500 bytes (today ~8.2 kB).
"""

from __future__ import annotations

import json

import anyio
from mcp import Client

from genoteam.server.app import ANALYSIS_TOOLS, CATALOGUE, JOB_TOOLS, build_server
from genoteam.server.config import ServerConfig

BUDGET = 16_000
ANALYSIS_BUDGET = 9_500


def listed(config: ServerConfig, mode: str = "auto"):
    async def main():
        async with Client(build_server(config), mode=mode) as client:
            return (await client.list_tools()).tools

    return anyio.run(main)


def size(tools) -> int:
    return len(json.dumps([t.model_dump(mode="json", exclude_none=True) for t in tools]))


def test_catalogue_is_titled_says_when_to_use_and_fits_its_budget(step_config):
    tools = listed(step_config)
    assert {t.name for t in tools} == set(CATALOGUE)
    for tool in tools:
        assert tool.title == CATALOGUE[tool.name][0] and tool.description.startswith("Use ")
        assert "Next:" in tool.description, tool.name
        schemas = json.dumps([tool.input_schema, tool.output_schema])
        assert '"title"' not in schemas and '"default": null' not in schemas, tool.name
        assert "$defs" not in json.dumps(tool.output_schema), tool.name
    total = size(tools)
    assert total < BUDGET, f"the tool list is {total} bytes, over its budget of {BUDGET}"


def test_job_tools_declare_task_support_on_the_2025_protocol(step_config):
    for tool in listed(step_config, mode="legacy"):  # `execution` exists only in 2025-11-25
        supported = tool.execution is not None and tool.execution.task_support == "optional"
        assert supported == (tool.name in JOB_TOOLS), tool.name


def test_tools_analysis_exposes_only_the_analysis_tools(step_config):
    step_config.tools = "analysis"
    tools = listed(step_config)
    assert {t.name for t in tools} == set(ANALYSIS_TOOLS)
    assert size(tools) < ANALYSIS_BUDGET
