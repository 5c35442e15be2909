"""The sdist and the wheel carry guidelines/ and sandbox_image/, and an installed copy finds them
from any folder with no environment variable (nothing of the checkout is importable there)."""

from __future__ import annotations

import json
import subprocess
import tarfile
import zipfile

from tests.install.installed import ROOT, clean_env

SHIPPED = (
    "guidelines/geo.yaml",
    "guidelines/statistics.md",
    "sandbox_image/Dockerfile",
    "sandbox_image/requirements.txt",
)


def test_sdist_and_wheel_carry_the_shipped_folders(dist):
    sdist, wheel = dist
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"setup.py", "MANIFEST.in", *SHIPPED} <= in_sdist
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert {f"genoteam/_shipped/{name}" for name in SHIPPED} <= in_wheel
    for name in SHIPPED:  # byte for byte the repository's files
        shipped = zipfile.ZipFile(wheel).read(f"genoteam/_shipped/{name}")
        assert shipped == (ROOT / name).read_bytes(), name


PROBE = """
import json, genoteam
from genoteam.shipped import shipped_dir
from genoteam.agents.guidelines import load_guidelines
from genoteam.sandbox.image import context_hash
print(json.dumps({"package": genoteam.__file__, "guidelines": str(shipped_dir("guidelines")),
                  "roles": sorted(load_guidelines()), "sandbox_image": str(shipped_dir("sandbox_image")),
                  "context_hash": context_hash()}))
"""


def test_installed_copy_finds_its_folders_from_anywhere(venv, tmp_path):
    from genoteam.sandbox.image import context_hash

    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PROBE],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    site = str(venv / "lib")
    assert found["package"].startswith(site), found  # the installed copy, not the checkout
    assert found["guidelines"].startswith(site) and found["sandbox_image"].startswith(site), found
    assert found["roles"] == ["geo", "statistics", "tcga"]
    # the same sandbox sources as the checkout: images built from either serve both
    assert found["context_hash"] == context_hash()
