"""`genoteam run` on synthetic cohorts: offline through the CLI, and the full engine on the scripted model."""

from __future__ import annotations

import json

import pytest

from genoteam.agents.engine import run_team
from genoteam.agents.llm import RoleModel, TeamConfig
from genoteam.agents.messages import ROLES
from genoteam.cli import main
from genoteam.pipeline.api import AnalysisRequest
from tests.standin_model import Script, ScriptedModelServer, competent_model

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.fixture(scope="module")
def synthetic_input(tmp_path_factory):
    from genoteam.synthetic import SynthConfig, generate

    root = tmp_path_factory.mktemp("synthetic")
    truth = generate(
        SynthConfig(
            n_genes=300, n_samples=24, kind="both", n_geo_cohorts=2, seed=5, n_one_class_geo_cohorts=1
        ),
        root / "input",
    )
    return root / "input", truth


def test_genoteam_run_offline_writes_layout_provenance_and_report(synthetic_input, tmp_path, capsys):
    input_dir, truth = synthetic_input
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--trait",
            TRAIT,
            "--input",
            str(input_dir),
            "--output",
            str(out),
            "--sandbox",
            "local",
            "--memory",
            str(tmp_path / "memory.sqlite"),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "complete"
    cohorts = {c["cohort"]: c for c in result["cohorts"]}
    assert len(cohorts) == 4  # two GEO series, one cases-only series, the TCGA cohort
    one_class = [c for c in cohorts.values() if not c["usable"]]
    assert len(one_class) == 1 and "biased" in one_class[0]["note"]
    # the same answer as the reference pipeline on the same input, and some planted genes among it
    from genoteam.pipeline.reference import run_reference

    reference = run_reference(AnalysisRequest(trait=TRAIT), input_dir, tmp_path / "reference")
    found = {g["gene"] for g in result["significant_genes"]}
    assert found == {g.gene for g in reference.significant_genes}
    assert result["selected_cohorts"] == reference.selected_cohorts
    assert found & {g["gene"] for g in truth["trait_genes"]}
    info = json.loads((out / "preprocess" / TRAIT / "cohort_info.json").read_text())
    assert set(info) == set(cohorts)
    assert (out / "regress" / TRAIT / "significant_genes_condition_None.json").is_file()
    provenance = json.loads((out / "provenance.json").read_text())
    units = [(t["task_id"], v["unit"]) for t in provenance["tasks"] for v in t["visits"]]
    assert (f"{TRAIT}/TCGA", "link_and_assess") in units and (
        f"statistics/{TRAIT}/None",
        "association",
    ) in units
    assert all(v["final_code"] for t in provenance["tasks"] for v in t["visits"] if v["status"] == "passed")
    report = (out / "report.md").read_text()
    assert (out / "volcano.png").stat().st_size > 5_000 and "![volcano plot](volcano.png)" in report
    assert "lookups found fitting code (100%)" in report


@pytest.mark.docker
def test_engine_on_the_scripted_model_learns_and_reuses_code(synthetic_input, tmp_path, docker_engine):
    """Model-written code: the Docker sandbox (the local backend refuses it)."""
    from genoteam.sandbox.image import ensure_image

    ensure_image(docker_engine, progress=lambda line: None)
    input_dir, _ = synthetic_input
    script = Script(fallback=competent_model)
    with ScriptedModelServer(script) as server:
        config = TeamConfig(
            models={
                role: RoleModel(model="openai/scripted", api_base=server.api_base, timeout_s=30)
                for role in ROLES
            }
        )
        result = run_team(
            AnalysisRequest(trait=TRAIT),
            input_dir,
            tmp_path / "out",
            None,
            sandbox="docker",
            config=config,
            memory_path=tmp_path / "memory.sqlite",
            seed_memory=False,
        )
    assert result.status == "complete"
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    geo_tasks = [t for t in provenance["tasks"] if t["role"] == "geo"]
    assert len(geo_tasks) == 3
    first, later = geo_tasks[0], geo_tasks[1:]
    assert not any(v["from_memory"] for v in first["visits"])
    for task in later:  # format-level and generic code is reused; cohort judgement never is
        reused = {v["unit"] for v in task["visits"] if v["from_memory"]}
        assert {"load_cohort", "normalize_genes", "link_and_assess"} <= reused
        assert "clinical_features" not in reused
    assert (
        len(script.calls(role="geo", purpose="code", unit="normalize_genes")) == 1
    )  # written once, then recalled
    assert (
        len([c for c in script.calls(role="domain_expert", unit="clinical_features") if "/GSE" in c.task])
        == 3
    )
    usage = provenance["models"]["usage"]["by_role"]
    assert usage["reviewer"]["calls"] > 0 and usage["geo"]["prompt_tokens"] > 0
    assert provenance["memory"]["job"]["hits"] >= 6


