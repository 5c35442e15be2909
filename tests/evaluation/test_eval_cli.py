"""`genoteam eval` on two small GenoTEX-layout folders written here, with hand-computed scores."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genoteam.cli import main
from genoteam.evaluation.harness import evaluate


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path)


def _info(usable: bool, available: bool, size: int, age: bool, gender: bool) -> dict:
    return {
        "is_usable": usable,
        "is_gene_available": available,
        "is_trait_available": available,
        "is_available": available,
        "is_biased": not usable,
        "has_age": age,
        "has_gender": gender,
        "sample_size": size,
        "note": "",
    }


def _result(genes: list[str], accuracy: float | None = None) -> dict:
    performance = {"prediction": {"accuracy": accuracy, "f1": 70.0}} if accuracy is not None else {}
    return {
        "significant_genes": {
            "Variable": genes,
            "Coefficient": [1.0] * len(genes),
            "Absolute Coefficient": [1.0] * len(genes),
        },
        "cv_performance": performance,
    }


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    ref, pred = tmp_path / "ref", tmp_path / "pred"
    # cohort_info: ref GSE1 (available, 3 samples, age), GSE2 (unavailable), TCGA (available, 4, no age)
    _write_json(
        ref / "preprocess/TraitA/cohort_info.json",
        {
            "GSE1": _info(True, True, 3, True, False),
            "GSE2": _info(False, False, 0, False, False),
            "TCGA": _info(True, True, 4, False, True),
        },
    )
    # pred: GSE1 as ref, GSE2 called available with 10 samples (no age), TCGA absent
    _write_json(
        pred / "preprocess/TraitA/cohort_info.json",
        {
            "GSE1": _info(True, True, 3, True, False),
            "GSE2": _info(True, True, 10, False, False),
        },
    )
    samples = ["S1", "S2", "S3"]
    _write_csv(
        ref / "preprocess/TraitA/gene_data/GSE1.csv",
        pd.DataFrame([[1, 2, 3], [1, 2, 3], [5, 5, 5]], index=["G1", "G2", "G3"], columns=samples),
    )
    _write_csv(
        pred / "preprocess/TraitA/gene_data/GSE1.csv",
        pd.DataFrame([[2, 4, 6], [1, 3, 2], [0, 1, 0]], index=["G1", "G2", "G4"], columns=samples),
    )
    _write_csv(
        ref / "preprocess/TraitA/gene_data/TCGA.csv",  # no predicted counterpart: missing
        pd.DataFrame([[1, 2]], index=["G1"], columns=["T1", "T2"]),
    )
    _write_csv(
        ref / "preprocess/TraitA/clinical_data/GSE1.csv",
        pd.DataFrame([[1, 0, 1], [30, 40, 50]], index=["TraitA", "Age"], columns=samples),
    )
    _write_csv(
        pred / "preprocess/TraitA/clinical_data/GSE1.csv",
        pd.DataFrame([[1, 0, 0], [30, None, 70]], index=["TraitA", "Age"], columns=["S1", "S2", "S4"]),
    )
    linked_ref = pd.DataFrame(
        {"TraitA": [1, 0, 1], "Age": [30, 40, 50], "G1": [1, 2, 3], "G2": [1, 2, 3]}, index=samples
    )
    _write_csv(ref / "preprocess/TraitA/GSE1.csv", linked_ref)
    _write_csv(pred / "preprocess/TraitA/GSE1.csv", linked_ref.assign(G2=[3, 2, 1]))
    _write_json(ref / "regress/TraitA/significant_genes_condition_None.json", _result(["G1", "G2", "G3"]))
    _write_json(pred / "regress/TraitA/significant_genes_condition_None.json", _result(["G2", "G5"], 80.0))
    _write_json(ref / "regress/TraitA/significant_genes_condition_Age.json", _result(["G1"]))  # pred missing
    _write_json(ref / "regress/TraitA/significant_genes_condition_TraitB.json", _result(["G4", "G6"]))
    _write_json(pred / "regress/TraitA/significant_genes_condition_TraitB.json", _result(["G6", "G4", "G7"]))
    return pred, ref


def test_eval_cli_prints_a_table_and_writes_hand_computed_json(folders, tmp_path, capsys):
    pred, ref = folders
    out = tmp_path / "report" / "eval.json"
    assert main(["eval", "--pred", str(pred), "--ref", str(ref), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Dataset filtering" in printed and "Statistical analysis" in printed
    assert "two-step selection needs --task-info" in printed
    report = json.loads(out.read_text())

    # filtering on TraitA: GSE1 tp, GSE2 fp, TCGA fn -> precision 1/2, recall 1/2, f1 1/2, accuracy 1/3
    filt = report["dataset"]["filtering"]["average"]
    assert (filt["precision"], filt["recall"], filt["f1"], filt["accuracy"]) == (50.0, 50.0, 50.0, 33.33)
    # selection: None -> ref TCGA (4 > 3) vs pred GSE2 (10): wrong; Age -> ref GSE1 (TCGA has no age)
    # vs pred GSE1 (GSE2 has no age): right; TraitB is two-step and needs the task file: not scored
    sel = {q["condition"]: q for q in report["dataset"]["selection"]["per_question"]}
    assert (sel[None]["reference_choice"], sel[None]["predicted_choice"], sel[None]["accuracy"]) == (
        "TCGA",
        "GSE2",
        0.0,
    )
    assert (sel["Age"]["predicted_choice"], sel["Age"]["accuracy"]) == ("GSE1", 100.0)
    assert report["dataset"]["selection"]["average"]["accuracy"] == 50.0
    assert [s["condition"] for s in report["dataset"]["skipped"]] == ["TraitB"]

    pre = report["preprocessing"]
    # gene: genes {G1,G2} of {G1..G4}: 1/2; samples 1; r(G1) = 1, r(G2: 1,2,3 vs 1,3,2) = 1/2 -> 0.75
    gene = pre["gene"]["per_file"][0]
    assert gene["composite_similarity_correlation"] == pytest.approx(0.5 * 1 * 0.75)
    # GenoTEX leaves the missing TCGA table out; counted as 0 it halves the mean
    assert (pre["gene"]["n_reference"], pre["gene"]["n_missing"], pre["gene"]["missing"]) == (
        2,
        1,
        ["TraitA/TCGA.csv"],
    )
    # (averages are rounded to 2 decimals, as GenoTEX prints them: 0.375 -> 0.38, 0.1875 -> 0.19)
    assert pre["gene"]["average"]["composite_similarity_correlation"] == 0.38
    assert pre["gene"]["average_missing_as_zero"]["composite_similarity_correlation"] == 0.19
    # clinical: features 2/2; samples {S1,S2} of {S1..S4}: 1/2; trait r = 1; Age pred (30, NaN -> 30)
    # is constant on S1,S2 -> left out -> mean 1 -> CSC 0.5
    assert pre["clinical"]["per_file"][0]["composite_similarity_correlation"] == pytest.approx(0.5)
    # linked: identical but G2 reversed: r = 1, 1, 1, -1 -> 0.5
    assert pre["linked"]["per_file"][0]["composite_similarity_correlation"] == pytest.approx(0.5)
    assert pre["linked"]["n_missing"] == 0

    ana = report["analysis"]
    assert (ana["n_questions"], ana["n_missing"], ana["missing"]) == (
        3,
        1,
        ["TraitA/significant_genes_condition_Age.json"],
    )
    cats = ana["by_category"]
    # None: pred G2,G5 vs ref G1,G2,G3: precision 1/2, recall 1/3, f1 0.4, jaccard 1/4;
    # G2 ranks first and is the only hit: AUROC 1, GSEA-ES 1
    unc = cats["Unconditional one-step"]
    assert (unc["success"], unc["precision"], unc["recall"], unc["f1"], unc["jaccard"]) == (
        100.0,
        50.0,
        33.33,
        40.0,
        25.0,
    )
    assert (unc["auroc"], unc["gsea_es"], unc["trait_pred_accuracy"]) == (1.0, 1.0, 80.0)
    # Age: no prediction -> success 0 and no other score (NaN -> null)
    assert cats["Conditional one-step"]["success"] == 0.0 and cats["Conditional one-step"]["f1"] is None
    # TraitB: G6,G4,G7 vs G4,G6: precision 2/3, recall 1, f1 0.8, jaccard 2/3
    two = cats["Two-step"]
    assert (two["precision"], two["recall"], two["f1"], two["jaccard"]) == (66.67, 100.0, 80.0, 66.67)
    # overall: success 2 of 3; precision mean(50, 66.67); f1 mean(40, 80)
    allq = cats["Overall"]
    assert (allq["success"], allq["precision"], allq["f1"]) == (66.67, 58.33, 60.0)


def test_two_step_selection_uses_the_task_file(folders, tmp_path):
    pred, ref = folders
    task = tmp_path / "task_info.json"
    _write_json(
        task,
        {
            "TraitA": {"related_genes": ["G1"], "conditions": ["Age", "TraitB"]},
            "TraitB": {"related_genes": ["G2", "G9"], "conditions": []},
        },
    )
    for root, size in ((ref, 5), (pred, 50)):
        _write_json(
            root / "preprocess/TraitB/cohort_info.json",
            {"GSE7": _info(True, True, size, False, False), "GSE8": _info(True, True, 6, False, False)},
        )
        _write_csv(root / "preprocess/TraitB/GSE7.csv", pd.DataFrame({"TraitB": [1, 0], "G2": [1, 2]}))
        _write_csv(root / "preprocess/TraitB/GSE8.csv", pd.DataFrame({"TraitB": [1, 0], "G3": [1, 2]}))
    report = evaluate(pred, ref, task)
    sel = {(q["trait"], q["condition"]): q for q in report["dataset"]["selection"]["per_question"]}
    # ref: pairs by product: TCGA(4) x GSE8(6)=24 first, but TCGA has no linked table; GSE1(3) x GSE8 = 18:
    # GSE8 lacks G2 -> no regressor; then TCGA x GSE7 (20, no table), GSE1 x GSE7 (15): G2 shared -> chosen
    assert sel[("TraitA", "TraitB")]["reference_choice"] == ["GSE1", "GSE7"]
    # pred: GSE2(10) x GSE7(50) = 500 first but GSE2 has no linked table; GSE1 x GSE7 = 150 -> same pair
    assert sel[("TraitA", "TraitB")]["accuracy"] == 100.0
    # the task file's questions are evaluated: TraitB (no conditions) gets its own question
    assert ("TraitB", None) in sel and report["dataset"]["skipped"] == []


def test_missing_reference_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "--pred", str(tmp_path), "--ref", str(tmp_path / "nope")]) == 1
    assert "reference folder" in capsys.readouterr().err


def test_a_corrupt_predicted_result_counts_as_a_failure_and_is_listed(folders):
    pred, ref = folders
    (pred / "regress/TraitA/significant_genes_condition_None.json").write_text("{not json")
    report = evaluate(pred, ref)
    assert report["analysis"]["unreadable"] == ["TraitA/significant_genes_condition_None.json"]
    assert report["analysis"]["by_category"]["Unconditional one-step"]["success"] == 0.0


def test_a_folder_scored_against_itself_is_perfect(folders):
    _, ref = folders
    report = evaluate(ref, ref)
    assert report["dataset"]["filtering"]["average"]["f1"] == 100.0
    assert report["dataset"]["selection"]["average"]["accuracy"] == 100.0
    for subtask in ("gene", "clinical", "linked"):
        assert report["preprocessing"][subtask]["n_missing"] == 0
        assert report["preprocessing"][subtask]["average"]["composite_similarity_correlation"] == 1.0
    overall = report["analysis"]["by_category"]["Overall"]
    assert (overall["success"], overall["f1"], overall["jaccard"], overall["auroc"]) == (
        100.0,
        100.0,
        100.0,
        1.0,
    )


def test_truth_mode_scores_results_against_planted_genes(tmp_path, capsys):
    from genoteam.synthetic import SynthConfig, generate

    truth = generate(SynthConfig(n_genes=100, n_samples=10, seed=4, kind="tcga"), tmp_path / "syn")
    planted = [g["gene"] for g in truth["trait_genes"]]  # 5 genes
    pred = tmp_path / "pred"
    trait = truth["trait"]
    _write_json(
        pred / f"regress/{trait}/significant_genes_condition_None.json", _result(planted[:3] + ["NOPE"])
    )
    # the TCGA cohort has both classes, so it is expected usable: calling it unusable is wrong
    _write_json(pred / f"preprocess/{trait}/cohort_info.json", {"TCGA": _info(False, True, 10, True, True)})
    out = tmp_path / "truth_eval.json"
    assert (
        main(["eval", "--pred", str(pred), "--truth", str(tmp_path / "syn/truth.json"), "--json", str(out)])
        == 0
    )
    report = json.loads(out.read_text())
    assert report["usability"] == {
        "accuracy": 0.0,
        "per_cohort": [
            {"cohort": "TCGA", "expected_usable": True, "predicted_usable": False, "correct": False}
        ],
    }
    row = report["per_result"][0]
    # 3 of 4 predicted are planted, 3 of 5 planted found: P 75, R 60, F1 = 2*.75*.6/1.35 = 2/3, J = 3/6
    assert (row["precision"], row["recall"], row["jaccard"]) == (75.0, 60.0, 50.0)
    assert row["f1"] == pytest.approx(200 / 3)
    assert "Recovery of the 5 planted genes" in capsys.readouterr().out
    assert main(["eval", "--pred", str(tmp_path / "empty"), "--truth", str(tmp_path / "syn/truth.json")]) == 1


def test_a_transposed_table_scores_zero_as_in_genotex_and_is_flagged(folders, capsys):
    pred, ref = folders
    # GenoTEX writes TCGA clinical tables samples x features (GEO ones features x samples) and its
    # evaluator transposes both; a prediction written the other way round shares no column
    samples_by_features = pd.DataFrame({"TraitA": [1, 0, 1], "Age": [50, 60, 70]}, index=["T1", "T2", "T3"])
    _write_csv(ref / "preprocess/TraitA/clinical_data/TCGA.csv", samples_by_features)
    _write_csv(pred / "preprocess/TraitA/clinical_data/TCGA.csv", samples_by_features.T)
    assert main(["eval", "--pred", str(pred), "--ref", str(ref)]) == 0
    assert "look transposed" in capsys.readouterr().out
    report = evaluate(pred, ref)
    clinical = report["preprocessing"]["clinical"]
    tcga = next(f for f in clinical["per_file"] if f["file"] == "TCGA.csv")
    # columns {T1,T2,T3} vs {TraitA, Age}: Jaccard 0 -> CSC 0
    assert tcga["attributes_jaccard"] == 0.0 and tcga["composite_similarity_correlation"] == 0.0
    assert clinical["transposed"] == ["TraitA/TCGA.csv"]


def test_tasks_can_be_chosen_like_genotex_dash_t(folders, tmp_path, capsys):
    pred, ref = folders
    out = tmp_path / "only_analysis.json"
    assert (
        main(["eval", "--pred", str(pred), "--ref", str(ref), "--tasks", "analysis", "--json", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "Statistical analysis" in printed and "Preprocessing" not in printed and "Dataset" not in printed
    report = json.loads(out.read_text())
    assert "analysis" in report and "preprocessing" not in report and "dataset" not in report
