"""Every kind of unit check, passing and failing, run in a real kernel; and memory keys of learned code."""

from __future__ import annotations

from genoteam.agents.checks import check_cell, parse_check_output, parse_probe_output, probe_cell
from genoteam.agents.guidelines import ActionUnit
from genoteam.agents.memory import ContextSignature

SETUP = """
import pandas as pd
genes = pd.DataFrame({'S1': [1.0, 2.0, 3.0], 'S2': [2.0, None, 4.0]}, index=['TP53', 'ENSG00000141510', '1007_s_at'])
linked = pd.DataFrame({'Trait': [1, 1, 1, 0], 'Age': [50, 60, 70, 80]})
trait_name = 'Trait'
path = 'absent-file.csv'
"""


def _run(session, checks: list[dict], produces=()) -> dict[str, dict]:
    unit = ActionUnit.model_validate(
        {"name": "u", "instructions": "x", "checks": checks, "produces": list(produces)}
    )
    assert session.run_cell(SETUP).ok
    result = session.run_cell(check_cell(unit))
    assert result.ok, result.error_message
    outcomes = parse_check_output(result.stdout)
    assert (
        "_genoteam_checks" not in session.run_cell("print(sorted(globals()))").stdout
    )  # leaves no names behind
    return {o.name: o.model_dump() for o in outcomes}


def test_each_check_kind_passes_and_fails_with_details(sandbox_session):
    got = _run(
        sandbox_session,
        [
            {"kind": "shape", "variable": "genes", "min_rows": 3, "max_cols": 2},
            {"kind": "shape", "variable": "genes", "min_rows": 10},
            {"kind": "value_range", "variable": "genes", "min": 0, "max": 5, "max_missing_fraction": 0.2},
            {"kind": "value_range", "variable": "genes", "max": 3.5},
            {"kind": "value_range", "variable": "genes", "max_missing_fraction": 0.1},
            {"kind": "symbol_coverage", "variable": "genes", "min_fraction": 0.3},
            {"kind": "symbol_coverage", "variable": "genes", "min_fraction": 0.5},
            {
                "kind": "class_balance",
                "variable": "linked",
                "column": "{trait_name}",
                "min_minority_count": 1,
            },
            {"kind": "class_balance", "variable": "linked", "column": "Trait", "min_minority_count": 2},
            {"kind": "file_exists", "path_variable": "path"},
            {"kind": "expression", "expr": "len(linked) == 4"},
            {"kind": "expression", "expr": "linked.Age.max() < 75", "message": "ages are in years"},
            {"kind": "expression", "expr": "no_such_name > 1"},
            {"kind": "shape", "variable": "genes", "min_rows": 99, "when": "len(linked) > 10"},
        ],
        produces=["genes", "missing_var"],
    )
    passed = {name: item["passed"] for name, item in got.items()}
    assert passed == {
        "produces:genes": True,
        "produces:missing_var": False,
        "shape#1:genes": True,
        "shape#2:genes": False,
        "value_range#3:genes": True,
        "value_range#4:genes": False,
        "value_range#5:genes": False,
        "symbol_coverage#6:genes": True,
        "symbol_coverage#7:genes": False,
        "class_balance#8:linked": True,
        "class_balance#9:linked": False,
        "file_exists#10:path": False,
        "expression#11": True,
        "expression#12": False,
        "expression#13": False,
        "shape#14:genes": True,
    }
    assert "min rows 10, found 3" in got["shape#2:genes"]["detail"]
    assert "maximum 4 above 3.5" in got["value_range#4:genes"]["detail"]
    assert "16.7% missing" in got["value_range#5:genes"]["detail"]
    assert (
        "33.3% of 3 labels" in got["symbol_coverage#7:genes"]["detail"]
    )  # probe ids and Ensembl ids are not symbols
    assert "minority class has 1 samples" in got["class_balance#9:linked"]["detail"]
    assert got["expression#12"]["detail"].endswith("ages are in years")
    assert "could not run: NameError" in got["expression#13"]["detail"]
    assert got["shape#14:genes"]["skipped"]


def test_probe_reports_values_and_errors(sandbox_session):
    sandbox_session.run_cell("x = 3")
    result = sandbox_session.run_cell(probe_cell({"big": "x > 2", "broken": "y + 1", "text": "'a' * x"}))
    values = parse_probe_output(result.stdout)
    assert values["big"] == {"value": True} and values["text"] == {"value": "aaa"}
    assert values["broken"]["error"].startswith("NameError")


def test_learned_code_keeps_only_the_units_memory_keys():
    full = ContextSignature(platform="GPL96", file_format="soft", cohort="T/GSE781_GPL96")
    by_format = full.keep_only(["file_format"])
    assert (by_format.platform, by_format.file_format, by_format.cohort) == ("*", "soft", "*")
    assert by_format.fits(ContextSignature(platform="GPL570", file_format="soft", cohort="T/GSE2"))
    assert not by_format.fits(
        ContextSignature(platform="GPL570", file_format="series_matrix", cohort="T/GSE2")
    )
    per_cohort = full.keep_only(["cohort"])
    assert per_cohort.fits(full) and not per_cohort.fits(full.model_copy(update={"cohort": "T/GSE2"}))
    assert full.keep_only([]).toolkit_version == full.toolkit_version  # the toolkit version is always kept