TWO_GEO = AnalysisRequest(trait=TRAIT, cohorts=["GSE9900501", "GSE9900502"])


@pytest.fixture(scope="module")
def two_geo_run(synthetic_input, tmp_path_factory):
    """One offline team job on two GEO cohorts, shared by the tests that read a whole job: the
    engine object (its frozen record), the result and the output folder."""
    from genoteam.agents.engine import TeamRun

    input_dir, _ = synthetic_input
    root = tmp_path_factory.mktemp("two-geo")
    run = TeamRun(
        TWO_GEO,
        input_dir,
        root / "out",
        None,
        sandbox="local",
        config=TeamConfig(),
        guidelines_dir=None,
        memory_path=root / "memory.sqlite",
        task_info=None,
    )
    return run, run.run(), root / "out"


def test_stages_preprocess_then_statistics_give_the_whole_answer(synthetic_input, two_geo_run, tmp_path):
    import shutil

    input_dir, _ = synthetic_input
    request = TWO_GEO
    options = {"sandbox": "local", "config": TeamConfig(), "memory_path": tmp_path / "memory.sqlite"}
    whole = two_geo_run[1]
    first = run_team(request, input_dir, tmp_path / "first", None, stage="preprocess", **options)
    assert first.status == "preprocessed" and first.significant_genes == []
    assert not (tmp_path / "first" / "regress").exists()
    shutil.copytree(
        tmp_path / "first" / "preprocess", tmp_path / "second" / "preprocess"
    )  # what the server does
    second = run_team(request, input_dir, tmp_path / "second", None, stage="statistics", **options)
    assert whole.status == second.status == "complete"
    assert [g.gene for g in second.significant_genes] == [g.gene for g in whole.significant_genes]
    assert second.selected_cohorts == whole.selected_cohorts
    provenance = json.loads((tmp_path / "second" / "provenance.json").read_text())
    assert [t["role"] for t in provenance["tasks"]] == ["statistician"]


def _config_file(tmp_path, api_base: str, authoring: str | None = None) -> str:
    """A team config as a user writes it: every role on the stand-in model."""
    team = f'[team]\nauthoring = "{authoring}"\n\n' if authoring else ""
    path = tmp_path / "team.toml"
    path.write_text(
        team + "[models.default]\n"
        'model = "openai/standin"\n'
        f'api_base = "{api_base}"\n'
        "timeout_s = 30\n"
        "input_cost_per_token = 0.000001\n"
        "output_cost_per_token = 0.000002\n"
    )
    return str(path)


