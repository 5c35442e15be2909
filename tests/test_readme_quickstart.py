"""The README's main job, as written: the Quick start's first command, run by the installed
`genoteam` console script from a folder laid out like a checkout (the data at ../shared/data/input),
must answer Bile_Duct_Cancer with the team, offline, in the Docker sandbox."""

from __future__ import annotations

import json

import pytest

from tests.readme import readme_command, run_genoteam_as_written

pytestmark = pytest.mark.docker


def test_the_quick_start_command_runs_as_written(shared_data, docker_engine, tmp_path):
    words = readme_command("Quick start")
    assert words[:3] == ["bash", "scripts/setup.sh", "&&"], words  # scripts/test.sh ran that step already
    run = words[3:]
    assert run[:2] == ["genoteam", "run"], run
    done, checkout = run_genoteam_as_written(run, shared_data, tmp_path, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = checkout / run[run.index("--output") + 1]
    result = json.loads((output / "result.json").read_text())
    assert result["status"] == "complete" and result["sandbox"] == "docker", result["status"]
    assert result["selected_cohorts"] == ["TCGA"] and len(result["significant_genes"]) > 1000
    assert (output / "provenance.json").is_file() and (output / "report.md").is_file()
    assert (output / "regress" / "Bile_Duct_Cancer" / "significant_genes_condition_None.json").is_file()
