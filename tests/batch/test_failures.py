"""A cohort whose input file is broken: its task fails, and the batch says so honestly.

The broken files are real files of the kind that break real batches: a series matrix cut short
(an interrupted download) and an HTML error page saved under a series matrix's name.
"""

from __future__ import annotations

import json
import shutil

import pytest

from genoteam.synthetic import SynthConfig, generate
from tests.batch.conftest import batch_argv, copy_corpus, run_cli, states

QUESTIONS = "Asthma,Kidney_Clear_Cell_Carcinoma:Age,Large_B-cell_Lymphoma:None"


@pytest.fixture(scope="module")
def broken(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("broken")
    copy = copy_corpus(corpus, root)
    good = next((copy.input_dir / "GEO" / "Kidney_Clear_Cell_Carcinoma").glob("GSE*/*series_matrix.txt.gz"))
    cut = copy.input_dir / "GEO" / "Asthma" / "GSE9900160" / "GSE9900160_series_matrix.txt.gz"
    cut.parent.mkdir(parents=True)
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # the only cohort of Asthma, cut short
    html = (
        copy.input_dir
        / "GEO"
        / "Kidney_Clear_Cell_Carcinoma"
        / "GSE9900170"
        / "GSE9900170_series_matrix.txt.gz"
    )
    html.parent.mkdir(parents=True)
    html.write_text("<html><body>503 Service Unavailable</body></html>\n")
    task_info = json.loads(copy.task_info.read_text())
    task_info["Asthma"] = {"related_genes": [], "conditions": ["Age"]}
    copy.task_info.write_text(json.dumps(task_info))
    output = root / "batch"
    done = run_cli(batch_argv(copy, output, "--questions", QUESTIONS))
    return copy, output, done, good


def _summary(output):
    summary = json.loads((output / "summary.json").read_text())
    return summary, {(r["trait"], r["condition"]): r for r in summary["per_question"]}


def test_a_failed_cohort_is_failed_and_never_unusable_data(broken):
    _copy, output, done, _ = broken
    assert done.returncode == 1, done.stdout[-2000:]
    summary, questions = _summary(output)
    cohorts = {r["cohort"]: r for r in summary["per_cohort"]}
    assert cohorts["Asthma/GSE9900160"]["status"] == "failed"
    assert cohorts["Kidney_Clear_Cell_Carcinoma/GSE9900170"]["status"] == "failed"
    assert "GSE9900170" in cohorts["Kidney_Clear_Cell_Carcinoma/GSE9900170"]["reason"]
    assert cohorts["Large_B-cell_Lymphoma/TCGA"]["status"] == "insufficient_data"  # truly unusable data
    # Asthma's only cohort failed: nothing is known about its data, so its questions failed
    for condition in (None, "Age"):
        row = questions[("Asthma", condition)]
        assert row["status"] == "failed", row
        assert "Asthma/GSE9900160 failed" in row["reason"]
    assert questions[("Large_B-cell_Lymphoma", None)]["status"] == "insufficient_data"
    # answered from the cohorts that did preprocess, and labelled partial with the failed one named
    kidney = questions[("Kidney_Clear_Cell_Carcinoma", "Age")]
    assert kidney["status"] == "answered" and kidney["partial"]
    assert "partial: Kidney_Clear_Cell_Carcinoma/GSE9900170 failed" in kidney["reason"]
    assert summary["questions"] == {
        "total": 4,
        "answered": 1,
        "partial": 1,
        "insufficient_data": 1,
        "failed": 2,
        "not_run": 0,
    }
    # the shared layout never records a failed cohort as a cohort without usable data
    assert not (output / "preprocess" / "Asthma" / "cohort_info.json").exists()
    kidney_info = json.loads(
        (output / "preprocess" / "Kidney_Clear_Cell_Carcinoma" / "cohort_info.json").read_text()
    )
    assert "GSE9900170" not in kidney_info and kidney_info["GSE9900101"]["is_usable"] is True
    assert "cohort failed: Asthma/GSE9900160" in done.stdout
    assert "question failed: Asthma | None" in done.stdout
    assert "failed: cohort Asthma/GSE9900160" in done.stderr  # said live, as it happened


def test_resume_reruns_the_failed_and_partial_tasks_and_keeps_the_finished(broken, tmp_path):
    copy, output, _, _good = broken
    before = states(output)
    state_bytes = {p.name: p.read_bytes() for p in (output / "state").glob("*.json")}
    again = run_cli(batch_argv(copy, output, "--questions", QUESTIONS, "--resume"))
    assert again.returncode == 1
    after = states(output)
    rerun = sorted(label for label, s in after.items() if s["attempts"] == 2)
    assert rerun == [
        "cohort Asthma/GSE9900160",
        "cohort Kidney_Clear_Cell_Carcinoma/GSE9900170",
        "question Asthma | Age",
        "question Asthma | None",
        "question Kidney_Clear_Cell_Carcinoma | Age",  # partial: run again when its cohort is
    ]
    kept = [label for label in before if label not in rerun]
    assert len(kept) == 4
    for label in kept:
        key16 = before[label]["key"][:16]
        assert (output / "state" / f"{key16}.json").read_bytes() == state_bytes[f"{key16}.json"], label
    assert "this run: 5 task(s)" in again.stdout and "4 finished earlier, kept" in again.stdout

    # repaired inputs: Asthma's series downloaded again whole, the error page removed
    shutil.rmtree(copy.input_dir / "GEO" / "Asthma")
    scratch = tmp_path / "asthma"
    generate(
        SynthConfig(n_genes=200, n_samples=24, seed=9, kind="geo", trait="Asthma", n_geo_cohorts=1), scratch
    )
    shutil.copytree(scratch / "GEO" / "Asthma", copy.input_dir / "GEO" / "Asthma")
    shutil.rmtree(copy.input_dir / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE9900170")
    fixed = run_cli(batch_argv(copy, output, "--questions", QUESTIONS, "--resume"))
    summary, questions = _summary(output)
    assert summary["cohorts"]["failed"] == 0 and summary["questions"]["failed"] == 0, fixed.stdout[-2000:]
    kidney = questions[("Kidney_Clear_Cell_Carcinoma", "Age")]
    assert kidney["status"] == "answered" and not kidney["partial"]
    assert fixed.returncode == 0, fixed.stdout[-2000:]
