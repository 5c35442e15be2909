"""The README's Batch command, as written, through the installed `genoteam` console script from a
folder laid out like a checkout (the data at ../shared/data); then the same command with --resume,
as the README says, keeps every finished task."""

from __future__ import annotations

import json

from tests.readme import readme_command, run_genoteam_as_written


def test_the_readme_batch_command_runs_as_written(shared_data, tmp_path):
    words = readme_command("Batch")
    assert words[:2] == ["genoteam", "batch"], words
    done, checkout = run_genoteam_as_written(words, shared_data, tmp_path, timeout=900)
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

    again, _ = run_genoteam_as_written([*words, "--resume"], shared_data, tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "this run: 0 task(s)" in again.stdout and "3 finished earlier, kept" in again.stdout
