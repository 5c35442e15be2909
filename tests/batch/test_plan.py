"""The batch planner: cohorts shared across questions, content keys, the question filter."""

from __future__ import annotations

import json
import os

import pytest

from genoteam.batch.plan import BatchOptions, build_plan
from genoteam.toolkit.errors import GenoteamError
from tests.batch.conftest import N_COHORTS, N_QUESTIONS, copy_corpus


def _needs(plan) -> dict[str, set[str]]:
    """question label -> labels of the cohort tasks it needs."""
    by_key = plan.by_key()
    return {t.label: {by_key[n].label for n in t.needs} for t in plan.tasks if t.kind == "question"}


def test_each_cohort_is_one_task_shared_by_every_question_that_needs_it(corpus, tmp_path):
    plan = build_plan(corpus.task_info, corpus.input_dir, tmp_path / "batch", BatchOptions())
    cohorts = [t for t in plan.tasks if t.kind == "cohort"]
    assert len(plan.questions) == N_QUESTIONS and len(cohorts) == N_COHORTS
    assert len({t.key for t in plan.tasks}) == len(plan.tasks)
    needs = _needs(plan)
    kidney = {"cohort Kidney_Clear_Cell_Carcinoma/GSE9900101", "cohort Kidney_Clear_Cell_Carcinoma/TCGA"}
    bile = {"cohort Bile_Duct_Cancer/TCGA"}
    assert needs["question Kidney_Clear_Cell_Carcinoma | None"] == kidney
    assert needs["question Kidney_Clear_Cell_Carcinoma | Age"] == kidney  # two conditions of one trait:
    assert needs["question Kidney_Clear_Cell_Carcinoma | Gender"] == kidney  # the same cohort tasks
    assert needs["question Kidney_Clear_Cell_Carcinoma | Bile_Duct_Cancer"] == kidney | bile
    assert needs["question Bile_Duct_Cancer | None"] == needs["question Bile_Duct_Cancer | Age"] == bile
    order = [t.key for t in plan.tasks]  # a valid run order: cohorts before the questions on them
    assert all(order.index(n) < order.index(t.key) for t in plan.tasks for n in t.needs)


def test_keys_follow_content_not_paths(corpus, tmp_path):
    plan = build_plan(corpus.task_info, corpus.input_dir, tmp_path / "a", BatchOptions())
    moved = copy_corpus(corpus, tmp_path / "moved")  # copy2 keeps sizes and mtimes
    again = build_plan(moved.task_info, moved.input_dir, tmp_path / "b", BatchOptions())
    assert [t.key for t in again.tasks] == [t.key for t in plan.tasks]
    other_engine = build_plan(corpus.task_info, corpus.input_dir, tmp_path / "a", BatchOptions(engine="team"))
    assert not {t.key for t in other_engine.tasks} & {t.key for t in plan.tasks}

    series = next((moved.input_dir / "GEO" / "Kidney_Clear_Cell_Carcinoma").glob("GSE*/*series_matrix*"))
    stat = series.stat()
    os.utime(series, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the file was replaced
    changed = build_plan(moved.task_info, moved.input_dir, tmp_path / "b", BatchOptions())
    before = {t.label: t.key for t in again.tasks}
    differs = sorted(t.label for t in changed.tasks if before[t.label] != t.key)
    assert differs == [
        "cohort Kidney_Clear_Cell_Carcinoma/GSE9900101",
        "question Kidney_Clear_Cell_Carcinoma | Age",
        "question Kidney_Clear_Cell_Carcinoma | Bile_Duct_Cancer",
        "question Kidney_Clear_Cell_Carcinoma | Gender",
        "question Kidney_Clear_Cell_Carcinoma | None",
    ]


def test_the_question_filter(corpus, tmp_path):
    def labels(spec: str) -> list[str]:
        plan = build_plan(corpus.task_info, corpus.input_dir, tmp_path, BatchOptions(), spec)
        return [t.label for t in plan.tasks]

    assert labels("Bile_Duct_Cancer:Age") == [
        "cohort Bile_Duct_Cancer/TCGA",
        "question Bile_Duct_Cancer | Age",
    ]
    assert labels("*:gender") == [
        "cohort Kidney_Clear_Cell_Carcinoma/GSE9900101",
        "cohort Kidney_Clear_Cell_Carcinoma/TCGA",
        "cohort Large_B-cell_Lymphoma/TCGA",
        "question Kidney_Clear_Cell_Carcinoma | Gender",
        "question Large_B-cell_Lymphoma | Gender",
    ]
    assert labels("Bile_Duct_Cancer:None") == [
        "cohort Bile_Duct_Cancer/TCGA",
        "question Bile_Duct_Cancer | None",
    ]
    with pytest.raises(GenoteamError, match="'Bile_Duct:Age' names no question"):
        labels("Bile_Duct:Age")


def test_a_task_file_with_an_unsafe_name_is_refused_before_any_work(corpus, tmp_path):
    task_info = tmp_path / "task_info.json"
    task_info.write_text(json.dumps({"Bile_Duct_Cancer": {"related_genes": [], "conditions": ["../etc"]}}))
    with pytest.raises(GenoteamError, match="'../etc' is not a trait or condition name"):
        build_plan(task_info, corpus.input_dir, tmp_path / "batch", BatchOptions())
    assert not (tmp_path / "batch").exists()


def test_genotex_trait_names_with_parentheses_are_planned(corpus, tmp_path):
    """GenoTEX's task file names traits like Chronic_obstructive_pulmonary_disease_(COPD)."""
    task_info = tmp_path / "task_info.json"
    names = {"Chronic_obstructive_pulmonary_disease_(COPD)": ["Age"], "Sjögrens_Syndrome": []}
    task_info.write_text(json.dumps({n: {"related_genes": [], "conditions": c} for n, c in names.items()}))
    plan = build_plan(task_info, corpus.input_dir, tmp_path / "batch", BatchOptions())
    assert [(q["trait"], q["condition"]) for q in plan.questions] == [
        ("Chronic_obstructive_pulmonary_disease_(COPD)", None),
        ("Chronic_obstructive_pulmonary_disease_(COPD)", "Age"),
        ("Sjögrens_Syndrome", None),
    ]
    assert set(plan.skipped) == {"Chronic_obstructive_pulmonary_disease_(COPD)/*", "Sjögrens_Syndrome/*"}
