"""One batch through the agent team (offline, every unit in the Docker sandbox): the cohort and
the question each ran the team's stage in a sandbox, and the answer lands in GenoTEX's layout."""

from __future__ import annotations

import json

import pytest

from tests.batch.conftest import batch_argv, run_cli, states

pytestmark = pytest.mark.docker


def test_a_team_batch_runs_each_task_in_the_docker_sandbox(corpus, docker_engine, tmp_path):
    output = tmp_path / "batch"
    argv = batch_argv(corpus, output, "--questions", "Bile_Duct_Cancer:None", "--sandbox", "docker")
    argv[argv.index("reference")] = "team"
    done = run_cli(argv, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    found = states(output)
    assert {label: s["status"] for label, s in found.items()} == {
        "cohort Bile_Duct_Cancer/TCGA": "done",
        "question Bile_Duct_Cancer | None": "done",
    }
    for state in found.values():  # each task's own team run, with its provenance
        provenance = json.loads(
            (output / "tasks" / state["key"][:16] / "work" / "provenance.json").read_text()
        )
        assert provenance["sandbox"]["backend"] == "docker", state["label"]
        assert provenance["sandbox"]["sessions"], state["label"]
    answer = json.loads(
        (output / "regress" / "Bile_Duct_Cancer" / "significant_genes_condition_None.json").read_text()
    )
    assert answer["significant_genes"]["Variable"]
    info = json.loads((output / "preprocess" / "Bile_Duct_Cancer" / "cohort_info.json").read_text())
    assert info["TCGA"]["is_usable"] is True
