"""One batch through the agent team (offline, every unit in the Docker sandbox) on the default
cluster, a local Ray instance: the cohort and the question each ran the team's stage in a sandbox,
the answer lands in GenoTEX's layout, and the instance's sandbox slot folders go with it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from genoteam.sandbox.pool import SLOTS_DIR_ENV, node_pool_env
from tests.batch.conftest import batch_argv, run_cli, states
from tests.prerequisites import skip_or_fail_in_ci

pytestmark = [pytest.mark.docker, pytest.mark.ray]


def test_a_team_batch_runs_each_task_in_the_docker_sandbox(corpus, docker_engine, tmp_path):
    output = tmp_path / "batch"
    argv = batch_argv(corpus, output, "--questions", "Bile_Duct_Cancer:None", "--sandbox", "docker")
    argv[argv.index("reference")] = "team"
    if importlib.util.find_spec("ray") is None:
        skip_or_fail_in_ci(
            "Ray is not installed: pip install 'genoteam[ray]' (or run scripts/setup.d/35-ray.sh)"
        )
    argv[argv.index("pool")] = "local"
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
    nodes = {state["node"] for state in found.values()}
    slots = [Path(node_pool_env(node, 1)[SLOTS_DIR_ENV]) for node in nodes]
    assert slots and not any(folder.exists() for folder in slots), f"left behind: {slots}"
