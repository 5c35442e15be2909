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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from genoteam import __version__
from genoteam.agents.messages import ROLES
from genoteam.agents.records import TaskRecord
from genoteam.pipeline.api import AnalysisRequest, AnalysisResult
from genoteam.pipeline.cohorts import CohortPlan
from genoteam.sandbox import hostfs
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import LAYOUT_FOLDERS, OutputLayout

if TYPE_CHECKING:
    from genoteam.agents.guidelines import Guideline
    from genoteam.agents.loop import Team

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


@dataclass
class JobState:
    """What a running job collects for its result, provenance and report (the live half; the
    frozen RunRecord is taken from it when the job ends)."""

    job_id: str
    started: float = field(default_factory=time.time)
    tasks: list[TaskRecord] = field(default_factory=list)  # in plan order, the statistician last
    task_errors: dict[str, str] = field(default_factory=dict)  # task id -> unexpected error (with traceback)
    sessions: dict[str, dict] = field(default_factory=dict)
    sandbox_env: dict = field(default_factory=dict)
    plan: CohortPlan | None = None
    stats_task: TaskRecord | None = None
    timings: dict[str, float] = field(default_factory=dict)
    budget_exhausted: str = ""  # why the job stopped on its model budget ("" while it has not)
    backgrounds: dict[str, dict] = field(default_factory=dict)  # GEO series -> title/summary (PI model)


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


def _inputs(plan: CohortPlan | None, input_dir: Path, task_info: Path | None) -> list[dict]:
    files: dict[Path, None] = {}
    for task in plan.tasks if plan else []:
        for entry in task.cohort.files:
            files[Path(entry.path)] = None
    listed = [
        {
            "path": path.relative_to(input_dir).as_posix(),
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
        for path in files
    ]
    if task_info is not None:
        listed.append(
            {
                "path": str(task_info),
                "bytes": task_info.stat().st_size,
                "sha256": sha256_file(task_info),
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


def _guidelines(guidelines: dict[str, Guideline]) -> dict:
    described = {}
    for role, guideline in guidelines.items():
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


def _memory(memory_path: Path, state: JobState) -> dict:
    from genoteam.agents.memory import CodeMemory

    memory = CodeMemory(memory_path)  # a fresh handle: the job's own may already be closed
    try:
        stats = memory.stats(state.job_id)
    finally:
        memory.close()
    visits = [visit for task in state.tasks for visit in task.visits]
    return {
        "path": str(memory_path),
        "job": stats,
        "units_passed": sum(visit.status == "passed" for visit in visits),
        "units_passed_from_memory": sum(visit.from_memory for visit in visits),
    }


def _plan(plan: CohortPlan | None) -> dict:
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


def collect_run_record(
    state: JobState,
    result: AnalysisResult,
    *,
    request: AnalysisRequest,
    input_dir: Path,
    output_dir: Path,
    task_info: Path | None,
    guidelines: dict[str, Guideline],
    team: Team,
    memory_path: Path,
    requested_backend: str,
    backend: str,
) -> RunRecord:
    """Read everything the job's records need, once, now that the job has ended: from the job's
    state and what the engine was given, never from the engine object itself."""
    config, ledger = team.config, team.client.ledger
    sessions = dict(state.sessions)
    return RunRecord(
        job_id=state.job_id,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        request=request,
        result=result,
        input_dir=str(input_dir),
        output_dir=str(output_dir),
        table_file=str(OutputLayout(output_dir).association_table_path(request.trait, request.condition)),
        inputs=tuple(_inputs(state.plan, input_dir, task_info)),
        guidelines=_guidelines(guidelines),
        plan=_plan(state.plan),
        roles={
            role: config.role(role).model_dump(
                include={"model", "api_base", "timeout_s", "max_retries", "offline_reason"}
            )
            for role in ROLES
        },
        team=config.model_dump(exclude={"models"}),
        usage=ledger.summary(),
        calls=tuple(dict(call.__dict__) for call in ledger.calls),
        memory=_memory(memory_path, state),
        sandbox={
            "requested_backend": requested_backend,
            "backend": backend,
            "sessions": sessions,
            "image_id": next((s.get("image_id") for s in sessions.values() if s.get("image_id")), None),
            "packages": dict(state.sandbox_env),
        },
        host={"packages": _versions(), "platform": platform.platform()},
        tasks=tuple(task.model_copy(deep=True) for task in state.tasks),
        task_errors=dict(state.task_errors),
        messages=len(team.bus.messages),
        outputs=tuple(_outputs(output_dir)),
        timings={
            **state.timings,
            "wall_clock_started": state.started,
            "wall_clock_ended": time.time(),
        },
    )
