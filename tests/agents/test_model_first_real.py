"""Model-first on real cohorts: with a competent stand-in model writing every unit through
`genoteam run --authoring model-first --config team.toml`, CHOL (TCGA) and GSE781 (GEO, two
platforms) give the offline run's answer and byte-identical cohort tables."""

from __future__ import annotations

import json
import shutil

import pytest

from genoteam.cli import main
from tests.agents.test_misbehaving_models import write_config
from tests.standin_model import Script, ScriptedModelServer, competent_model

KIDNEY = "Kidney_Clear_Cell_Carcinoma"


def _run(argv: list[str], capsys) -> dict:
    code = main(argv)
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result["message"]
    return result


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.parametrize(("trait", "series"), [("Bile_Duct_Cancer", None), (KIDNEY, "GSE781")])
def test_model_first_with_a_competent_model_equals_the_offline_run(
    shared_input, tmp_path, capsys, trait, series, model_sandbox, request
):
    input_dir = shared_input
    if series:  # one GEO series, copied so the run sees only it
        input_dir = tmp_path / "input"
        shutil.copytree(shared_input / "GEO" / trait / series, input_dir / "GEO" / trait / series)
    base = ["run", "--trait", trait, "--input", str(input_dir), "--sandbox", model_sandbox, "--json"]
    if series:
        offline_dir = tmp_path / "offline"
        offline = _run([*base, "--output", str(offline_dir), "--memory", str(tmp_path / "m0")], capsys)
    else:  # the whole CHOL input: the session's offline run of it (the same job `genoteam run` does)
        offline_dir, result = request.getfixturevalue("offline_chol_team")
        offline = result.model_dump()
    script = Script(fallback=competent_model)
    with ScriptedModelServer(script) as server:
        config = write_config(tmp_path / "team.toml", server.api_base)
        out = tmp_path / "model-first"
        modelled = _run(
            [*base, "--output", str(out), "--memory", str(tmp_path / "m1"), "--config", config], capsys
        )
    assert modelled["status"] == offline["status"] == "complete"
    assert modelled["selected_cohorts"] == offline["selected_cohorts"]
    hits = [(g["gene"], g["coefficient"], g["q_value"]) for g in modelled["significant_genes"]]
    assert hits == [(g["gene"], g["coefficient"], g["q_value"]) for g in offline["significant_genes"]]
    assert len(hits) > 100
    tables = sorted(p.relative_to(offline_dir) for p in (offline_dir / "preprocess").rglob("*.csv"))
    assert tables
    for rel in tables:
        assert (out / rel).read_bytes() == (offline_dir / rel).read_bytes(), rel
    provenance = json.loads((out / "provenance.json").read_text())
    visits = [v for t in provenance["tasks"] for v in t["visits"] if v["status"] == "passed"]
    assert visits and not any(v["from_memory"] for v in visits)  # every unit written by a model
    assert {c.purpose for c in script.requests} >= {"code", "review"}
