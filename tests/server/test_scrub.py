"""One scrubber for everything leaving the server: paths of every kind, no doubled labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import mcp
import pandas
from mcp import Client

import genoteam
from genoteam.server.app import build_server
from genoteam.server.scrub import Scrubber
from tests.server.engines.genoteam_step_engine import host_paths

LABELS = ("<workspace>", "<input>", "<checkout>", "<python>", "<cache>", "~")


def test_every_kind_of_host_path_becomes_one_label(tmp_path, monkeypatch):
    home = tmp_path / "home" / "ann"
    (home / "data").mkdir(parents=True)
    (tmp_path / "link").symlink_to(home / "data")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uvcache"))
    scrub = Scrubber(
        {"<workspace>": home / "ws", "<input>": tmp_path / "link"},  # input given through a link
        home=home,
    )
    pandas_file = Path(pandas.__file__).parent / "core" / "frame.py"
    text = "\n".join(
        [
            f'File "{pandas_file}", line 3',
            f"opened {Path(mcp.__file__)}",
            f"in {Path(genoteam.__file__).parent / 'server' / 'app.py'}:12",
            f"cache {tmp_path / 'uvcache' / 'archive-v0' / 'x.whl'}",
            f"note {home / 'notes.txt'} and {tmp_path / 'home' / 'anna' / 'x'}",
            f"input {tmp_path / 'link' / 'TCGA'} resolved {home / 'data' / 'TCGA'}",
            f"workspace {home / 'ws' / 'jobs'}",
            f"{home}",
        ]
    )
    out = scrub(text)
    assert 'File "<python>/pandas/core/frame.py", line 3' in out
    assert "<checkout>/genoteam/server/app.py:12" in out
    assert "<cache>/archive-v0/x.whl" in out
    assert (
        "note ~/notes.txt and " in out and str(tmp_path / "home" / "anna" / "x") in out
    )  # not a prefix match
    assert "input <input>/TCGA resolved <input>/TCGA" in out
    assert "workspace <workspace>/jobs" in out and out.endswith("\n~")
    assert not re.search(r"<(workspace|input|checkout|python|cache)>\s*<", out), out
    assert str(home) + "/" not in out and str(Path(pandas.__file__).parent) not in out
    assert scrub(out) == out  # idempotent: a label is never scanned again
    data = scrub.data({str(home / "k"): [f"{home}/a", 3, None, {"x": str(tmp_path / "link")}]})
    assert data == {"~/k": ["~/a", 3, None, {"x": "<input>"}]}


def test_paths_from_an_engine_never_reach_the_client(step_config, step_engine, shared_input, workspace):
    step_engine(GENOTEAM_STEP_ENGINE_LEAK="1", GENOTEAM_STEP_ENGINE_STEPS="1")

    async def main():
        async with Client(build_server(step_config)) as client:
            done = await client.call_tool("analyze_trait", {"trait": "Bile_Duct_Cancer", "wait_seconds": 30})
            job_id = done.structured_content["job_id"]
            provenance = await client.read_resource(f"genoteam://jobs/{job_id}/provenance")
            summary = await client.read_resource(f"genoteam://jobs/{job_id}/provenance/summary")
            step_engine(
                GENOTEAM_STEP_ENGINE_LEAK="1", GENOTEAM_STEP_ENGINE_STEPS="1", GENOTEAM_STEP_ENGINE_FAIL="1"
            )
            failed = await client.call_tool(
                "analyze_trait", {"trait": "Bile_Duct_Cancer", "condition": "Age"}
            )
            jobs = await client.call_tool("list_jobs", {})
            missing = await client.call_tool("get_result", {"job_id": failed.structured_content["job_id"]})
            return done, provenance, summary, failed, jobs, missing

    done, provenance, summary, failed, jobs, missing = anyio.run(main)
    leaked = host_paths(shared_input, workspace / "jobs" / "x" / "output")
    texts = [
        provenance.contents[0].text,
        summary.contents[0].text,
        json.dumps(done.structured_content),
        done.content[0].text,
        json.dumps(failed.structured_content),
        failed.content[0].text,
        json.dumps(jobs.structured_content),
        missing.content[0].text,
    ]
    everything = "\n".join(texts)
    roots = [str(shared_input), str(shared_input.resolve()), str(workspace), str(Path.home())]
    roots += [str(Path(pandas.__file__).parent), str(Path(genoteam.__file__).parent.parent)]
    for path in roots:
        assert path not in everything, path
    recorded = json.loads(provenance.contents[0].text)["paths"]
    assert recorded["checkout"] == "<checkout>/genoteam/server/app.py"
    assert recorded["site_packages"].startswith("<python>/") and recorded["site_packages"].endswith(
        "pandas/core/frame.py"
    )
    assert recorded["uv_cache"].startswith("<cache>/") and recorded["home"] == "~/notes/run.txt"
    assert recorded["input"] == "<input>/TCGA" and recorded["workspace"].startswith("<workspace>/jobs/")
    assert set(recorded) == set(leaked)
    assert failed.structured_content["state"] == "failed" and "<checkout>/genoteam" in failed.content[0].text
    assert not re.search(r"<(workspace|input|checkout|python|cache)>\s*<", everything)
    assert all(label in everything for label in LABELS)
