"""The README's commands as written: read a section's bash block, run it the way a user would (the
installed `genoteam` console script, from a folder laid out like a checkout, data at ../shared)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_ROOT
from tests.prerequisites import skip_or_fail_in_ci


def readme_command(heading: str) -> list[str]:
    """The words of the first bash block under the README's `## <heading>`."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)\n```", section, re.S)
    assert block, f"README's {heading} section has no bash block"
    return shlex.split(block.group(1))


def run_genoteam_as_written(
    words: list[str], shared_data: Path, tmp_path: Path, timeout: float
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run `genoteam <words[1:]>` from tmp_path/checkout (with ../shared beside it): (run, checkout)."""
    assert words[0] == "genoteam", words
    genoteam = shutil.which("genoteam")
    if genoteam is None:
        skip_or_fail_in_ci("the genoteam console script is not on PATH (scripts/setup.sh installs it)")
    checkout = tmp_path / "checkout"
    checkout.mkdir(exist_ok=True)
    shared = tmp_path / "shared"
    if not shared.exists():
        shared.symlink_to(shared_data.parent)  # ../shared as beside a real checkout
    done = subprocess.run(
        [genoteam, *words[1:]], cwd=checkout, capture_output=True, text=True, timeout=timeout
    )
    return done, checkout
