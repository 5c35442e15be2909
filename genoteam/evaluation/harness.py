"""Evaluate a GenoTEX-layout output folder against a reference folder, as GenoTEX's eval.py does.

Both folders hold `preprocess/<Trait>/{gene_data,clinical_data}/<cohort>.csv`, the linked
`preprocess/<Trait>/<cohort>.csv`, `preprocess/<Trait>/cohort_info.json` and
`regress/<Trait>/significant_genes_condition_<Condition|None>.json`. The reference decides what
is evaluated; what the prediction lacks is counted the way GenoTEX counts it, and the report
says how many items were missing or unreadable so that a low coverage never hides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from genoteam.evaluation import metrics as m
from genoteam.evaluation.constants import SUBTASKS, TASKS
from genoteam.toolkit.errors import GenoteamError, InputFileError
from genoteam.toolkit.layout import SIGNIFICANT_PREFIX, OutputLayout, json_safe
from genoteam.toolkit.stats.selection import rank_cohort_pairs, select_one_step_cohort

CohortInfo = dict[str, dict[str, Any]]
Question = tuple[str, str | None]


def table_dir(layout: OutputLayout, trait: str, subtask: str) -> Path:
    """The folder of one preprocessing subtask's tables: gene_data/, clinical_data/ or the trait's own."""
    folders = {"gene": layout.gene_data_dir, "clinical": layout.clinical_data_dir, "linked": layout.trait_dir}
    return Path(folders[subtask](trait))


def condition_from_filename(filename: str) -> str:
    """'significant_genes_condition_Age.json' -> 'Age' (GenoTEX: everything after the 3rd '_')."""
    return "_".join(filename.split("_")[3:])[: -len(".json")]


# ---------------------------------------------------------------- reading


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(
            path, f"cannot be read as JSON ({error})", "fix or regenerate the file"
        ) from error


def read_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, index_col=0)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as error:
        raise InputFileError(path, f"cannot be read as a CSV table ({error})", "regenerate it") from error


def read_gene_list(path: Path) -> tuple[list[str], dict[str, Any]]:
    """The significant genes ('Variable') of a result file, and its cv_performance (may be {})."""
    data = read_json(path)
    try:
        genes = data["significant_genes"]["Variable"]
    except (KeyError, TypeError) as error:
        raise InputFileError(
            path, "has no significant_genes.Variable list", "regenerate the result"
        ) from error
    if not isinstance(genes, list):
        raise InputFileError(path, "significant_genes.Variable is not a list", "regenerate the result")
    performance = data.get("cv_performance") if isinstance(data, dict) else None
    return [str(g) for g in genes], performance if isinstance(performance, dict) else {}


def load_task_info(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    info = read_json(Path(path))
    if not isinstance(info, dict):
        raise InputFileError(path, "is not a task file ({trait: {related_genes, conditions}})")
    return info


# ---------------------------------------------------------------- questions


def task_questions(task_info: dict[str, Any]) -> list[Question]:
    """GenoTEX's questions of a task file: every trait unconditioned, then with each condition."""
    pairs: list[Question] = []
    for trait in sorted(task_info):
        pairs.append((trait, None))
        pairs.extend((trait, c) for c in task_info[trait].get("conditions", []))
    return pairs


def question_pairs(ref: OutputLayout, task_info: dict[str, Any] | None) -> list[Question]:
    """The (trait, condition) questions to evaluate.

    With a task file, GenoTEX's list: every trait, unconditioned and with each of its conditions.
    Without one, the questions the reference answers: each trait folder in preprocess/ and
    regress/ unconditioned, plus each condition of a reference result file.
    """
    if task_info is not None:
        return task_questions(task_info)
    traits: set[str] = set()
    for folder in (ref.preprocess_dir, ref.regress_root):
        if folder.is_dir():
            traits |= {p.name for p in folder.iterdir() if p.is_dir()}
    pairs = []
    for trait in sorted(traits):
        pairs.append((trait, None))
        trait_regress = ref.regress_root / trait
        if trait_regress.is_dir():
            for path in sorted(trait_regress.glob(f"{SIGNIFICANT_PREFIX}*.json")):
                condition = condition_from_filename(path.name)
                if condition.lower() != "none":
                    pairs.append((trait, condition))
    return pairs


# ---------------------------------------------------------------- dataset filtering and selection


