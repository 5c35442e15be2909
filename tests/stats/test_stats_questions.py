"""Whole questions: cohort choice from a GenoTEX-layout folder, each method, the JSON content;
the default method on real TCGA CHOL; the logistic option against statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats import (
    answer_question,
    logistic_association,
    moderated_t_result,
    significant_genes_json,
)
from tests.stats.stats_chol import TRAIT, chol_linked
from tests.stats.stats_synthetic import linked_table

PLANTED = {f"G{i}" for i in range(10)}


def write_cohorts(root: Path, entity: str, cohorts: dict[str, pd.DataFrame], usable: dict[str, bool]) -> None:
    folder = root / entity
    folder.mkdir(parents=True)
    info = {}
    for cohort, table in cohorts.items():
        table.to_csv(folder / f"{cohort}.csv")
        info[cohort] = {
            "is_usable": usable[cohort],
            "is_gene_available": True,
            "is_trait_available": True,
            "is_available": True,
            "is_biased": not usable[cohort],
            "has_age": "Age" in table,
            "has_gender": "Gender" in table,
            "sample_size": len(table),
            "note": "",
        }
    (folder / "cohort_info.json").write_text(json.dumps(info))


@pytest.fixture()
def preprocess_root(tmp_path: Path) -> Path:
    small = linked_table(n=40, genes=150, seed=20)
    large = linked_table(n=90, genes=150, seed=21)
    unusable = linked_table(n=300, genes=150, seed=22)
    write_cohorts(
        tmp_path,
        "Trait",
        {"GSE1": small, "GSE2": large.drop(columns=["Age"]), "GSE3": unusable},
        {"GSE1": True, "GSE2": True, "GSE3": False},
    )
    obesity = linked_table(n=60, genes=150, seed=23).rename(columns={"Trait": "Obesity"})
    write_cohorts(tmp_path, "Obesity", {"GSE9": obesity}, {"GSE9": True})
    return tmp_path


TASK_INFO = {
    "Trait": {"related_genes": ["G0", "G1", "G2"], "conditions": ["Age", "Obesity"]},
    "Obesity": {"related_genes": ["G2", "G3", "G4", "G5"], "conditions": []},
}


def test_default_method_on_the_largest_usable_cohort(preprocess_root: Path) -> None:
    result = answer_question(preprocess_root, "Trait")
    assert result.cohorts == {"trait": "GSE2"}
    content = significant_genes_json(result)
    genes = content["significant_genes"]
    assert content["method"] == "moderated-t" and content["select_by"] is None
    assert PLANTED <= set(genes["Variable"])
    assert genes["p_value"] == sorted(genes["p_value"]) and max(genes["q_value"]) < 0.05
    assert content["details"]["covariates"] == ["Gender"]  # GSE2 has no Age
    assert content["cv_performance"]["prediction"]["f1"] > 80
    json.dumps(content, allow_nan=False)


def test_age_condition_takes_the_largest_cohort_with_age(preprocess_root: Path) -> None:
    result = answer_question(preprocess_root, "Trait", "Age")
    assert result.cohorts == {"trait": "GSE1"}
    assert "Age" in result.details["covariates"]
    genotex = answer_question(preprocess_root, "Trait", "Age", method="genotex")
    assert genotex.cohorts == {"trait": "GSE1"} and genotex.details["condition_coefficient"] is not None


def test_two_step_question_with_each_method(preprocess_root: Path) -> None:
    with pytest.raises(GenoteamError, match="task file"):
        answer_question(preprocess_root, "Trait", "Obesity")
    moderated = answer_question(preprocess_root, "Trait", "Obesity", task_info=TASK_INFO)
    assert moderated.cohorts == {"trait": "GSE2", "condition": "GSE9"}
    assert "Obesity" in moderated.details["covariates"]
    assert any("predicted from 3 known genes" in n for n in moderated.notes)  # G2 is the trait's own
    genotex = answer_question(preprocess_root, "Trait", "Obesity", method="genotex", task_info=TASK_INFO)
    assert genotex.method == "genotex" and genotex.select_by == "cv"
    faithful = answer_question(
        preprocess_root,
        "Trait",
        "Obesity",
        method="genotex",
        select_by="known-genes",
        task_info=TASK_INFO,
        exclude_trait_genes=False,
    )
    content = faithful.to_json_dict()
    assert content["select_by"] == "known-genes" and "selection" in content["cv_performance"]


def test_no_usable_cohort_is_a_clear_error(tmp_path: Path) -> None:
    write_cohorts(tmp_path, "Trait", {"GSE3": linked_table(n=20, genes=10)}, {"GSE3": False})
    with pytest.raises(GenoteamError, match="no usable cohort"):
        answer_question(tmp_path, "Trait")
    with pytest.raises(GenoteamError, match="cohort_info.json not found"):
        answer_question(tmp_path, "Other")


def test_default_method_on_tcga_chol(shared_input: Path) -> None:
    linked = chol_linked(shared_input)
    result = moderated_t_result(linked, TRAIT, cv=False)
    content = result.to_json_dict()
    n_sig = len(content["significant_genes"]["Variable"])
    assert 9000 < n_sig < 11000
    assert content["details"]["covariates"] == ["Age", "Gender"]
    # constant genes leave before the prior fit: d0 2.07 (0.82 with them); R limma agrees on the same
    # genes (tests/stats/test_stats_limma_peers.py)
    assert content["details"]["constant_genes_dropped"] == 866  # raw Xena rows with max == min
    assert content["details"]["df_prior"] == pytest.approx(2.0688, rel=1e-3)
    assert content["coefficient_unit"] == f"log2 fold change ({TRAIT} = 1 vs 0)"
    effects = result.significant.set_index("Variable")
    assert effects["std_effect"].abs().min() > 0


def test_logistic_option_matches_statsmodels() -> None:
    linked = linked_table(n=120, genes=40, seed=30, effect=0.6)
    linked.iloc[:5, 10] = np.nan
    table = logistic_association(linked, "Trait").set_index("gene")
    for gene in ["G0", "G3", "G7", "G20", "G33"]:
        data = linked[["Trait", "Age", "Gender", gene]].dropna()
        full = sm.Logit(data["Trait"], sm.add_constant(data[["Age", "Gender", gene]])).fit(disp=0)
        null = sm.Logit(data["Trait"], sm.add_constant(data[["Age", "Gender"]])).fit(disp=0)
        assert table.loc[gene, "coefficient"] == pytest.approx(full.params[gene], rel=1e-6)
        assert table.loc[gene, "z"] == pytest.approx(full.tvalues[gene], rel=1e-5)
        assert table.loc[gene, "lr_stat"] == pytest.approx(2 * (full.llf - null.llf), rel=1e-6, abs=1e-9)
    assert table.loc[sorted(PLANTED), "q_value"].lt(0.05).sum() >= 7
    with pytest.raises(GenoteamError, match="0/1 trait"):
        logistic_association(linked.assign(Trait=np.linspace(0, 1, len(linked))), "Trait")


def test_logistic_method_through_a_question(preprocess_root: Path) -> None:
    result = answer_question(preprocess_root, "Trait", method="logistic")
    content = result.to_json_dict()
    assert content["method"] == "logistic" and result.cohorts == {"trait": "GSE2"}
    assert len(PLANTED & set(result.genes)) >= 8
    assert {"p_value", "q_value"} <= set(content["significant_genes"])
    with pytest.raises(GenoteamError, match="unknown method"):
        answer_question(preprocess_root, "Trait", method="lasso")
