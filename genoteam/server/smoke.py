"""`genoteam smoke`: the server checked end to end through a real MCP client, offline.

Why a separate process over stdio: that is how Claude Desktop, Biomni and CI start the server,
so the check covers the console script, argument parsing, the transport, the worker processes
and the engine, not only the Python functions. Every step prints ok/FAIL; any FAIL exits 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import anyio

from genoteam.toolkit.errors import GenoteamError

EXPECTED_TOOLS = {
    "analyze_trait",
    "analyze_batch",
    "preprocess_cohort",
    "find_significant_genes",
    "get_job",
    "list_jobs",
    "cancel_job",
    "get_result",
    "list_traits",
    "list_cohorts",
}


class Checks:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def server_parameters(
    input_dir: Path, workspace: Path, engine: str | None, extra_env: dict[str, str] | None = None
):
    from mcp import StdioServerParameters

    env = {
        k: v for k, v in os.environ.items() if k.startswith(("GENOTEAM_", "PATH", "HOME", "PYTHON", "DOCKER"))
    }
    env.update({"GENOTEAM_INPUT": str(input_dir), "GENOTEAM_WORKSPACE": str(workspace)})
    if engine:
        env["GENOTEAM_ENGINE"] = engine
    env.update(extra_env or {})
    return StdioServerParameters(command=sys.executable, args=["-m", "genoteam", "serve"], env=env)


async def _run(
    input_dir: Path, trait: str | None, workspace: Path, timeout_s: float, engine: str | None
) -> Checks:
    from mcp import Client

    checks = Checks()
    async with Client(server_parameters(input_dir, workspace, engine), read_timeout_seconds=120) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        checks.check(EXPECTED_TOOLS <= tools, "tools listed", f"{len(tools)} tools")
        listed = await client.call_tool("list_traits", {"limit": 200})
        traits = [t["trait"] for t in (listed.structured_content or {}).get("traits", [])]
        if not checks.check(not listed.is_error and bool(traits), "list_traits", f"{len(traits)} traits"):
            return checks
        if trait is None:
            trait = "Bile_Duct_Cancer" if "Bile_Duct_Cancer" in traits else None
            for candidate in (listed.structured_content or {}).get("traits", []):
                if trait is None and candidate["cohorts_with_expression"] > 0:
                    trait = candidate["trait"]
        if not checks.check(trait is not None, "a trait with expression data", str(trait)):
            return checks
        cohorts = await client.call_tool("list_cohorts", {"trait": trait})
        checks.check(not cohorts.is_error, "list_cohorts", cohorts.content[0].text[:120])

        started = time.monotonic()
        call = await client.call_tool("analyze_trait", {"trait": trait, "wait_seconds": 20})
        if not checks.check(
            not call.is_error, "analyze_trait accepted", call.content[0].text.splitlines()[0]
        ):
            return checks
        job_id = call.structured_content["job_id"]
        state = call.structured_content["state"]
        while state in {"queued", "running"} and time.monotonic() - started < timeout_s:
            polled = await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 20})
            state = polled.structured_content["state"]
        job = (await client.call_tool("get_job", {"job_id": job_id})).structured_content
        checks.check(
            state == "complete",
            "job finished",
            f"{state} after {time.monotonic() - started:.0f}s"
            + (f" ({job.get('error')})" if job.get("error") else ""),
        )
        if state != "complete":
            return checks
        result = await client.call_tool("get_result", {"job_id": job_id, "top_k": 10})
        page = result.structured_content or {}
        checks.check(
            not result.is_error and page.get("status") in {"complete", "partial"},
            "result",
            f"status {page.get('status')}, {page.get('total_genes')} genes, cohorts {page.get('selected_cohorts')}, "
            f"code ran in sandbox {page.get('sandbox')}",
        )
        for kind in ("report", "genes.csv"):
            read = await client.read_resource(f"genoteam://jobs/{job_id}/{kind}")
            text = read.contents[0].text if read.contents else ""
            checks.check(bool(text), f"resource {kind}", f"{len(text)} characters")
        again = await client.call_tool("analyze_trait", {"trait": trait, "wait_seconds": 0})
        checks.check(
            again.structured_content.get("job_id") == job_id
            and not again.structured_content.get("started_now"),
            "same request returns the same job",
        )
    return checks


def smoke(
    input_dir: Path | None, trait: str | None, workspace: Path | None, timeout_s: float, engine: str | None
) -> int:
    if input_dir is None or not input_dir.is_dir():
        raise GenoteamError(
            f"the smoke test needs an input folder ({input_dir or 'none given'})",
            "pass --input DIR (a GenoTEX-layout folder with GEO/ and TCGA/) or set GENOTEAM_INPUT",
        )
    with tempfile.TemporaryDirectory(prefix="genoteam-smoke-") as scratch:
        checks = anyio.run(_run, input_dir, trait, workspace or Path(scratch), timeout_s, engine)
    if checks.failures:
        print(f"smoke: {len(checks.failures)} check(s) failed: {', '.join(checks.failures)}", file=sys.stderr)
        return 1
    print("smoke: all checks passed")
    return 0