def select_cohorts(
    layout: OutputLayout, trait: str, condition: str | None, task_info: dict[str, Any] | None
) -> str | tuple[str, str] | None:
    """GenoTEX's cohort choice for one question in one output folder (None: no usable choice)."""
    if not layout.cohort_info_path(trait).is_file():
        return None
    trait_info = layout.cohort_info(trait)
    if m.question_category(condition) != m.TWO_STEP:
        return select_one_step_cohort(trait_info, condition)
    assert condition is not None and task_info is not None
    if not layout.cohort_info_path(condition).is_file():
        return None
    condition_info = layout.cohort_info(condition)
    condition_genes = task_info.get(condition, {}).get("related_genes", [])
    for trait_id, cond_id, _ in rank_cohort_pairs(trait_info, condition_info):
        try:
            trait_csv, cond_csv = (
                layout.linked_data_path(trait, trait_id),
                layout.linked_data_path(condition, cond_id),
            )
        except GenoteamError:  # a cohort id that is no file name (a path in it) names no table
            continue
        if not (trait_csv.is_file() and cond_csv.is_file()):
            continue
        try:
            trait_cols = pd.read_csv(trait_csv, index_col=0, nrows=0).columns
            cond_cols = pd.read_csv(cond_csv, index_col=0, nrows=0).columns
        except (OSError, ValueError, pd.errors.ParserError):
            continue  # GenoTEX also moves on to the next pair when a table cannot be read
        if m.gene_regressors(trait, condition, trait_cols, cond_cols, condition_genes):
            return trait_id, cond_id
    return None


def evaluate_selection(
    pred: OutputLayout, ref: OutputLayout, pairs: list[Question], task_info: dict[str, Any] | None
) -> dict[str, Any]:
    """Dataset filtering (per trait, on is_available) and selection (per question) scores."""
    filtering: list[dict[str, Any]] = []
    selection: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    seen: set[str] = set()
    for trait, condition in pairs:
        if not ref.cohort_info_path(trait).is_file():
            skipped.append(
                {"trait": trait, "condition": condition, "reason": "no reference cohort_info.json"}
            )
            continue
        if not pred.cohort_info_path(trait).is_file():
            skipped.append(
                {"trait": trait, "condition": condition, "reason": "no predicted cohort_info.json"}
            )
            continue
        try:
            pred_info = pred.cohort_info(trait)
        except InputFileError as error:
            skipped.append({"trait": trait, "condition": condition, "reason": error.problem})
            continue
        if trait not in seen:
            seen.add(trait)
            counts = m.filtering_confusion(ref.cohort_info(trait), pred_info)
            filtering.append({**m.confusion_metrics(**counts), **counts, "trait": trait})
        if m.question_category(condition) == m.TWO_STEP and task_info is None:
            skipped.append(
                {"trait": trait, "condition": condition, "reason": "two-step selection needs --task-info"}
            )
            continue
        ref_choice = select_cohorts(ref, trait, condition, task_info)
        try:
            pred_choice = select_cohorts(pred, trait, condition, task_info)
        except InputFileError as error:  # e.g. the condition's predicted cohort_info is corrupt
            skipped.append({"trait": trait, "condition": condition, "reason": error.problem})
            continue
        selection.append(
            {
                "accuracy": 100.0 if ref_choice == pred_choice else 0.0,
                "trait": trait,
                "condition": condition,
                "reference_choice": _jsonable_choice(ref_choice),
                "predicted_choice": _jsonable_choice(pred_choice),
            }
        )
    return {
        "filtering": {"per_trait": filtering, "average": m.average_metrics(filtering)},
        "selection": {"per_question": selection, "average": m.average_metrics(selection)},
        "skipped": skipped,
    }


def _jsonable_choice(choice: str | tuple[str, str] | None) -> str | list[str] | None:
    return list(choice) if isinstance(choice, tuple) else choice


# ---------------------------------------------------------------- preprocessing


