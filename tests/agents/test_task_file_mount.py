"""The team's statistician reads GenoTEX's task file from the run's own copy: a task file in a
private folder still works, and the sandbox sees that one file, never the folder it came from."""

from __future__ import annotations

import json

import pytest

from genoteam.agents.engine import STAGED_TASK_INFO, TeamRun
from genoteam.agents.llm import TeamConfig
from genoteam.pipeline.api import AnalysisRequest

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.mark.docker
def test_a_private_task_file_reaches_the_sandbox_alone(docker_engine, tmp_path):
    from genoteam.sandbox.image import ensure_image
    from genoteam.synthetic import SynthConfig, generate

    image = ensure_image(docker_engine, progress=lambda line: None).id
    generate(SynthConfig(n_genes=120, n_samples=24, kind="tcga", seed=3), tmp_path / "input")
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    (private / "secret.txt").write_text("not for the sandbox")
    task_file = private / "task_info.json"
    task_file.write_text(json.dumps({TRAIT: {"related_genes": ["GENE1"], "conditions": ["Age"]}}))
    private.chmod(0o700)  # the sandbox user could not read the file where it lies

    run = TeamRun(
        AnalysisRequest(trait=TRAIT),
        tmp_path / "input",
        tmp_path / "out",
        None,
        sandbox="docker",
        config=TeamConfig(),
        guidelines_dir=None,
        memory_path=tmp_path / "memory.sqlite",
        task_info=task_file,
        sandbox_image=image,
    )
    result = run.run()
    assert result.status == "complete", result.message
    staged = tmp_path / "out" / STAGED_TASK_INFO
    assert staged.read_bytes() == task_file.read_bytes()

    session = run._session("look")  # the engine's own mount of the task file
    try:
        mount = session.input_mounts["task_info"]
        seen = session.run_cell(f"import os; print(sorted(os.listdir({mount!r})))")
    finally:
        session.close()
    assert seen.ok, seen.error_message
    assert seen.stdout.strip() == "['task_info.json']"
