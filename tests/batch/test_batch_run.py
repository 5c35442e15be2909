"""`genoteam batch` end to end on the small synthetic corpus, as a user runs it (the console
command in a subprocess, reference engine, local process pool), then scored and resumed."""

from __future__ import annotations

import csv
import json

import pytest

from genoteam.evaluation import metrics as m
from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.reference import run_reference
from tests.batch.conftest import N_COHORTS, N_QUESTIONS, TRAITS, batch_argv, run_cli, states


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    """A reference folder made one question at a time by the single-analysis path (`genoteam
    reference`'s engine), to score the batch against: a batch must give the same answers."""
    ref = tmp_path_factory.mktemp("reference")
    for trait, _code, _kind, conditions, _fraction in TRAITS:
        for condition in [None, *conditions]:
            run_reference(
                AnalysisRequest(trait=trait, condition=condition),
                corpus.input_dir,
                ref,
                None,
                corpus.task_info,
            )
    return ref


@pytest.fixture(scope="module")
def finished(corpus, reference, tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "batch"
    done = run_cli(batch_argv(corpus, output, "--reference", str(reference)))
    return output, done


def test_every_question_has_an_honest_outcome(finished):
    output, done = finished
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["questions"]["total"] == N_QUESTIONS and summary["cohorts"]["total"] == N_COHORTS
    status = {(r["trait"], r["condition"]): r["status"] for r in summary["per_question"]}
    for question in [("Kidney_Clear_Cell_Carcinoma", c) for c in (None, "Age", "Gender")] + [
        ("Bile_Duct_Cancer", None),
        ("Bile_Duct_Cancer", "Age"),
    ]:
        assert status[question] == "answered", question
    # one class of samples only: unusable data, so its questions lack data (and did not fail)
    assert (
        status[("Large_B-cell_Lymphoma", None)]
        == status[("Large_B-cell_Lymphoma", "Gender")]
        == "insufficient_data"
    )
    lymphoma = next(r for r in summary["per_cohort"] if r["cohort"] == "Large_B-cell_Lymphoma/TCGA")
    assert lymphoma["status"] == "insufficient_data" and "biased" in lymphoma["reason"].lower()
    assert summary["questions"]["failed"] == summary["cohorts"]["failed"] == 0
    assert f"questions: {N_QUESTIONS}: " in done.stdout and "insufficient data, 0 failed" in done.stdout


def test_the_batch_folder_holds_genotex_layout_with_the_single_analysis_answers(finished, reference):
    output, _ = finished
    info = json.loads(
        (output / "preprocess" / "Kidney_Clear_Cell_Carcinoma" / "cohort_info.json").read_text()
    )
    assert list(info) == ["GSE9900101", "TCGA"]  # both cohorts, in the documented order
    assert (output / "preprocess" / "Bile_Duct_Cancer" / "TCGA.csv").is_file()
    plan = json.loads((output / "plan.json").read_text())
    assert len(plan["tasks"]) == N_COHORTS + N_QUESTIONS
    for path in sorted((reference / "regress").rglob("significant_genes_condition_*.json")):
        ours = output / path.relative_to(reference)
        assert ours.is_file(), ours
        assert json.loads(ours.read_text()) == json.loads(path.read_text()), ours.name


def test_a_live_progress_bar_is_written_to_stderr(finished):
    _, done = finished
    assert f"/{N_COHORTS + N_QUESTIONS} tasks" in done.stderr, done.stderr[-1500:]
    assert f"{N_COHORTS + N_QUESTIONS}/{N_COHORTS + N_QUESTIONS} tasks" in done.stderr
    assert "running 2" in done.stderr  # two tasks at once (--max-parallel 2)
    assert f"done {N_COHORTS + N_QUESTIONS} · running 0 · failed 0" in done.stderr


def test_the_per_question_score_table(finished):
    output, _ = finished
    rows = list(csv.DictReader((output / "scores.csv").open()))
    assert [(r["trait"], r["condition"]) for r in rows] == [
        (trait, c) for trait, _, _, conditions, _ in sorted(TRAITS) for c in ["None", *conditions]
    ]  # GenoTEX's order: traits sorted, each unconditioned first
    by_question = {(r["trait"], r["condition"]): r for r in rows}
    answered = by_question[("Kidney_Clear_Cell_Carcinoma", "Age")]
    assert answered["batch_status"] == "answered" and answered["scored"] == "yes"
    assert (
        float(answered["success"]) == 100.0 and float(answered["f1"]) == 100.0
    )  # same answer as the reference
    lymphoma = by_question[("Large_B-cell_Lymphoma", "None")]
    assert lymphoma["batch_status"] == "insufficient_data" and lymphoma["scored"].startswith("no")
    table = (output / "scores.md").read_text()
    for category in (*m.QUESTION_CATEGORIES, m.OVERALL):
        assert f"| {category} |" in table
    summary = json.loads((output / "summary.json").read_text())
    assert summary["scores"]["by_category"][m.OVERALL]["success"] == 100.0
    assert json.loads((output / "eval.json").read_text())["analysis"]["n_missing"] == 0


def test_resume_of_a_finished_batch_runs_nothing(finished, corpus):
    output, _ = finished
    before = {p: p.read_bytes() for p in (output / "state").glob("*.json")}
    answers = {p: p.stat().st_mtime_ns for p in (output / "regress").rglob("*.json")}
    again = run_cli(batch_argv(corpus, output, "--resume"))
    assert again.returncode == 0, again.stderr[-2000:]
    assert (
        "this run: 0 task(s)" in again.stdout
        and f"{N_COHORTS + N_QUESTIONS} finished earlier, kept" in again.stdout
    )
    assert {p: p.read_bytes() for p in (output / "state").glob("*.json")} == before
    assert {p: p.stat().st_mtime_ns for p in (output / "regress").rglob("*.json")} == answers


def test_a_batch_folder_is_not_started_twice_without_resume(finished, corpus):
    output, _ = finished
    again = run_cli(batch_argv(corpus, output))
    assert again.returncode == 1
    assert "already holds a batch" in again.stderr and "--resume" in again.stderr


def test_serial_and_parallel_batches_write_identical_outputs(finished, corpus, tmp_path):
    """The answer never depends on which task finished first."""
    output, _ = finished
    serial = tmp_path / "serial"
    done = run_cli(batch_argv(corpus, serial)[:-2] + ["--max-parallel", "1"])
    assert done.returncode == 0, done.stderr[-2000:]
    files = lambda root: {  # noqa: E731
        p.relative_to(root): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.parts[len(root.parts)] in ("preprocess", "regress")
        and not p.name.endswith(".lock")
    }
    assert files(serial) == files(output)
    assert all(s["attempts"] == 1 for s in states(serial).values())