def evaluate_preprocessing(
    pred: OutputLayout, ref: OutputLayout, subtasks: tuple[str, ...] = SUBTASKS
) -> dict[str, Any]:
    """CSC of every reference table that the prediction also has, per subtask.

    GenoTEX leaves missing predicted tables out of the average; they are listed here, and a
    second average that counts each of them as 0 is given next to GenoTEX's.
    """
    results: dict[str, Any] = {}
    traits = (
        sorted(p.name for p in ref.preprocess_dir.iterdir() if p.is_dir())
        if ref.preprocess_dir.is_dir()
        else []
    )
    for subtask in subtasks:
        per_file: list[dict[str, Any]] = []
        missing: list[str] = []
        unreadable: list[str] = []
        transposed: list[str] = []
        for trait in traits:
            ref_dir = table_dir(ref, trait, subtask)
            if not ref_dir.is_dir():
                continue
            for ref_path in sorted(ref_dir.glob("*.csv")):
                pred_path = table_dir(pred, trait, subtask) / ref_path.name
                label = f"{trait}/{ref_path.name}"
                if not pred_path.is_file():
                    missing.append(label)
                    continue
                ref_table = m.as_samples_by_features(read_table(ref_path), subtask)
                try:
                    pred_table = m.as_samples_by_features(read_table(pred_path), subtask)
                except InputFileError:
                    unreadable.append(label)
                    scores = m.zero_similarity()  # GenoTEX scores a table it cannot read as 0
                else:
                    scores = m.composite_similarity(pred_table, ref_table)
                    if m.looks_transposed(pred_table, ref_table):
                        transposed.append(label)
                per_file.append({**scores, "trait": trait, "file": ref_path.name})
        zeros = [m.zero_similarity() for _ in missing]
        results[subtask] = {
            "n_reference": len(per_file) + len(missing),
            "n_evaluated": len(per_file),
            "n_missing": len(missing),
            "missing": missing,
            "unreadable": unreadable,
            "transposed": transposed,
            "average": m.average_metrics(per_file),
            "average_missing_as_zero": m.average_metrics(per_file + zeros),
            "per_file": per_file,
        }
    return results


# ---------------------------------------------------------------- statistical analysis


def evaluate_question(ref_file: Path, pred_file: Path, n_genes: int) -> tuple[dict[str, float], str]:
    """GenoTEX's metrics of one question, and its status: ok, missing or unreadable.

    A missing result is a failure (success 0) whose other metrics are NaN, so the averages of
    precision etc. are over the questions that produced a result, as in GenoTEX.
    """
    ref_genes, _ = read_gene_list(ref_file)
    scores: dict[str, float] = {
        "success": 0.0,
        "precision": float("nan"),
        "recall": float("nan"),
        "f1": float("nan"),
        "jaccard": float("nan"),
        "auroc": float("nan"),
        "gsea_es": float("nan"),
        "trait_pred_accuracy": float("nan"),
        "trait_pred_f1": float("nan"),
    }
    if not pred_file.is_file():
        return scores, "missing"
    try:
        pred_genes, performance = read_gene_list(pred_file)
    except InputFileError:
        return scores, "unreadable"
    scores.update(m.evaluate_gene_selection(pred_genes, ref_genes, n_genes))
    prediction = performance.get("prediction", {}) if isinstance(performance, dict) else {}
    for ours, theirs in (("trait_pred_accuracy", "accuracy"), ("trait_pred_f1", "f1")):
        value = prediction.get(theirs) if isinstance(prediction, dict) else None
        if isinstance(value, int | float):
            scores[ours] = float(value)
    scores["success"] = 100.0
    return scores, "ok"


def evaluate_analysis(
    pred: OutputLayout, ref: OutputLayout, n_genes: int = m.GENOTEX_N_GENES
) -> dict[str, Any]:
    """Gene-selection metrics per question of the reference, averaged per question type."""
    per_question: dict[Question, dict[str, float]] = {}
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    unreadable: list[str] = []
    regress = ref.regress_root
    trait_dirs = sorted(p for p in regress.iterdir() if p.is_dir()) if regress.is_dir() else []
    for trait_dir in trait_dirs:
        for ref_file in sorted(trait_dir.glob("significant_genes*.json")):
            condition = condition_from_filename(ref_file.name)
            pred_file = pred.regress_root / trait_dir.name / ref_file.name
            scores, status = evaluate_question(ref_file, pred_file, n_genes)
            label = f"{trait_dir.name}/{ref_file.name}"
            if status == "missing":
                missing.append(label)
            elif status == "unreadable":
                unreadable.append(label)
            per_question[(trait_dir.name, condition)] = scores
            rows.append(
                {"trait": trait_dir.name, "condition": condition, "category": m.question_category(condition)}
                | scores
            )
    return {
        "n_questions": len(rows),
        "n_missing": len(missing),
        "missing": missing,
        "unreadable": unreadable,
        "by_category": m.aggregate_by_category(per_question),
        "per_question": rows,
    }


# ---------------------------------------------------------------- all of it


