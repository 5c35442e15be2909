"""Real third-party MCP clients against `genoteam serve` over stdio.

- the legacy `mcp` 1.x SDK (its own virtual environment, .venvs/mcp1)
- Biomni 0.0.8's A1.add_mcp on the README's YAML (.venvs/biomni; no LLM is called)
- the MCP Inspector CLI on Node 22 (.venvs/node22)
The clients come from scripts/setup.d/50-mcp-clients.sh; without them these tests skip (fail in CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from genoteam.server.app import CATALOGUE
from tests.server.mcp_server_procs import (
    ENGINES_DIR,
    PROJECT_ROOT,
    VENVS,
    need_tool,
    serve_argv,
    step_engine_env,
)

CLIENTS = Path(__file__).resolve().parent / "clients"
STEP_ENV = step_engine_env(
    GENOTEAM_ENGINE="steps", GENOTEAM_STEP_ENGINE_STEPS="3", GENOTEAM_STEP_ENGINE_STEP_S="0.2"
)


def readme_biomni_yaml() -> dict:
    text = (PROJECT_ROOT / "README.md").read_text()
    match = re.search(r"<!-- begin biomni-yaml -->\n```yaml\n(.*?)```\n<!-- end biomni-yaml -->", text, re.S)
    assert match, "README.md lost its Biomni YAML block"
    return yaml.safe_load(match.group(1))


def test_legacy_mcp1_client_over_stdio(shared_input, workspace):
    python = need_tool(VENVS / "mcp1" / "bin" / "python", "the mcp 1.x client")
    env = {
        **os.environ,
        **STEP_ENV,
        "GENOTEAM_INPUT": str(shared_input),
        "GENOTEAM_WORKSPACE": str(workspace),
    }
    out = subprocess.run(
        [str(python), str(CLIENTS / "legacy_mcp1_client.py"), sys.executable, "Bile_Duct_Cancer"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["mcp_version"].startswith("1.")
    assert summary["protocol"] < "2026" and summary["server"] == "genoteam"
    assert sorted(summary["tools"]) == sorted(CATALOGUE) and summary["state"] == "complete"
    assert summary["selected"] == ["CHOL"] and len(summary["genes"]) == 3
    assert "Significant genes: 30" in summary["result_text"]
    assert summary["bad_is_error"] and "job_id" in summary["bad_text"]
    assert "genoteam://jobs/{job_id}/report" in summary["templates"] and summary["csv_lines"] == 31


def test_biomni_add_mcp_discovers_and_calls_tools_from_the_readme_yaml(shared_input, workspace, tmp_path):
    python = need_tool(VENVS / "biomni" / "bin" / "python", "Biomni 0.0.8")
    config = readme_biomni_yaml()
    server = config["mcp_servers"]["genoteam"]
    assert server["command"] == ["genoteam", "serve"]
    # test-only: the fast step engine (Biomni passes only the YAML's env to the server)
    server["env"].update({key: value for key, value in STEP_ENV.items()})
    (tmp_path / "genoteam_mcp.yaml").write_text(yaml.safe_dump(config))
    genoteam_bin = Path(shutil.which("genoteam") or Path(sys.executable).parent / "genoteam").parent
    env = {
        **os.environ,
        "PATH": f"{genoteam_bin}{os.pathsep}{os.environ['PATH']}",
        "GENOTEAM_INPUT": str(shared_input),
        "GENOTEAM_WORKSPACE": str(workspace),
    }
    out = subprocess.run(
        [
            str(python),
            str(CLIENTS / "biomni_client.py"),
            str(tmp_path / "genoteam_mcp.yaml"),
            str(tmp_path / "agent"),
            "Bile_Duct_Cancer",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    assert f"Discovered {len(CATALOGUE)} tools from genoteam MCP server" in out.stdout
    line = next(x for x in out.stdout.splitlines() if x.startswith("BIOMNI-SUMMARY "))
    summary = json.loads(line.removeprefix("BIOMNI-SUMMARY "))
    assert sorted(summary["tools"]) == sorted(CATALOGUE)
    assert "Bile_Duct_Cancer (0 GEO, 1 TCGA)" in json.loads(summary["traits"])["text"]
    assert summary["job_id"].startswith("job-")
    polled = json.loads(summary["polled"])["text"]  # a second server process found the job
    assert f"Job {summary['job_id']}" in polled and ": complete" in polled, polled
    assert ENGINES_DIR.is_dir()


def test_mcp_inspector_cli_lists_tools_and_calls_one(shared_input, workspace):
    node_bin = need_tool(VENVS / "node22" / "node_modules" / ".bin", "node 22 and the MCP Inspector")
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ['PATH']}"}
    assert subprocess.run(["node", "--version"], capture_output=True, text=True, env=env).stdout.startswith(
        "v22."
    )
    server = [
        "-e",
        f"GENOTEAM_INPUT={shared_input}",
        "-e",
        f"GENOTEAM_WORKSPACE={workspace}",
        *serve_argv(),
    ]
    base = ["npx", "--no-install", "@modelcontextprotocol/inspector", "--cli", *server]

    def inspect(*args: str) -> dict:
        out = subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=300, env=env, cwd=VENVS / "node22"
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout[out.stdout.index("{") :])

    tools = inspect("--method", "tools/list")
    assert {t["name"] for t in tools["tools"]} >= {"analyze_trait", "get_job", "list_traits"}
    assert all("outputSchema" in t for t in tools["tools"])
    called = inspect(
        "--method",
        "tools/call",
        "--tool-name",
        "list_cohorts",
        "--tool-arg",
        "trait=Kidney_Clear_Cell_Carcinoma",
    )
    assert not called["isError"]
    cohorts = {c["cohort"] for c in called["structuredContent"]["cohorts"]}
    assert {"GSE781", "TCGA"} <= cohorts  # the one id scheme (list_cohorts, engines, results)
