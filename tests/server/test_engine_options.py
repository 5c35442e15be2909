"""Engine options (sandbox, image, GenoTEX's task file) are read once where a program starts and
carried in the job spec: the engines read no environment of their own."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest

import genoteam
from genoteam.agents.engine import run_team
from genoteam.pipeline.api import AnalysisRequest, EngineOptions, engine_keywords
from genoteam.pipeline.reference import run_reference
from genoteam.server.config import ServerConfig
from genoteam.server.engines import resolve_target
from genoteam.server.jobs import TERMINAL, JobStore
from genoteam.synthetic import SynthConfig, generate
from genoteam.toolkit.errors import GenoteamError

PACKAGE = Path(genoteam.__file__).parent
TRAIT = SynthConfig.trait


def test_the_servers_config_reads_the_options_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENOTEAM_SANDBOX", "local")
    monkeypatch.setenv("GENOTEAM_TASK_INFO", str(tmp_path / "task_info.json"))
    monkeypatch.delenv("GENOTEAM_SANDBOX_IMAGE", raising=False)
    options = ServerConfig(workspace=tmp_path).engine_options
    monkeypatch.setenv("GENOTEAM_SANDBOX", "docker")  # read once: a later change is not seen
    assert options == EngineOptions(sandbox="local", task_info=str(tmp_path / "task_info.json"))
    assert engine_keywords(run_team, options) == {
        "sandbox": "local",
        "task_info": tmp_path / "task_info.json",
    }
    assert engine_keywords(run_reference, options) == {"task_info_path": tmp_path / "task_info.json"}
    assert engine_keywords(lambda request, input_dir, output_dir, progress: None, options) == {}


def test_a_wrong_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENOTEAM_SANDBOX", "vm")
    with pytest.raises(GenoteamError, match="GENOTEAM_SANDBOX='vm': not a valid setting"):
        EngineOptions.from_env()


@pytest.mark.parametrize("module", ["agents/engine.py", "pipeline/reference.py", "pipeline/cohorts.py"])
def test_the_engines_read_no_environment(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text())
    reads = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}
    ]
    assert reads == [], f"{module} reads the environment at lines {reads}: take the value as an argument"


def test_a_jobs_task_file_reaches_its_worker_through_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GenoTEX 2025's procedure needs the task file; the worker's environment has none, so the
    job can only answer with the one its spec carries."""
    monkeypatch.delenv("GENOTEAM_TASK_INFO", raising=False)
    config = SynthConfig(n_genes=300, n_samples=24, seed=5, kind="geo", n_geo_cohorts=1, n_trait_genes=15)
    generate(config, tmp_path / "input")
    task_info = tmp_path / "task_info.json"
    task_info.write_text(json.dumps({TRAIT: {"related_genes": ["G1", "G2"], "conditions": []}}))
    store = JobStore(tmp_path / "workspace")
    request = AnalysisRequest(trait=TRAIT, method="genotex", genotex_version="2025")
    options = EngineOptions(task_info=str(task_info))
    record, started = store.submit(
        "analyze", request, "reference", resolve_target("reference"), tmp_path / "input", options=options
    )
    assert started
    deadline = time.monotonic() + 120
    while store.get(record.job_id).status.state not in TERMINAL:
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.2)
    job_dir = store.job_dir(record.job_id)
    status = store.get(record.job_id).status
    assert status.state == "complete", (status, (job_dir / "worker.log").read_text()[-2000:])
    assert json.loads((job_dir / "job.json").read_text())["options"]["task_info"] == str(task_info)
    assert store.read_result(record.job_id).method.startswith("genotex")
