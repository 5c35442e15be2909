"""provenance.json of a team job: enough to see, for every number, where it came from.

Inputs with sha256; the guidelines used (with their sha256); for every task and unit the code
that ran, its output, the checks, the verdicts, every attempt and whether the code came from
memory; the models of each role with tokens and cost per role and task; memory reuse; the
sandbox (backend, image id, limits, package versions inside); host package versions; seeds;
timings; the files written, with sha256; and the result.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from genoteam import __version__
from genoteam.agents.messages import ROLES
from genoteam.pipeline.api import AnalysisResult
from genoteam.sandbox import hostfs
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_text

if TYPE_CHECKING:
    from genoteam.agents.engine import TeamRun

HOST_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "pydantic",
    "litellm",
    "docker",
    "PyYAML",
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": sys.version.split()[0], "genoteam": __version__}
    for name in HOST_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _inputs(run: TeamRun) -> list[dict]:
    files: dict[Path, None] = {}
    for task in run.state.plan.tasks if run.state.plan else []:
        for entry in task.cohort.files:
            files[Path(entry.path)] = None
    listed = []
    for path in files:
        listed.append(
            {
                "path": path.relative_to(run.input_dir).as_posix(),
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
            }
        )
    if run.task_info is not None:
        listed.append(
            {
                "path": str(run.task_info),
                "bytes": run.task_info.stat().st_size,
                "sha256": sha256_file(run.task_info),
                "role": "task_info",
            }
        )
    return listed


def _outputs(root: Path) -> list[dict]:
    """The files sandboxed code wrote, listed without following links (what was not a regular
    file is listed with a note instead of a hash)."""
    out = []
    for sub in ("preprocess", "regress"):
        listing = hostfs.regular_files(root / sub)
        for rel, size in listing.files:
            path = root / sub / rel
            try:
                fd, _ = hostfs.open_regular(root, path, limit=1 << 62)
            except (OSError, GenoteamError) as error:  # swapped after the listing
                out.append({"path": f"{sub}/{rel}", "bytes": size, "note": str(error)[:200]})
                continue
            with os.fdopen(fd, "rb") as handle:
                digest = hashlib.sha256()
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
            out.append({"path": f"{sub}/{rel}", "bytes": size, "sha256": digest.hexdigest()})
        out += [
            {"path": f"{sub}/{entry}", "note": "not a regular file: not read"} for entry in listing.dropped
        ]
    return out


def _guidelines(run: TeamRun) -> dict:
    described = {}
    for role, guideline in run.guidelines.items():
        source = Path(guideline.source)
        prose = source.with_suffix(".md")
        described[role] = {
            "source": str(source),
            "version": guideline.version,
            "sha256": sha256_file(source),
            "prose_sha256": sha256_file(prose) if prose.is_file() else None,
            "units": guideline.unit_names(),
        }
    return described


def _memory_summary(run: TeamRun) -> dict:
    from genoteam.agents.memory import CodeMemory

    memory = CodeMemory(run.memory_path)  # a fresh handle: the job's own may already be closed
    try:
        stats = memory.stats(run.state.job_id)
    finally:
        memory.close()
    from_memory = sum(1 for task in run.state.tasks for visit in task.visits if visit.from_memory)
    passed = sum(1 for task in run.state.tasks for visit in task.visits if visit.status == "passed")
    return {
        "path": str(run.memory_path),
        "job": stats,
        "units_passed": passed,
        "units_passed_from_memory": from_memory,
    }


def build_manifest(run: TeamRun, result: AnalysisResult) -> dict:
    config = run.team.config
    plan = run.state.plan
    return {
        "engine": "team",
        "job_id": run.state.job_id,
        "genoteam_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "request": run.request.model_dump(),
        "input_dir": str(run.input_dir),
        "inputs": _inputs(run),
        "guidelines": _guidelines(run),
        "plan": {
            "tasks": [
                {
                    "task_id": t.task_id,
                    "entity": t.entity,
                    "cohort": t.output_id,
                    "source": t.source,
                    "platform": t.platform,
                    "folder": t.cohort.id,
                }
                for t in plan.tasks
            ]
            if plan
            else [],
            "skipped": plan.skipped if plan else {},
            "survey_problems": plan.survey_problems if plan else {},
            "notes": plan.notes if plan else [],
        },
        "models": {
            "roles": {
                role: config.role(role).model_dump(
                    include={"model", "api_base", "timeout_s", "max_retries", "offline_reason"}
                )
                for role in ROLES
            },
            "team": config.model_dump(exclude={"models"}),
            "usage": run.team.client.ledger.summary(),
            "calls": [call.__dict__ for call in run.team.client.ledger.calls],
        },
        "memory": _memory_summary(run),
        "sandbox": {
            "requested_backend": run.sandbox,
            "backend": run.backend,
            "sessions": run.state.sessions,
            "image_id": next(
                (s.get("image_id") for s in run.state.sessions.values() if s.get("image_id")), None
            ),
            "packages": run.state.sandbox_env,
        },
        "host": {"packages": _versions(), "platform": platform.platform()},
        "seeds": {"genotex_seed": 42, "note": "the team itself draws no random numbers"},
        "tasks": [task.model_dump() for task in run.state.tasks],
        "task_errors": run.state.task_errors,
        "messages": {"file": "messages.jsonl", "count": len(run.team.bus.messages)},
        "outputs": _outputs(run.output_dir),
        "timings": {
            **run.state.timings,
            "wall_clock_started": run.state.started,
            "wall_clock_ended": time.time(),
        },
        # the gene list lives once, in regress/ (listed with its sha256 under outputs)
        "result": {
            **result.model_dump(exclude={"significant_genes"}),
            "significant_genes": {"count": len(result.significant_genes), "file": "regress/"},
        },
    }


def write_manifest(run: TeamRun, result: AnalysisResult) -> Path:
    path = run.output_dir / "provenance.json"
    atomic_write_text(path, json.dumps(build_manifest(run, result), indent=1, default=str))
    return path
