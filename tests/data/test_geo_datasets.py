"""A GEO DataSet folder (GEO/<Trait>/GDS507/, the real GDS507 of ../shared/data) is never skipped
silently: the catalogue, `genoteam catalogue`, the cohort plan's result and MCP list_cohorts all
name it as unsupported, with the series to use instead (its reference series GSE781)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client

from genoteam.cli import main
from genoteam.data.catalogue import CohortCatalogue
from genoteam.server.app import build_server
from genoteam.server.config import ServerConfig

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.fixture
def input_with_gds(tmp_path: Path, shared_data: Path) -> Path:
    root = tmp_path / "input"
    folder = root / "GEO" / TRAIT / "GDS507"
    folder.mkdir(parents=True)
    (folder / "GDS507.soft.gz").symlink_to(shared_data / "extra_geo" / "GDS507.soft.gz")
    return root


def test_the_catalogue_names_the_dataset_and_its_series(input_with_gds: Path):
    (dataset,) = CohortCatalogue(input_with_gds).geo_datasets(TRAIT)
    assert (dataset.reference_series, dataset.platform, dataset.sample_count) == ("GSE781", "GPL97", 17)
    assert "unsupported" in dataset.reason() and "genoteam fetch-geo GSE781" in dataset.reason()


def test_the_command_line_and_the_analysis_say_so(input_with_gds: Path, tmp_path: Path, capsys):
    assert main(["catalogue", "--input", str(input_with_gds)]) == 0
    listing = capsys.readouterr().out
    assert "GDS507: a GEO DataSet (GDS507, curated from GSE781 on GPL97): unsupported" in listing

    out = tmp_path / "out"
    code = main(["reference", "--input", str(input_with_gds), "--trait", TRAIT, "--output", str(out)])
    result = json.loads((out / "result.json").read_text())
    assert code == 3 and result["status"] == "insufficient_data"
    assert "GDS507" in result["message"] and "GSE781" in result["message"]


def test_mcp_list_cohorts_reports_it(input_with_gds: Path, tmp_path: Path):
    config = ServerConfig(input_dir=input_with_gds, workspace=tmp_path / "ws", engine="reference").check()

    async def ask():
        async with Client(build_server(config)) as client:
            return await client.call_tool("list_cohorts", {"trait": TRAIT})

    answer = anyio.run(ask)
    assert not answer.is_error, answer.content[0].text
    (note,) = answer.structured_content["unsupported"]
    assert note.startswith("GDS507: a GEO DataSet") and "Not read: GDS507" in answer.content[0].text
