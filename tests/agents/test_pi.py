"""The PI's cohort plan: catalogue + TCGA matching + a real platform survey in a local kernel."""

from __future__ import annotations

import pytest

from genoteam.agents.pi import parse_survey, plan_cohorts, survey_cell
from genoteam.data.catalogue import CohortCatalogue
from genoteam.toolkit.errors import GenoteamError


@pytest.fixture()
def survey(sandbox_session):
    def run(folders):
        result = sandbox_session.run_cell(survey_cell({name: str(path) for name, path in folders.items()}))
        assert result.ok, result.error_message
        return parse_survey(result.stdout)

    return run


def test_plan_splits_series_by_platform_and_honours_the_requested_cohorts(shared_input, survey):
    catalogue = CohortCatalogue(shared_input)
    plan = plan_cohorts(catalogue, "Kidney_Clear_Cell_Carcinoma", None, None, survey)
    assert [(t.task_id, t.platform) for t in plan.tasks] == [
        ("Kidney_Clear_Cell_Carcinoma/GSE781_GPL96", "GPL96"),
        ("Kidney_Clear_Cell_Carcinoma/GSE781_GPL97", "GPL97"),
        ("Kidney_Clear_Cell_Carcinoma/TCGA", None),
    ]
    some = plan_cohorts(catalogue, "Kidney_Clear_Cell_Carcinoma", None, ["GSE781_GPL96"], survey)
    assert [t.output_id for t in some.tasks] == ["GSE781_GPL96"]
    assert some.skipped["Kidney_Clear_Cell_Carcinoma/GSE781_GPL97"] == "not among the requested cohorts"
    assert "not among" in some.skipped["Kidney_Clear_Cell_Carcinoma/TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)"]
    by_code = plan_cohorts(catalogue, "Kidney_Clear_Cell_Carcinoma", None, ["KIRC"], survey)
    assert [t.output_id for t in by_code.tasks] == ["TCGA"]


def test_a_condition_trait_gets_its_cohorts_and_an_unknown_trait_is_an_error(shared_input, survey):
    catalogue = CohortCatalogue(shared_input)
    plan = plan_cohorts(catalogue, "Bile_Duct_Cancer", "Kidney_Clear_Cell_Carcinoma", None, survey)
    assert plan.entities == ["Bile_Duct_Cancer", "Kidney_Clear_Cell_Carcinoma"]
    assert {t.task_id for t in plan.tasks} >= {
        "Bile_Duct_Cancer/TCGA",
        "Kidney_Clear_Cell_Carcinoma/GSE781_GPL96",
    }
    assert [t.entity for t in plan_cohorts(catalogue, "Bile_Duct_Cancer", "Age", None, survey).tasks] == [
        "Bile_Duct_Cancer"
    ]
    with pytest.raises(GenoteamError, match="unknown trait"):
        plan_cohorts(catalogue, "No_Such_Trait", None, None, survey)
