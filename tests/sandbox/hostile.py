"""Helpers of the hostile end-to-end tests: a stand-in model that writes hostile code for chosen
units (and competent code for the rest), a tiny synthetic TCGA cohort, and an MCP client on a
real server whose jobs run the agent team (model-first authoring) in Docker sandboxes."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import anyio
from mcp import Client

from genoteam.pipeline.api import AnalysisResult
from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig
from tests.standin_model import Reply, ScriptedRequest, competent_model, prompt_example, shipped_code

TRAIT = "Kidney_Clear_Cell_Carcinoma"
HIGH_UID = 1_879_000  # docker_backend.DEFAULT_SANDBOX_UID


def complete_result(trait: str) -> AnalysisResult:
    """A well-formed result claiming completion (what a killed worker may leave behind)."""
    return AnalysisResult(
        trait=trait,
        condition=None,
        status="complete",
        method="moderated-t",
        selected_cohorts=[],
        cohorts=[],
        significant_genes=[],
        output_dir="output",
    )


def hostile_model(attacks: dict[str, str]) -> Callable[[ScriptedRequest], Reply]:
    """A competent model, except that the first code it writes for each unit named in `attacks`
    is that attack with `{example}` replaced by the unit's example code (so the unit still does
    its job when the attack lets it)."""
    used: set[str] = set()

    def answer(request: ScriptedRequest) -> Reply:
        if (
            request.purpose in ("code", "domain_code")
            and request.unit in attacks
            and request.unit not in used
        ):
            used.add(request.unit)
            example = prompt_example(request) or shipped_code(request.task, request.unit) or ""
            return Reply("```python\n" + attacks[request.unit].replace("{example}", example) + "\n```\n")
        return competent_model(request)

    return answer


def team_config(folder: Path, api_base: str) -> Path:
    """Every role on the stand-in model; models write all code (no shipped snippet runs)."""
    path = folder / "team.toml"
    path.write_text(
        '[team]\nauthoring = "model-first"\n\n[models.default]\nmodel = "openai/standin"\n'
        f'api_base = "{api_base}"\ntimeout_s = 30\ninput_cost_per_token = 0\noutput_cost_per_token = 0\n'
    )
    return path


def run_calls(input_dir: Path, workspace: Path, calls: Callable[[Client], object]) -> object:
    """Run `calls(client)` against an in-memory MCP client of a real server (team engine)."""
    server = build_server(ServerConfig(input_dir=input_dir, workspace=workspace, engine="team"))

    async def main():
        async with Client(server, read_timeout_seconds=120) as client:
            return await calls(client)

    return anyio.run(main)


async def every_call_served(client: Client, job_id: str) -> dict[str, object]:
    """The read-only tools all answer (no 'Error executing tool') after whatever the job did."""
    answers = {}
    for tool, args in (
        ("list_jobs", {}),
        ("get_job", {"job_id": job_id}),
        ("list_traits", {}),
        ("list_cohorts", {"trait": TRAIT}),
    ):
        reply = await client.call_tool(tool, args)
        assert not reply.is_error, (tool, reply.content)
        answers[tool] = reply.structured_content
    return answers


def tree_report(root: Path) -> dict[str, list[str]]:
    """What is under `root`, by kind, without following links: links, FIFOs, setuid/setgid files,
    and files owned by the sandbox's uid."""
    found: dict[str, list[str]] = {"links": [], "fifos": [], "special_bits": [], "sandbox_owned": []}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                found["links"].append(rel)
            if stat.S_ISFIFO(info.st_mode):
                found["fifos"].append(rel)
            if info.st_mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISLNK(info.st_mode):
                found["special_bits"].append(rel)
            if info.st_uid == HIGH_UID:
                found["sandbox_owned"].append(rel)
    return found


def job_dir(workspace: Path, job_id: str) -> Path:
    return workspace / "jobs" / job_id


def provenance(workspace: Path, job_id: str) -> dict:
    return json.loads((job_dir(workspace, job_id) / "output" / "provenance.json").read_text())


def attempts(record: dict, unit: str) -> list[dict]:
    return [a for t in record["tasks"] for v in t["visits"] if v["unit"] == unit for a in v["attempts"]]
