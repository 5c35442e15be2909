"""One cohort selection (toolkit/stats/selection.py), checked against GenoTEX's rule and against
the order cohorts finish in.

GenoTEX's rule, spelled as its statistics tools do it: a DataFrame of the records, keep rows whose
`is_usable` (and `has_age`/`has_gender`) `== True`, sort by sample_size descending, take the first.
Its sort is pandas' default quicksort, whose tie order is not defined; the oracle below uses a
stable sort over records in `cohort_order_key` order, the order genoteam writes them in.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pandas as pd
import pytest

from genoteam.agents.engine import run_team
from genoteam.agents.llm import TeamConfig
from genoteam.data.catalogue import CohortCatalogue
from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.parallel import WORKERS_ENV
from genoteam.pipeline.reference import HostSurvey, planned_cohorts, preprocess_task
from genoteam.synthetic import SynthConfig, generate
from genoteam.toolkit.cohort_info import cohort_order_key
from genoteam.toolkit.layout import OutputLayout
from genoteam.toolkit.stats.questions import answer_question
from genoteam.toolkit.stats.selection import rank_cohort_pairs, ranked_cohorts, select_one_step_cohort

FLAG_VALUES = [True, False, None, "missing", 1, 0, "True"]


def _random_records(rng: random.Random) -> dict[str, dict[str, object]]:
    ids = rng.sample(
        ["GSE10", "GSE9", "GSE781_GPL96", "GSE781_GPL97", "GSE1000", "TCGA", "GSE55"], rng.randint(1, 7)
    )
    records: dict[str, dict[str, object]] = {}
    for cohort in ids:
        record: dict[str, object] = {}
        for flag in ("is_usable", "has_age", "has_gender"):
            value = rng.choice(FLAG_VALUES)
            if value != "missing":
                record[flag] = value
        size = rng.choice([20, 20, 45, 45, 80, None, "missing"])
        if size != "missing":
            record["sample_size"] = size
        records[cohort] = record
    return records


def _genotex_frame(records: dict, condition: str | None) -> pd.DataFrame:
    """GenoTEX's filter and ranking (stable sort, records in cohort_order_key order)."""
    ordered = {c: records[c] for c in sorted(records, key=cohort_order_key)}
    df = pd.DataFrame.from_dict(ordered, orient="index").reset_index().rename(columns={"index": "cohort_id"})
    if df.empty or "is_usable" not in df:
        return df.iloc[0:0]
    keep = df["is_usable"].map(lambda v: not isinstance(v, str) and v == True)  # noqa: E712 -- GenoTEX's test
    if condition:
        flag = "has_" + condition.lower()
        column = df[flag] if flag in df else pd.Series(None, index=df.index, dtype=object)
        keep &= column.map(lambda v: not isinstance(v, str) and v == True)  # noqa: E712
    filtered = df[keep.astype(bool)].copy()
    filtered["sample_size"] = pd.to_numeric(filtered.get("sample_size"), errors="coerce")
    return filtered.sort_values(by="sample_size", ascending=False, kind="stable")


def _genotex_choice(records: dict, condition: str | None) -> str | None:
    ranked = _genotex_frame(records, condition)
    return None if ranked.empty else str(ranked.iloc[0]["cohort_id"])


def _genotex_pairs(trait_records: dict, condition_records: dict) -> list[tuple[str, str]]:
    a, b = _genotex_frame(trait_records, None), _genotex_frame(condition_records, None)
    if a.empty or b.empty:
        return []
    merged = pd.merge(a.assign(key=1), b.assign(key=1), on="key").drop(columns="key")
    merged["sample_product"] = merged["sample_size_x"] * merged["sample_size_y"]
    merged = merged.sort_values(by="sample_product", ascending=False, kind="stable")
    return list(zip(merged["cohort_id_x"], merged["cohort_id_y"], strict=True))


def test_one_step_choice_equals_genotex_rule_on_ties_and_missing_flags() -> None:
    rng = random.Random(20261201)
    ties = missing = 0
    for _ in range(250):
        records = _random_records(rng)
        for condition in (None, "Age", "Gender"):
            assert select_one_step_cohort(records, condition) == _genotex_choice(records, condition), (
                records,
                condition,
            )
            ranked = ranked_cohorts(records, condition)
            sizes = [records[c].get("sample_size") for c in ranked]
            ties += len(sizes) > 1 and sizes[0] == sizes[1]
            missing += any(f not in r for r in records.values() for f in ("is_usable", "has_age"))
    assert ties > 20 and missing > 200  # the cases this test exists for were drawn


def test_choice_does_not_depend_on_record_order() -> None:
    rng = random.Random(5)
    for _ in range(300):
        records = _random_records(rng)
        items = list(records.items())
        expected = select_one_step_cohort(records, "Gender")
        for _ in range(5):
            rng.shuffle(items)
            assert select_one_step_cohort(dict(items), "Gender") == expected


def test_flags_follow_genotex_equals_true() -> None:
    records = {
        "GSE1": {"is_usable": "True", "sample_size": 99},  # a string is not True for GenoTEX
        "GSE2": {"sample_size": 98},  # no is_usable at all
        "GSE3": {"is_usable": None, "sample_size": 97},
        "GSE4": {"is_usable": 1, "sample_size": 10, "has_age": None},
        "GSE5": {"is_usable": True, "sample_size": 5, "has_age": True},
    }
    assert select_one_step_cohort(records) == "GSE4"
    assert select_one_step_cohort(records, "Age") == "GSE5"
    assert select_one_step_cohort(records, "Gender") is None


