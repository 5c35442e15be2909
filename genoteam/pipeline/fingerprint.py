"""What an answer depends on besides its request, and content keys built from it.

One home for these rules: the MCP server keys its jobs with them (server/jobs.py) and a batch keys
its tasks with them (batch/plan.py), so "the same work" means the same thing in both: the input
files' sizes and mtimes, the genoteam version and the guidelines in force.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genoteam.data.cache import sha256_of_file
from genoteam.pipeline.api import AnalysisRequest, EngineOptions


def tree_stats(folder: Path, root: Path) -> list[str]:
    """One line per file under `folder`: path relative to `root`, size, mtime (nanoseconds)."""
    lines = []
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        try:
            stat = path.stat()
        except OSError:  # vanished while listing: it is not an input any more
            continue
        if path.is_file():
            lines.append(f"{path.relative_to(root).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return lines


def folders_fingerprint(root: Path, folders: Iterable[Path]) -> str:
    """sha256 of tree_stats of `folders` (paths relative to `root`, so a moved root keeps its keys).

    Why stats and not hashes: they are cheap on a GenoTEX-sized folder and change whenever a file
    is replaced or edited."""
    root = Path(root)
    lines = [line for folder in folders for line in tree_stats(Path(folder), root)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def inputs_fingerprint(input_dir: Path, request: AnalysisRequest) -> str:
    """The files a request can read: GEO/<trait>, GEO/<condition> and TCGA/ (taken whole because a
    trait's TCGA cohort is found by name)."""
    input_dir = Path(input_dir)
    folders = [input_dir / "GEO" / request.trait, input_dir / "TCGA"]
    if request.condition:
        folders.append(input_dir / "GEO" / request.condition)
    return folders_fingerprint(input_dir, folders)


def guidelines_sha256() -> str:
    """Hash of the guideline files in force (the team's instructions change its answers)."""
    from genoteam.shipped import shipped_dir

    folder = shipped_dir("guidelines")
    lines = tree_stats(folder, folder)  # names and sizes, then the contents
    digest = hashlib.sha256("\n".join(line.rsplit("\t", 1)[0] for line in lines).encode())
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def code_inputs() -> dict[str, str]:
    """What the code that answers is: the genoteam version and the guidelines' hash."""
    from genoteam import __version__

    return {"genoteam_version": __version__, "guidelines_sha256": guidelines_sha256()}


def options_inputs(options: EngineOptions | None) -> dict[str, str]:
    """The engine options that change an answer: the task file's content (its known genes pick the
    GenoTEX penalty; its conditions make the two-step questions) and a pinned image. Where the
    code runs (sandbox backend) does not change it, so it is left out."""
    found: dict[str, str] = {}
    if options is not None and options.task_info:
        path = Path(options.task_info)
        found["task_info_sha256"] = sha256_of_file(path) if path.is_file() else f"missing: {path.name}"
    if options is not None and options.sandbox_image:
        found["sandbox_image"] = options.sandbox_image
    return found


def answer_inputs(
    request: AnalysisRequest, input_dir: Path, options: EngineOptions | None = None
) -> dict[str, str]:
    """Everything besides the request an answer depends on: a change means a new job."""
    return {
        "inputs_fingerprint": inputs_fingerprint(input_dir, request),
        **code_inputs(),
        **options_inputs(options),
    }


def content_key(kind: str, content: dict[str, Any], depends_on: dict[str, Any]) -> str:
    """sha256 of a piece of work: its kind, what it is (JSON-safe `content`) and what else it
    depends on (fingerprints, version, guidelines); key order never matters."""
    payload = {"kind": kind, "content": content, "depends_on": depends_on}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
