"""The README's Batch command, as written, through the installed `genoteam` console script from a
folder laid out like a checkout (the data at ../shared/data); then the same command with --resume,
as the README says, keeps every finished task."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess

from tests.conftest import PROJECT_ROOT
from tests.prerequisites import skip_or_fail_in_ci


def batch_command() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Batch", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)\n```", section, re.S)
    assert block, "README's Batch section has no bash block"
    return shlex.split(block.group(1))


def test_the_readme_batch_command_runs_as_written(shared_data, tmp_path):
    words = batch_command()
    assert words[:2] == ["genoteam", "batch"], words
    genoteam = shutil.which("genoteam")
    if genoteam is None:
        skip_or_fail_in_ci("the genoteam console script is not on PATH (scripts/setup.sh installs it)")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)  # ../shared as beside a real checkout
    done = subprocess.run([genoteam, *words[1:]], cwd=checkout, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = checkout / words[words.index("--output") + 1]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["questions"] == {
        "total": 2,
        "answered": 2,
        "partial": 0,
        "insufficient_data": 0,
        "failed": 0,
        "not_run": 0,
    }
    assert summary["cohorts"]["total"] == 1  # one TCGA cohort for both questions
    for condition in ("None", "Age"):
        assert (
            output / "regress" / "Bile_Duct_Cancer" / f"significant_genes_condition_{condition}.json"
        ).is_file()
    assert "tasks" in done.stderr and "questions: 2: 2 answered" in done.stdout

    again = subprocess.run(
        [genoteam, *words[1:], "--resume"], cwd=checkout, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "this run: 0 task(s)" in again.stdout and "3 finished earlier, kept" in again.stdout
