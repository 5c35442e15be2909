"""`genoteam smoke` from the installed wheel, run from a folder outside the checkout, with the
default engine (the team, offline, Docker sandbox) on the real data."""

from __future__ import annotations

import subprocess

import pytest

from tests.install.installed import ROOT, clean_env


@pytest.mark.docker
def test_installed_smoke_passes_from_outside_the_checkout(venv, sandbox_image, shared_input, tmp_path):
    assert ROOT not in tmp_path.parents
    done = subprocess.run(
        [
            str(venv / "bin" / "genoteam"),
            "smoke",
            "--input",
            str(shared_input),
            "--trait",
            "Bile_Duct_Cancer",
        ],
        cwd=tmp_path,
        env=clean_env(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "ok   job finished: complete" in done.stdout and "smoke: all checks passed" in done.stdout
    assert "engine team" in done.stdout and "code ran in sandbox docker" in done.stdout
