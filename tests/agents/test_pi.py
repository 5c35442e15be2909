"""The cohort plan (genoteam.pipeline.cohorts) with the team's platform survey run in a real local
kernel, against the reference's survey on the host: the same cohorts for the same request,
platform ids included, and every id either engine reports is accepted back."""

from __future__ import annotations

import warnings

import pytest

from genoteam.agents.pi import parse_survey, survey_cell
from genoteam.data.catalogue import CohortCatalogue
from genoteam.pipeline.cohorts import plan_cohorts
from genoteam.pipeline.reference import HostSurvey
from genoteam.sandbox import SessionSpec, open_session
from genoteam.toolkit.errors import GenoteamError

KIDNEY = "Kidney_Clear_Cell_Carcinoma"


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """The team's platform survey in one real local kernel shared by the module's tests; each set
    of folders is surveyed once (parsing GSE781's SOFT file is the slow part)."""
    work = tmp_path_factory.mktemp("pi-survey")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = open_session(SessionSpec(task_id="pi-survey", work_dir=work), backend="local")

    def run(folders):
        result = session.run_cell(survey_cell({name: str(path) for name, path in folders.items()}))
        assert result.ok, result.error_message
        return parse_survey(result.stdout)[0]

    try:
        yield _once(run)
    finally:
        session.close()


def _once(survey):
    """The survey's answer per set of folders, read once (each plan call asks again)."""
    answers: dict = {}

    def run(folders):
        key = tuple(sorted((name, str(path)) for name, path in folders.items()))
        if key not in answers:
            answers[key] = survey(folders)
        return answers[key]

    return run


def _tasks(plan) -> list[tuple[str, str | None]]:
    return [(t.task_id, t.platform) for t in plan.tasks]


def test_both_engines_plan_the_same_cohorts_for_every_cohort_request(shared_input, survey):
    catalogue = CohortCatalogue(shared_input)
    team_survey, host_survey = survey, _once(HostSurvey())
    everything = [(f"{KIDNEY}/GSE781", "GPL96+GPL97"), (f"{KIDNEY}/TCGA", None)]
    expected = {
        None: everything,
        ("GSE781",): everything[:1],
        ("GSE781_GPL97",): everything[:1],  # a platform of the combined cohort
        ("GSE781_GPL96", "TCGA"): everything,
        ("KIRC",): everything[1:],
        ("TCGA_KIRC",): everything[1:],
    }
    for wanted, tasks in expected.items():
        request = list(wanted) if wanted else None
        team = plan_cohorts(catalogue, KIDNEY, None, request, team_survey)
        reference = plan_cohorts(catalogue, KIDNEY, None, request, host_survey)
        assert _tasks(team) == _tasks(reference) == tasks, wanted
        assert team.notes == reference.notes and team.skipped == reference.skipped
    only97 = plan_cohorts(catalogue, KIDNEY, None, ["GSE781_GPL97"], team_survey)
    assert only97.notes == ["requested GSE781_GPL97: that platform is part of cohort GSE781 (GPL96+GPL97)"]
    assert only97.skipped == {
        f"{KIDNEY}/TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)": "not among the requested cohorts"
    }
    for output_id in ("GSE781", "TCGA"):  # what the results report is accepted back
        plan = plan_cohorts(catalogue, KIDNEY, None, [output_id], team_survey)
        assert [t.output_id for t in plan.tasks] == [output_id]


def test_an_id_that_names_no_cohort_is_an_error_that_lists_the_cohorts(shared_input, survey):
    catalogue = CohortCatalogue(shared_input)
    with pytest.raises(GenoteamError, match="GSE12345 are not cohorts of") as error:
        plan_cohorts(catalogue, KIDNEY, None, ["GSE12345"], survey)
    assert "GSE781" in error.value.hint and "TCGA" in error.value.hint
    with pytest.raises(GenoteamError, match="GSE781_GPL570 is not a cohort of series GSE781"):
        plan_cohorts(catalogue, KIDNEY, None, ["GSE781_GPL570"], survey)


def test_a_condition_trait_gets_its_cohorts_and_an_unknown_trait_is_an_error(shared_input, survey):
    catalogue = CohortCatalogue(shared_input)
    plan = plan_cohorts(catalogue, "Bile_Duct_Cancer", KIDNEY, None, survey)
    assert plan.entities == ["Bile_Duct_Cancer", KIDNEY]
    assert {t.task_id for t in plan.tasks} >= {"Bile_Duct_Cancer/TCGA", f"{KIDNEY}/GSE781"}
    assert [t.entity for t in plan_cohorts(catalogue, "Bile_Duct_Cancer", "Age", None, survey).tasks] == [
        "Bile_Duct_Cancer"
    ]
    with pytest.raises(GenoteamError, match="unknown trait"):
        plan_cohorts(catalogue, "No_Such_Trait", None, None, survey)
