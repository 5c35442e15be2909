"""provenance.json of a team job: enough to see, for every number, where it came from.

Inputs with sha256; the guidelines used (with their sha256); for every task and unit the code
that ran, its output, the checks, the verdicts, every attempt and whether the code came from
memory; the models of each role with tokens and cost per role and task; memory reuse; the
sandbox (backend, image id, limits, package versions inside); host package versions; seeds;
timings; the files written, with sha256; and the result.
"""

from __future__ import annotations

import json
from pathlib import Path

from genoteam.agents.run_record import RunRecord
from genoteam.toolkit.layout import atomic_write_text


def build_manifest(record: RunRecord) -> dict:
    """provenance.json's content: a pure function of the job's frozen record."""
    return {
        "engine": "team",
        "job_id": record.job_id,
        "genoteam_version": record.host["packages"]["genoteam"],
        "created": record.created,
        "request": record.request.model_dump(),
        "input_dir": record.input_dir,
        "inputs": list(record.inputs),
        "guidelines": record.guidelines,
        "plan": record.plan,
        "models": {
            "roles": record.roles,
            "team": record.team,
            "usage": record.usage,
            "calls": list(record.calls),
        },
        "memory": record.memory,
        "sandbox": record.sandbox,
        "host": record.host,
        "seeds": {"genotex_seed": 42, "note": "the team itself draws no random numbers"},
        "tasks": [task.model_dump() for task in record.tasks],
        "task_errors": record.task_errors,
        "messages": {"file": "messages.jsonl", "count": record.messages},
        "outputs": list(record.outputs),
        "timings": record.timings,
        # the gene list lives once, in regress/ (listed with its sha256 under outputs)
        "result": {
            **record.result.model_dump(exclude={"significant_genes"}),
            "significant_genes": {"count": len(record.result.significant_genes), "file": "regress/"},
        },
    }


def write_manifest(record: RunRecord) -> Path:
    path = Path(record.output_dir) / "provenance.json"
    atomic_write_text(path, json.dumps(build_manifest(record), indent=1, default=str))
    return path
