"""`genoteam catalogue` and `genoteam fetch-geo` through the real command line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genoteam.cli import main


def test_catalogue_command(shared_input: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "--input", str(shared_input), "--trait", "Bile_Duct_Cancer", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(c["id"], c["output_id"]) for c in data["cohorts"]] == [("TCGA_Bile_Duct_Cancer_(CHOL)", "TCGA")]
    assert main(["catalogue", "--input", str(shared_input), "--trait", "No_Such_Trait"]) == 1
    err = capsys.readouterr().err
    assert "unknown trait 'No_Such_Trait'" in err and "Kidney_Clear_Cell_Carcinoma" in err


def test_fetch_geo_command(geo_server, shared_input: Path, tmp_path: Path, capsys) -> None:
    soft = shared_input / "GEO" / "Kidney_Clear_Cell_Carcinoma" / "GSE781" / "GSE781_family.soft.gz"
    geo_server.add("GSE781", "soft", soft)
    into = tmp_path / "input" / "GEO" / "Kidney_Clear_Cell_Carcinoma"
    args = ["fetch-geo", "GSE781", "--cache", str(tmp_path / "cache"), "--base-url", geo_server.base_url]
    assert main([*args, "--into", str(into)]) == 0
    out = capsys.readouterr().out
    assert "(downloaded)" in out and "no matrix file" in out
    assert (into / "GSE781" / "GSE781_family.soft.gz").read_bytes() == soft.read_bytes()
    assert main([*args, "--offline"]) == 0 and "(cache)" in capsys.readouterr().out
