"""GenoTEX-faithful modes (`--genotex-version 2024|2025`): each procedure fact pinned on small
tables, and the 2024 mode end to end on TCGA CHOL with GenoTEX's 2024 known-gene file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoteam.cli import main
from genoteam.pipeline.api import AnalysisRequest
from genoteam.toolkit.genotex_versions import VERSIONS, gene_list_sha256
from genoteam.toolkit.stats.genotex import FoldRun, choose_penalty, genotex_one_step
from genoteam.toolkit.stats.questions import genotex_result
from genoteam.toolkit.symbols import normalize_gene_symbols
from tests.stats.stats_synthetic import linked_table


def _genes(names: list[str]) -> pd.DataFrame:
    values = np.arange(len(names) * 2, dtype=float).reshape(len(names), 2)
    return pd.DataFrame(values, index=names, columns=["S1", "S2"])


def test_2024_keeps_only_exact_current_symbols_in_the_source_row_order():
    # ZZZ3 first: sorted output would put it last; LFS1 and MUM1 are aliases (of TP53 and IRF4),
    # tp53 is a symbol in the wrong case, XYZ123 unknown: 2024 drops them all, renames nothing
    table = _genes(["ZZZ3", "LFS1", "TP53", "tp53", "MUM1", "A1BG", "XYZ123", "GAPDH", "TP53"])
    kept, report = normalize_gene_symbols(table, policy=VERSIONS["2024"].symbol_policy)
    assert list(kept.index) == ["ZZZ3", "TP53", "A1BG", "GAPDH"]
    assert kept.loc["TP53"].tolist() == table.iloc[2].tolist()  # its own values: nothing averaged
    assert report.rows_renamed == 0 and report.rows_merged == 0 and report.genes_out == 4
    assert report.dropped == {
        "LFS1": "not an exact current symbol",
        "tp53": "not an exact current symbol",
        "MUM1": "not an exact current symbol",
        "XYZ123": "not an exact current symbol",
        "TP53": "repeated name",
    }
    assert "Entrez Gene" in report.source and "4 not an exact current symbol dropped" in report.summary()
    # the 2025 (GenoTEX's current) rule renames aliases, averages and sorts: a different table
    current, _ = normalize_gene_symbols(table, policy=VERSIONS["2025"].symbol_policy)
    assert list(current.index) == sorted(current.index) and "IRF4" in current.index


def _run(penalty: float, precision: float, f1: float) -> FoldRun:
    return FoldRun(penalty, {"f1": 50.0}, {"precision": precision, "f1": f1}, np.zeros((5, 1), bool))


def test_2024_penalty_is_the_best_cv_f1_against_known_genes_ties_to_the_smaller_alpha():
    grid = VERSIONS["2024"]
    runs = [_run(1e-6, 1.0, 2.0), _run(1e-4, 9.0, 5.0), _run(1e-2, 4.0, 8.0), _run(1.0, 0.0, 0.0)]
    assert choose_penalty(runs, True, "known-genes", grid)[0] == 1e-2  # best F1
    assert choose_penalty(runs, True, "known-genes", VERSIONS["2025"])[0] == 1e-4  # best precision
    ties = [_run(1e-2, 3.0, 6.0), _run(1e-6, 3.0, 6.0), _run(1.0, 3.0, 6.0)]  # order does not matter
    assert choose_penalty(ties, True, "known-genes", grid)[0] == 1e-6


def test_2024_has_no_fallback_when_no_penalty_selects_a_known_gene():
    none = [_run(1e-4, 0.0, 0.0), _run(1e-6, 0.0, 0.0), _run(1.0, 0.0, 0.0)]
    penalty, _, run = choose_penalty(none, True, "known-genes", VERSIONS["2024"])
    assert penalty == 1e-6 and run.penalty == 1e-6  # ties to the smaller alpha, no 0.1
    assert choose_penalty(none, True, "known-genes", VERSIONS["2025"])[0] == 0.1  # 2025 falls back


def test_each_version_runs_its_own_grid_and_records_order_hash_and_iterations():
    linked = linked_table(n=40, genes=60, seed=3)
    task_info = {"Trait": {"related_genes": ["G0", "G1", "G2", "G50"], "conditions": []}}
    fit = genotex_one_step(linked, "Trait", task_info=task_info, version="2024")
    assert [t["penalty"] for t in fit.tuning] == [1e-6, 1e-4, 1e-2, 1.0]
    assert fit.select_by == "known-genes" and fit.genotex_version == "2024"
    best = max(fit.tuning, key=lambda t: (t["selection"]["f1"], -t["penalty"]))
    assert fit.penalty == best["penalty"]
    genes = [c for c in linked.columns if c not in {"Trait", "Age", "Gender"}]
    assert fit.gene_order_sha256 == hashlib.sha256("\n".join(genes).encode()).hexdigest()
    assert fit.gene_order_sha256 != gene_list_sha256(genes[::-1])  # the hash knows the order
    assert fit.solver_iterations >= 1 and fit.column_order["selected"] == int((fit.coefficients != 0).sum())
    fit25 = genotex_one_step(linked, "Trait", task_info=task_info, version="2025")
    assert [t["penalty"] for t in fit25.tuning] == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    details = genotex_result(fit).to_json_dict()["details"]
    assert details["genotex_version"] == "2024" and details["penalties"] == [1e-6, 1e-4, 1e-2, 1.0]
    assert details["solver_iterations"] == fit.solver_iterations and "symbol_snapshot" in details
    assert any("statistics.py@139a3e1:464-465" in s for s in details["genotex_sources"])


def test_a_tiny_penalty_on_wide_data_warns_that_the_list_depends_on_column_order():
    linked = linked_table(n=30, genes=400, seed=1)
    fit = genotex_one_step(linked, "Trait", penalties=(1e-6,))
    assert fit.column_order["differ"] > 0 and fit.solver_iterations <= 5
    assert any("depend on the column order" in note for note in fit.notes)


def test_a_version_is_genotexs_whole_procedure_in_the_request():
    request = AnalysisRequest(trait="Bile_Duct_Cancer", genotex_version="2024")
    assert request.method == "genotex" and request.select_by == "known-genes"
    assert request.symbol_policy == "genotex-2024"
    assert AnalysisRequest(trait="Bile_Duct_Cancer", genotex_version="2025").symbol_policy == "genotex"
    with pytest.raises(ValueError, match="drop symbol_policy='analyst'"):
        AnalysisRequest(trait="Bile_Duct_Cancer", genotex_version="2025", symbol_policy="analyst")
    with pytest.raises(ValueError, match="drop method='moderated-t'"):
        AnalysisRequest(trait="Bile_Duct_Cancer", genotex_version="2024", method="moderated-t")
    with pytest.raises(ValueError, match="drop select_by='cv'"):
        AnalysisRequest(trait="Bile_Duct_Cancer", genotex_version="2025", select_by="cv")


def test_the_2024_mode_runs_on_chol_with_genotexs_2024_known_genes(shared_data: Path, tmp_path: Path):
    task_info = shared_data / "metadata" / "task_info_2024.json"
    out = tmp_path / "chol2024"
    args = ["reference", "--input", str(shared_data / "input"), "--trait", "Bile_Duct_Cancer"]
    code = main([*args, "--output", str(out), "--genotex-version", "2024", "--task-info", str(task_info)])
    assert code == 0
    answer = json.loads(
        (out / "regress" / "Bile_Duct_Cancer" / "significant_genes_condition_None.json").read_text()
    )
    details = answer["details"]
    assert answer["method"] == "genotex" and answer["select_by"] == "known-genes"
    assert details["genotex_version"] == "2024" and details["penalties"] == [1e-6, 1e-4, 1e-2, 1.0]
    best = max(details["tuning"], key=lambda t: (t["selection"]["f1"], -t["penalty"]))
    assert answer["penalty"]["value"] == best["penalty"]
    # genes in the Xena file's row order, only exact current symbols (no sorting, no renaming)
    gene_data = pd.read_csv(out / "preprocess" / "Bile_Duct_Cancer" / "gene_data" / "TCGA.csv", index_col=0)
    source = pd.read_csv(
        next((shared_data / "input" / "TCGA").glob("*CHOL*/*PANCAN*")), sep="\t", index_col=0, usecols=[0]
    )
    expected, _ = normalize_gene_symbols(source, policy="genotex-2024")
    assert list(gene_data.index) == list(expected.index) and list(gene_data.index) != sorted(gene_data.index)
    linked = pd.read_csv(out / "preprocess" / "Bile_Duct_Cancer" / "TCGA.csv", index_col=0, nrows=0)
    in_order = [g for g in linked.columns if g in set(gene_data.index)]
    assert details["gene_order_sha256"] == gene_list_sha256(in_order) and details["genes_in_order"] == len(
        in_order
    )
    assert details["solver_iterations"] >= 1 and "Entrez Gene" in details["symbol_snapshot"]
    assert details["column_order"]["differ"] > 0  # alpha 1e-6 on 17,000 genes x 45 samples
    assert any("depend on the column order" in note for note in answer["notes"])
    assert "depend on the column order" in json.loads((out / "result.json").read_text())["message"]
    assert len(answer["significant_genes"]["Variable"]) > 100
