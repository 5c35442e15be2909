"""The README's main job, as written: the Quick start's first command, run by the installed
`genoteam` console script from a folder laid out like a checkout (the data at ../shared/data/input),
must answer Bile_Duct_Cancer with the team, offline, in the Docker sandbox."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess

import pytest

from tests.conftest import PROJECT_ROOT
from tests.prerequisites import skip_or_fail_in_ci

pytestmark = pytest.mark.docker


def quick_start_command() -> list[str]:
    """The words of the Quick start's first bash block: `bash scripts/setup.sh && genoteam run ...`."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)\n```", section, re.S)
    assert block, "README's Quick start has no bash block"
    return shlex.split(block.group(1))


def test_the_quick_start_command_runs_as_written(shared_data, docker_engine, tmp_path):
    words = quick_start_command()
    assert words[:3] == ["bash", "scripts/setup.sh", "&&"], words  # scripts/test.sh ran that step already
    run = words[3:]
    assert run[:2] == ["genoteam", "run"], run
    genoteam = shutil.which("genoteam")
    if genoteam is None:
        skip_or_fail_in_ci("the genoteam console script is not on PATH (scripts/setup.sh installs it)")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)  # ../shared as beside a real checkout
    done = subprocess.run([genoteam, *run[1:]], cwd=checkout, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = checkout / run[run.index("--output") + 1]
    result = json.loads((output / "result.json").read_text())
    assert result["status"] == "complete" and result["sandbox"] == "docker", result["status"]
    assert result["selected_cohorts"] == ["TCGA"] and len(result["significant_genes"]) > 1000
    assert (output / "provenance.json").is_file() and (output / "report.md").is_file()
    assert (output / "regress" / "Bile_Duct_Cancer" / "significant_genes_condition_None.json").is_file()
