"""The frozen record of a finished team job: everything provenance.json and report.md say.

Why: the manifest and the report used to read the live job object (its ledger, its memory, the
clock) while writing, so two readers of one job could disagree. `collect_run_record` does every
read once, when the job has ended (input and guideline hashes, the memory's statistics for the
job, the files written, host versions, the end time); `manifest.build_manifest` and
`report.report_text` are pure functions of the record.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from genoteam import __version__
from genoteam.agents.messages import ROLES
from genoteam.agents.records import TaskRecord
from genoteam.pipeline.api import AnalysisRequest, AnalysisResult
from genoteam.sandbox import hostfs
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import LAYOUT_FOLDERS

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


@dataclass(frozen=True)
class RunRecord:
    job_id: str
    created: str
    request: AnalysisRequest
    result: AnalysisResult
    input_dir: str
    output_dir: str
    table_file: str  # the association table the statistician writes (for the volcano plot)
    inputs: tuple[dict, ...]
    guidelines: dict
    plan: dict
    roles: dict  # role -> its model settings as provenance shows them
    team: dict  # the [team] settings
    usage: dict  # the ledger's summary
    calls: tuple[dict, ...]
    memory: dict
    sandbox: dict
    host: dict
    tasks: tuple[TaskRecord, ...]
    task_errors: dict
    messages: int
    outputs: tuple[dict, ...]
    timings: dict


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
    listed = [
        {
            "path": path.relative_to(run.input_dir).as_posix(),
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
        for path in files
    ]
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
    for sub in LAYOUT_FOLDERS:
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


def _memory(run: TeamRun) -> dict:
    from genoteam.agents.memory import CodeMemory

    memory = CodeMemory(run.memory_path)  # a fresh handle: the job's own may already be closed
    try:
        stats = memory.stats(run.state.job_id)
    finally:
        memory.close()
    visits = [visit for task in run.state.tasks for visit in task.visits]
    return {
        "path": str(run.memory_path),
        "job": stats,
        "units_passed": sum(visit.status == "passed" for visit in visits),
        "units_passed_from_memory": sum(visit.from_memory for visit in visits),
    }


def _plan(run: TeamRun) -> dict:
    plan = run.state.plan
    if plan is None:
        return {"tasks": [], "skipped": {}, "survey_problems": {}, "notes": []}
    tasks = [
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
    return {
        "tasks": tasks,
        "skipped": dict(plan.skipped),
        "survey_problems": dict(plan.survey_problems),
        "notes": list(plan.notes),
    }


def collect_run_record(run: TeamRun, result: AnalysisResult) -> RunRecord:
    """Read everything the job's records need, once, now that the job has ended."""
    config, ledger = run.team.config, run.team.client.ledger
    sessions = dict(run.state.sessions)
    return RunRecord(
        job_id=run.state.job_id,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        request=run.request,
        result=result,
        input_dir=str(run.input_dir),
        output_dir=str(run.output_dir),
        table_file=str(run.table_file),
        inputs=tuple(_inputs(run)),
        guidelines=_guidelines(run),
        plan=_plan(run),
        roles={
            role: config.role(role).model_dump(
                include={"model", "api_base", "timeout_s", "max_retries", "offline_reason"}
            )
            for role in ROLES
        },
        team=config.model_dump(exclude={"models"}),
        usage=ledger.summary(),
        calls=tuple(dict(call.__dict__) for call in ledger.calls),
        memory=_memory(run),
        sandbox={
            "requested_backend": run.sandbox,
            "backend": run.backend,
            "sessions": sessions,
            "image_id": next((s.get("image_id") for s in sessions.values() if s.get("image_id")), None),
            "packages": dict(run.state.sandbox_env),
        },
        host={"packages": _versions(), "platform": platform.platform()},
        tasks=tuple(task.model_copy(deep=True) for task in run.state.tasks),
        task_errors=dict(run.state.task_errors),
        messages=len(run.team.bus.messages),
        outputs=tuple(_outputs(run.output_dir)),
        timings={
            **run.state.timings,
            "wall_clock_started": run.state.started,
            "wall_clock_ended": time.time(),
        },
    )