@pytest.mark.docker
def test_model_first_run_writes_every_unit_with_models_and_matches_offline(
    synthetic_input, tmp_path, capsys, docker_engine
):
    """`genoteam run --authoring model-first --config team.toml`: no code comes from memory, every
    unit's prompt carries its shipped snippet as an example, and the answer equals the offline run.
    In the Docker sandbox: model-written code never runs on the host (the local backend refuses it)."""
    from genoteam.sandbox.image import ensure_image

    ensure_image(docker_engine, progress=lambda line: None)
    input_dir, _ = synthetic_input
    cohorts = ["--cohort", "GSE9900501", "--cohort", "TCGA"]
    common = ["--trait", TRAIT, "--input", str(input_dir), "--sandbox", "docker", "--json", *cohorts]
    memory = ["--memory", str(tmp_path / "memory.sqlite")]
    assert main(["run", *common, "--output", str(tmp_path / "offline"), *memory]) == 0
    offline = json.loads(capsys.readouterr().out)
    script = Script(fallback=competent_model)
    with ScriptedModelServer(script) as server:
        config = _config_file(tmp_path, server.api_base)
        argv = ["run", *common, "--output", str(tmp_path / "mf"), *memory, "--config", config]
        assert main([*argv, "--authoring", "model-first"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == offline["status"] == "complete"
    assert [g["gene"] for g in result["significant_genes"]] == [
        g["gene"] for g in offline["significant_genes"]
    ]
    provenance = json.loads((tmp_path / "mf" / "provenance.json").read_text())
    visits = [v for t in provenance["tasks"] for v in t["visits"]]
    assert visits and all(not v["from_memory"] for v in visits)
    assert all(a["code_source"] == "model" for v in visits for a in v["attempts"])
    code_calls = script.calls(purpose="code") + script.calls(purpose="domain_code")
    assert len(code_calls) == len(visits)
    assert all("# Example\n" in call.user_text for call in code_calls)
    # every prompt lists the kernel's variables and the API of what its unit calls
    assert all("# Variables in the kernel now\n- `trait`: builtins.str" in c.user_text for c in code_calls)
    load = next(c for c in code_calls if c.unit == "load_cohort" and c.task.endswith("/TCGA"))
    assert "find_tcga_files(cohort_dir: str | Path) -> TcgaCohortFiles" in load.user_text
    clinical = next(c for c in code_calls if c.unit == "clinical_features" and "/GSE" in c.task)
    assert "Candidate fields (columns of `samples`)" in clinical.user_text
    domain = {c.unit for c in script.calls(purpose="domain_code")}
    assert {"clinical_features", "identifier_review"} <= domain  # judgement units go to the expert
    assert provenance["memory"]["job"]["lookups"] == 0
    # the learned code records the model and the job that wrote it
    from genoteam.agents.memory import CodeMemory

    store = CodeMemory(tmp_path / "memory.sqlite")
    learned = [e for e in store.entries() if not e.shipped]
    store.close()
    assert learned and {(e.model, e.job_id) for e in learned} == {("openai/standin", provenance["job_id"])}


def test_model_first_without_a_model_is_refused_before_any_work(synthetic_input, tmp_path, capsys):
    input_dir, _ = synthetic_input
    path = tmp_path / "team.toml"
    path.write_text('[team]\nauthoring = "model-first"\n')
    argv = ["run", "--trait", TRAIT, "--input", str(input_dir), "--output", str(tmp_path / "out")]
    assert main([*argv, "--sandbox", "local", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "authoring is model-first" in err and "geo (no model configured)" in err
    assert "--authoring shipped" in err and not (tmp_path / "out").exists()


def test_provenance_and_report_are_pure_functions_of_the_frozen_run_record(two_geo_run):
    import dataclasses

    from genoteam.agents.manifest import build_manifest
    from genoteam.agents.report import report_text

    run, result, out = two_geo_run
    record = run.record
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.job_id = "changed"  # type: ignore[misc]
    written = json.loads((out / "provenance.json").read_text())
    assert json.loads(json.dumps(build_manifest(record), default=str)) == written
    assert build_manifest(record) == build_manifest(record)  # no clock, no file read: same record, same text
    volcano = "## Volcano plot\n\n![volcano plot](volcano.png)"
    assert report_text(record, volcano) == (out / "report.md").read_text()
    assert written["result"]["status"] == result.status == "complete"
