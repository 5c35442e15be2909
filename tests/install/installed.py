"""Helpers of the install tests: genoteam built and installed the way users do it, and cached.

The sdist is built from a copy of the checkout's sources, and the wheel from that sdist (`uv
build`, as a package index would serve them); both are cached under .cache/install/dist/<hash of
the sources>/, and the fresh venv the wheel is installed into (`uv pip install`) under
.cache/install/venvs/<sha256 of the wheel>/, so a rerun with unchanged sources reuses them (the
fixtures print "reusing ..."). Environments of the installed commands drop PYTHONPATH and every
GENOTEAM_* variable, so nothing of the checkout leaks into the installed copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.prerequisites import skip_or_fail_in_ci

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "install"
UV_BIN = ROOT / ".venvs" / "uv" / "bin"
UV_CACHE = ROOT / ".cache" / "uv"
LEAKS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")

Say = Callable[[str], None]


def uv_tool(name: str = "uv") -> Path:
    """uv or uvx as scripts/setup.d/60-install-tools.sh installs them; skip (fail in CI) without."""
    path = UV_BIN / name
    if path.exists():
        return path
    found = shutil.which(name)
    if found:
        return Path(found)
    skip_or_fail_in_ci(f"{name} is not installed at {path}: run bash scripts/setup.d/60-install-tools.sh")


def clean_env(path_first: list[Path] | None = None, **extra: str) -> dict[str, str]:
    """This environment without the checkout: no PYTHONPATH/venv, no GENOTEAM_* settings."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKS and not k.startswith("GENOTEAM_")}
    env["PATH"] = os.pathsep.join([*(str(p) for p in path_first or []), env.get("PATH", "")])
    env["UV_CACHE_DIR"] = str(UV_CACHE)
    env.update(extra)
    return env


def _run(argv: list, cwd: Path, env: dict[str, str], what: str) -> None:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(
            f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def built_dist(say: Say) -> tuple[Path, Path]:
    """(sdist, wheel) of the current sources: the wheel is built from the sdist."""
    from genoteam.sandbox.builder import digest
    from genoteam.server.image import context_files

    files = context_files(ROOT)  # what a checkout holds of the package (the server image's context)
    key = digest(files)[:16]
    folder = CACHE / "dist" / key
    sdists, wheels = sorted(folder.glob("genoteam-*.tar.gz")), sorted(folder.glob("genoteam-*.whl"))
    if sdists and wheels:
        say(f"install tests: reusing cached sdist and wheel {folder} (sources unchanged)")
        return sdists[0], wheels[0]
    scratch = CACHE / "dist" / f".{key}.{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    for name, content in files.items():
        (scratch / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (scratch / "src" / name).write_bytes(content)
    say(f"install tests: building sdist and wheel of the sources ({key}) with uv build")
    _run(
        [uv_tool(), "build", "--out-dir", scratch / "dist", scratch / "src"], scratch, clean_env(), "uv build"
    )
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(scratch / "dist", folder)
    shutil.rmtree(scratch, ignore_errors=True)
    return sorted(folder.glob("genoteam-*.tar.gz"))[0], sorted(folder.glob("genoteam-*.whl"))[0]


def installed_venv(wheel: Path, say: Say) -> Path:
    """A fresh venv with the wheel (and its dependencies) and nothing else, cached by the wheel's sha256."""
    key = hashlib.sha256(wheel.read_bytes()).hexdigest()[:16]
    venv = CACHE / "venvs" / key
    stamp = venv / ".genoteam-installed"
    if stamp.is_file():
        say(f"install tests: reusing cached venv {venv} (same wheel, sha256 {key})")
        return venv
    for old in (CACHE / "venvs").glob("*"):  # one venv at a time: each holds the whole stack
        shutil.rmtree(old, ignore_errors=True)
    say(f"install tests: creating venv {venv} and installing {wheel.name} into it (uv pip)")
    _run([sys.executable, "-m", "venv", venv], CACHE, clean_env(), "python -m venv")
    # uv's installer: the same resolution as pip's from PyPI, in seconds with its cache (.cache/uv)
    _run(
        [uv_tool(), "pip", "install", "--python", venv / "bin" / "python", wheel],
        CACHE,
        clean_env(),
        "installing the wheel into the venv",
    )
    stamp.write_text(wheel.name + "\n")
    return venv
