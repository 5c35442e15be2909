"""`genoteam smoke` as CI runs it: a real stdio server, a real job; exit 0 only when all is well."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.server.mcp_server_procs import step_engine_env


def smoke(shared_input, workspace, engine: str = "steps", **extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **step_engine_env(GENOTEAM_STEP_ENGINE_STEPS="2", GENOTEAM_STEP_ENGINE_STEP_S="0.1", **extra),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "genoteam",
            "smoke",
            "--input",
            str(shared_input),
            "--workspace",
            str(workspace),
            "--engine",
            engine,
            "--timeout",
            "600",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def test_smoke_passes_with_the_reference_engine_on_real_data(shared_input, workspace):
    out = smoke(shared_input, workspace, engine="reference")
    assert out.returncode == 0, out.stdout + out.stderr
    for step in (
        "tools listed",
        "list_traits",
        "job finished",
        "result",
        "resource genes.csv",
        "same request",
    ):
        assert f"ok   {step}" in out.stdout, out.stdout
    assert "smoke: all checks passed" in out.stdout
    assert "cohorts ['TCGA']" in out.stdout  # the real analysis of TCGA CHOL ran


def test_smoke_fails_loudly_when_the_analysis_fails(shared_input, workspace):
    out = smoke(shared_input, workspace, GENOTEAM_STEP_ENGINE_FAIL="1")
    assert out.returncode == 1
    assert "FAIL job finished: failed" in out.stdout and "on purpose" in out.stdout
    assert "check(s) failed" in out.stderr


def test_smoke_without_input_says_what_to_do(workspace):
    out = subprocess.run(
        [sys.executable, "-m", "genoteam", "smoke", "--input", str(workspace / "absent")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "GENOTEAM_INPUT" in out.stderr
