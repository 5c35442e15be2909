"""Without a Docker engine (DOCKER_HOST points at a dead socket), the installed `genoteam run`:
`--sandbox auto` refuses (with a configured model, and offline too, each saying what to do);
`--sandbox local` with a model refuses; offline `--sandbox local` runs and says `local`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.install.installed import clean_env


def _run(venv: Path, cwd: Path, output: str, *extra: str, **env: str) -> subprocess.CompletedProcess:
    argv = [str(venv / "bin" / "genoteam"), "run", "--trait", "Bile_Duct_Cancer", "--output", output, *extra]
    return subprocess.run(argv, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=600)


def test_without_docker_code_runs_on_the_host_only_when_asked_and_offline(venv, shared_input, tmp_path):
    dead = f"unix://{tmp_path / 'no-engine.sock'}"
    team = tmp_path / "team.toml"  # a configured model (a local server that is never called)
    team.write_text(
        '[models.default]\nmodel = "openai/stand-in"\napi_base = "http://127.0.0.1:9/v1"\n'
        "input_cost_per_token = 0\noutput_cost_per_token = 0\n"
    )
    model = {"GENOTEAM_CONFIG": str(team)}
    inputs = ("--input", str(shared_input))

    with_model = _run(venv, tmp_path, "out-model", *inputs, DOCKER_HOST=dead, **model)
    assert with_model.returncode == 1, with_model.stdout
    assert "no Docker engine answers" in with_model.stderr and "never runs on the host" in with_model.stderr
    assert "start Docker" in with_model.stderr
    assert not (tmp_path / "out-model" / "result.json").exists()

    offline_auto = _run(venv, tmp_path, "out-auto", *inputs, DOCKER_HOST=dead)
    assert offline_auto.returncode == 1 and "--sandbox local" in offline_auto.stderr, offline_auto.stderr

    local_model = _run(
        venv, tmp_path, "out-local-model", *inputs, "--sandbox", "local", DOCKER_HOST=dead, **model
    )
    assert local_model.returncode == 1 and "model-written code" in local_model.stderr, local_model.stderr

    local = _run(venv, tmp_path, "out-local", *inputs, "--sandbox", "local", DOCKER_HOST=dead)
    assert local.returncode == 0, local.stdout[-2000:] + local.stderr[-2000:]
    assert "code ran in sandbox: local" in local.stdout
    result = json.loads((tmp_path / "out-local" / "result.json").read_text())
    assert result["sandbox"] == "local" and result["status"] == "complete" and result["significant_genes"]
    provenance = json.loads((tmp_path / "out-local" / "provenance.json").read_text())
    assert provenance["sandbox"]["backend"] == "local"
    assert {s["backend"] for s in provenance["sandbox"]["sessions"].values()} == {"local"}
