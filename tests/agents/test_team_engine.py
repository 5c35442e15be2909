"""The whole team on real cohorts (offline roles): layout, provenance, report, failures, insufficient data.

The input folders are built per test from the real files of ../shared/data (copied, so the
Docker sandbox can mount them), plus a corrupt series that must fail alone.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from genoteam.agents.engine import run_team
from genoteam.agents.llm import TeamConfig
from genoteam.pipeline.api import AnalysisRequest, AnalysisResult, ProgressCallback
from genoteam.pipeline.reference import run_reference

KIDNEY = "Kidney_Clear_Cell_Carcinoma"


def _corrupt_series(folder: Path) -> None:
    folder.mkdir(parents=True)
    data = gzip.compress(b"^SERIES = GSE999\n!Series_title = broken\n" + b"x" * 4000)
    (folder / "GSE999_family.soft.gz").write_bytes(data[: len(data) // 2])  # truncated gzip


@pytest.fixture()
def kidney_input(shared_input, tmp_path) -> Path:
    root = tmp_path / "input"
    shutil.copytree(shared_input / "GEO" / KIDNEY / "GSE781", root / "GEO" / KIDNEY / "GSE781")
    _corrupt_series(root / "GEO" / KIDNEY / "GSE999")
    kirc = "TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)"
    shutil.copytree(shared_input / "TCGA" / kirc, root / "TCGA" / kirc)  # clinical matrix only: no expression
    return root


def _offline_team(
    request: AnalysisRequest,
    input_dir: Path,
    output_dir: Path,
    memory_dir: Path,
    sandbox: str = "local",
    progress: ProgressCallback | None = None,
    image: str | None = None,
) -> AnalysisResult:
    """run_team as every test here runs it: the offline roles (no model) and a fresh code memory."""
    return run_team(
        request,
        input_dir,
        output_dir,
        progress,
        sandbox=sandbox,
        config=TeamConfig(),
        memory_path=memory_dir / "memory.sqlite",
        sandbox_image=image,
    )


def _f1(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    overlap = len(a & b)
    return 0.0 if overlap == 0 else 2 * overlap / (len(a) + len(b))


def _check_team_output(out: Path, result) -> dict:
    provenance = json.loads((out / "provenance.json").read_text())
    for task in provenance["tasks"]:
        for visit in task["visits"]:
            if visit["status"] == "passed":
                assert visit["final_code"] and visit["attempts"][-1]["verdict"]["approved"]
                assert visit["attempts"][-1]["checks"], f"{task['task_id']}/{visit['unit']} ran no checks"
    assert all(len(entry["sha256"]) == 64 for entry in provenance["inputs"])
    assert provenance["sandbox"]["packages"]["pandas"]
    assert provenance["models"]["roles"]["reviewer"]["model"] == "offline"
    assert provenance["result"]["status"] == result.status
    report = (out / "report.md").read_text()
    assert f"**Status: {result.status}**" in report
    return provenance


@pytest.mark.slow
@pytest.mark.docker
def test_kidney_team_in_docker_matches_reference_and_isolates_a_broken_cohort(
    kidney_input, tmp_path, docker_engine
):
    from genoteam.sandbox.image import ensure_image

    image = ensure_image(
        docker_engine, progress=lambda line: None
    ).id  # pinned: the toolkit may change meanwhile
    request = AnalysisRequest(trait=KIDNEY)
    team_out, ref_out = tmp_path / "team", tmp_path / "reference"
    steps: list[float] = []
    team = _offline_team(
        request,
        kidney_input,
        team_out,
        tmp_path,
        sandbox="docker",
        progress=lambda f, m: steps.append(f),
        image=image,
    )
    reference = run_reference(request, kidney_input, ref_out)

    assert team.status == reference.status == "partial"
    assert team.selected_cohorts == reference.selected_cohorts == ["GSE781"]  # GPL96+GPL97, one cohort
    by_id = {o.cohort: o for o in team.cohorts}
    assert by_id["GSE999"].error and not by_id["GSE999"].usable  # failed alone, with its reason
    assert by_id["GSE781"].usable and "GSE781_GPL97" not in by_id
    assert not by_id["TCGA"].usable and "no expression matrix" in by_id["TCGA"].note
    assert "GSE999" in team.message
    team_genes = {g.gene for g in team.significant_genes}
    ref_genes = {g.gene for g in reference.significant_genes}
    assert len(team_genes) > 100 and _f1(team_genes, ref_genes) == 1.0
    assert {"CA9", "NDUFA4L2"} <= team_genes  # canonical clear-cell markers (FINDINGS.md)
    # same GenoTEX layout, byte-identical cohort tables
    for rel in (
        "preprocess/Kidney_Clear_Cell_Carcinoma/GSE781.csv",
        "preprocess/Kidney_Clear_Cell_Carcinoma/gene_data/GSE781.csv",
        "preprocess/Kidney_Clear_Cell_Carcinoma/clinical_data/GSE781.csv",
    ):
        assert (team_out / rel).read_bytes() == (ref_out / rel).read_bytes(), rel
    provenance = _check_team_output(team_out, team)
    assert provenance["sandbox"]["image_id"] and provenance["sandbox"]["sessions"]
    assert all(s["backend"] == "docker" for s in provenance["sandbox"]["sessions"].values())
    assert provenance["memory"]["job"]["hit_rate"] == 1.0
    assert "GSE999" in provenance["task_errors"] or any(
        t["task_id"].endswith("GSE999") and t["status"] == "failed" for t in provenance["tasks"]
    )
    assert (team_out / "volcano.png").stat().st_size > 10_000
    assert steps and steps == sorted(steps)


def test_no_usable_cohort_is_insufficient_data_naming_each_cohort(shared_input, tmp_path):
    root = tmp_path / "input"
    dlbc = "TCGA_Large_Bcell_Lymphoma_(DLBC)"
    shutil.copytree(shared_input / "TCGA" / dlbc, root / "TCGA" / dlbc)
    _corrupt_series(root / "GEO" / "Large_Bcell_Lymphoma" / "GSE999")
    out = tmp_path / "out"
    result = _offline_team(AnalysisRequest(trait="Large_Bcell_Lymphoma"), root, out, tmp_path)

    assert result.status == "insufficient_data"
    assert result.significant_genes == [] and result.selected_cohorts == []
    assert "Large_Bcell_Lymphoma/TCGA" in result.message and "biased" in result.message
    assert "Large_Bcell_Lymphoma/GSE999" in result.message
    outcomes = {o.cohort: o for o in result.cohorts}
    assert outcomes["GSE999"].error and outcomes["TCGA"].error is None and not outcomes["TCGA"].usable
    info = json.loads((out / "preprocess" / "Large_Bcell_Lymphoma" / "cohort_info.json").read_text())
    assert info["TCGA"]["is_biased"] is True and info["TCGA"]["is_usable"] is False
    assert not (out / "regress").exists()  # no statistics without a usable cohort
    provenance = _check_team_output(out, result)
    assert provenance["sandbox"]["sessions"]["Large_Bcell_Lymphoma/TCGA"]["backend"] == "local"


def test_when_every_cohort_fails_the_job_failed_and_says_why(tmp_path):
    root = tmp_path / "input"
    _corrupt_series(root / "GEO" / "Some_Trait" / "GSE999")
    result = _offline_team(AnalysisRequest(trait="Some_Trait"), root, tmp_path / "out", tmp_path)
    assert result.status == "failed"
    assert "every cohort failed" in result.message and "Some_Trait/GSE999" in result.message
    assert result.cohorts[0].error and "load_cohort failed" in result.cohorts[0].error
    assert (tmp_path / "out" / "provenance.json").is_file() and (tmp_path / "out" / "report.md").is_file()


@pytest.mark.slow
@pytest.mark.docker
def test_chol_team_in_docker_agrees_with_reference(shared_input, tmp_path, offline_chol_team):
    request = AnalysisRequest(trait="Bile_Duct_Cancer")
    team_out, team = offline_chol_team
    reference = run_reference(request, shared_input, tmp_path / "reference")
    assert team.status == reference.status == "complete"
    assert team.selected_cohorts == reference.selected_cohorts == ["TCGA"]
    team_genes = {g.gene for g in team.significant_genes}
    assert len(team_genes) > 1000 and _f1(team_genes, {g.gene for g in reference.significant_genes}) == 1.0
    provenance = _check_team_output(team_out, team)
    assert [o.cohort for o in team.cohorts] == ["TCGA"] and team.cohorts[0].sample_size == 45
    codes = {(t["task_id"], v["unit"]): v["final_code"] for t in provenance["tasks"] for v in t["visits"]}
    assert set(codes) == {
        ("Bile_Duct_Cancer/TCGA", u)
        for u in ("load_cohort", "clinical_features", "normalize_genes", "link_and_assess")
    } | {("statistics/Bile_Duct_Cancer/None", u) for u in ("select_cohorts", "association")}
    assert all(codes.values())  # provenance holds every unit's code


def test_an_output_folder_with_old_results_is_refused(tmp_path):
    from genoteam.toolkit.errors import GenoteamError

    (tmp_path / "out" / "preprocess").mkdir(parents=True)
    (tmp_path / "input" / "GEO" / "T" / "GSE1").mkdir(parents=True)
    with pytest.raises(GenoteamError, match="already holds results"):
        _offline_team(AnalysisRequest(trait="T"), tmp_path / "input", tmp_path / "out", tmp_path)