def evaluate(
    pred_dir: Path | str,
    ref_dir: Path | str,
    task_info_path: Path | str | None = None,
    n_genes: int = m.GENOTEX_N_GENES,
    tasks: tuple[str, ...] = TASKS,
) -> dict[str, Any]:
    """GenoTEX's evaluation of pred_dir against ref_dir, as one JSON-ready report.

    `tasks` picks among selection, preprocessing and analysis (GenoTEX's -t); a task left out
    has no entry in the report.
    """
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise GenoteamError(
            f"unknown evaluation task(s) {sorted(unknown)}", f"choose among {', '.join(TASKS)}"
        )
    pred, ref = OutputLayout(Path(pred_dir)), OutputLayout(Path(ref_dir))
    if not ref.root.is_dir():
        raise GenoteamError(
            f"reference folder {ref.root} does not exist", "give --ref a GenoTEX output folder"
        )
    if not (ref.preprocess_dir.is_dir() or ref.regress_root.is_dir()):
        raise GenoteamError(
            f"reference folder {ref.root} has neither preprocess/ nor regress/",
            "give --ref the folder that contains preprocess/ and regress/",
        )
    if not pred.root.is_dir():
        raise GenoteamError(f"prediction folder {pred.root} does not exist", "give --pred an output folder")
    task_info = load_task_info(Path(task_info_path) if task_info_path else None)
    pairs = question_pairs(ref, task_info)
    report: dict[str, Any] = {
        "pred": str(pred.root),
        "ref": str(ref.root),
        "task_info": str(task_info_path) if task_info_path else None,
        "n_genes_padding": n_genes,
    }
    if "selection" in tasks:
        report["dataset"] = evaluate_selection(pred, ref, pairs, task_info)
    if "preprocessing" in tasks:
        report["preprocessing"] = evaluate_preprocessing(pred, ref)
    if "analysis" in tasks:
        report["analysis"] = evaluate_analysis(pred, ref, n_genes)
    return json_safe(report)


def evaluate_against_truth(
    pred_dir: Path | str, truth_path: Path | str, n_genes: int = m.GENOTEX_N_GENES
) -> dict[str, Any]:
    """Gene metrics of every result of the truth's trait against the planted trait genes.

    For synthetic cohorts (genoteam.synthetic): the planted genes are the answer to every
    question about the trait, whatever the condition, so each result file is scored against them.
    """
    truth = read_json(Path(truth_path))
    try:
        trait, planted = truth["trait"], [g["gene"] for g in truth["trait_genes"]]
    except (KeyError, TypeError) as error:
        raise InputFileError(truth_path, "is not a genoteam synthetic truth.json", "regenerate it") from error
    pred = OutputLayout(Path(pred_dir))
    results = sorted((pred.regress_root / trait).glob("significant_genes*.json"))
    if not results:
        raise GenoteamError(
            f"no result for trait {trait} under {pred.regress_root / trait}",
            "run the analysis on the synthetic cohorts first (the output folder holds regress/<Trait>/)",
        )
    rows = []
    for path in results:
        try:
            genes, _ = read_gene_list(path)
        except InputFileError as error:
            rows.append(
                {"file": path.name, "condition": condition_from_filename(path.name), "error": error.problem}
            )
            continue
        rows.append(
            {"file": path.name, "condition": condition_from_filename(path.name), "n_predicted": len(genes)}
            | m.evaluate_gene_selection(genes, planted, n_genes)
        )
    return json_safe(
        {
            "trait": trait,
            "n_planted": len(planted),
            "per_result": rows,
            "usability": _usability(pred, trait, truth),
        }
    )


def _usability(pred: OutputLayout, trait: str, truth: dict[str, Any]) -> dict[str, Any] | None:
    """Predicted is_usable of each synthetic cohort against the generator's expectation."""
    if not pred.cohort_info_path(trait).is_file():
        return None
    info = pred.cohort_info(trait)
    rows = []
    for cohort in truth.get("cohorts", []):
        if "expected_usable" not in cohort:
            continue
        cohort_id = "TCGA" if cohort["source"] == "TCGA" else cohort["cohort"]
        predicted = info.get(cohort_id, {}).get("is_usable") if cohort_id in info else None
        rows.append(
            {
                "cohort": cohort_id,
                "expected_usable": cohort["expected_usable"],
                "predicted_usable": predicted,
                "correct": predicted == cohort["expected_usable"],
            }
        )
    accuracy = 100.0 * sum(r["correct"] for r in rows) / len(rows) if rows else float("nan")
    return {"accuracy": accuracy, "per_cohort": rows}