def test_pair_ranking_equals_genotex_cross_of_ranked_lists() -> None:
    rng = random.Random(11)
    compared = 0
    for _ in range(150):
        trait, condition = _random_records(rng), _random_records(rng)
        ours = [(t, c) for t, c, _ in rank_cohort_pairs(trait, condition)]
        assert ours == _genotex_pairs(trait, condition), (trait, condition)
        compared += len(ours) > 1
    assert compared > 20


def test_tie_key_is_geo_then_tcga_with_numbers_as_numbers() -> None:
    ids = ["TCGA", "GSE1000", "GSE781_GPL97", "GSE781_GPL96", "GSE99_GPL570", "GSE99_GPL1000"]
    assert sorted(ids, key=cohort_order_key) == [
        "GSE99_GPL570",
        "GSE99_GPL1000",
        "GSE781_GPL96",
        "GSE781_GPL97",
        "GSE1000",
        "TCGA",
    ]
    tied = {c: {"is_usable": True, "sample_size": 40} for c in reversed(ids)}
    assert select_one_step_cohort(tied) == "GSE99_GPL570"


@pytest.fixture(scope="module")
def tied_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three synthetic GEO series of one trait with the same number of samples (a tie)."""
    root = tmp_path_factory.mktemp("tied")
    config = SynthConfig(
        n_genes=300,
        n_samples=24,
        seed=3,
        kind="geo",
        n_geo_cohorts=3,
        n_trait_genes=15,
        missing_age_fraction=0.0,
    )
    generate(config, root)
    return root


def test_shuffled_completion_orders_give_one_answer(
    tied_inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both engines, cohorts finishing in other orders: the reference's cohorts one by one in three
    orders, then the team's side by side (3 workers) with a slow progress receiver holding each
    cohort back by its place in the plan, so the plan's first finishes last. One cohort_info.json
    (byte for byte across the reference's orders; the team's holds the same records in the same
    order), one answer, and the team's task records in the plan's order."""
    trait = SynthConfig.trait
    catalogue = CohortCatalogue(tied_inputs)
    n_tasks = len(planned_cohorts(AnalysisRequest(trait=trait), catalogue, HostSurvey()).tasks)
    assert n_tasks == 3
    orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0]]  # each cohort finishes first once
    answers = set()
    files = set()
    for n, order in enumerate(orders):
        out = tmp_path / f"run{n}"
        survey = HostSurvey()
        tasks = planned_cohorts(AnalysisRequest(trait=trait), catalogue, survey).tasks
        for i in order:  # cohorts finish in this order
            preprocess_task(tasks[i], out, survey)
        info_path = info_path_of(out, trait)
        info = json.loads(info_path.read_text())
        assert len({r["sample_size"] for r in info.values()}) == 1, info  # a real tie
        files.add(info_path.read_bytes())
        result = answer_question(out / "preprocess", trait)
        answers.add((result.cohorts["trait"], tuple(result.significant["Variable"])))
    assert len(files) == 1  # the same cohort_info.json bytes whatever finished first
    assert len(answers) == 1
    ((cohort, genes),) = answers
    assert cohort == min((t.output_id for t in tasks), key=cohort_order_key) and genes

    ids = [t.output_id for t in tasks]
    finished: list[str] = []

    def progress(_: float, message: str) -> None:
        cohort = message.split(":")[0].rsplit("/", 1)[-1]
        if message.endswith(": done"):
            finished.append(cohort)
        elif cohort in ids:  # a slow receiver: the plan's first cohort waits longest at each unit
            time.sleep(0.2 * (len(ids) - 1 - ids.index(cohort)))

    monkeypatch.setenv(WORKERS_ENV, "3")
    out = tmp_path / "team"
    team = run_team(
        AnalysisRequest(trait=trait),
        tied_inputs,
        out,
        progress,
        sandbox="local",
        config=TeamConfig(),
        memory_path=tmp_path / "memory.sqlite",
    )
    assert sorted(finished) == sorted(ids) and finished != ids  # side by side, not in plan order
    # the reference's records (its notes say more about the gene table), in the reference's order
    ((reference_bytes,),) = [tuple(files)]
    reference_info, team_info = json.loads(reference_bytes), json.loads(info_path_of(out, trait).read_text())
    assert list(team_info) == list(reference_info) == sorted(ids, key=cohort_order_key)
    assert _without_notes(team_info) == _without_notes(reference_info)
    assert team.status == "complete" and team.selected_cohorts == [cohort]
    assert [g.gene for g in team.significant_genes] == list(genes)
    provenance = json.loads((out / "provenance.json").read_text())
    assert [t["task_id"] for t in provenance["tasks"]] == [f"{trait}/{c}" for c in ids] + [
        f"statistics/{trait}/None"
    ]


def info_path_of(out: Path, trait: str) -> Path:
    return Path(OutputLayout(out).cohort_info_path(trait))


def _without_notes(info: dict[str, dict]) -> dict[str, dict]:
    return {cohort: {k: v for k, v in record.items() if k != "note"} for cohort, record in info.items()}
