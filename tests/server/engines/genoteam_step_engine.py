"""A small engine for the server's job-machinery tests (tests only, never shipped).

It works in timed steps, so tests can watch progress, cancel mid-way, kill the server while it
runs, and see a failure. It reads the real input: the sample count of each TCGA cohort of the
trait comes from the header of its expression matrix. Its gene list is no analysis: genes are
the first expression-matrix rows, ranked by row order, labelled as such in the message.
Controlled by env (the worker inherits the server's env):
  GENOTEAM_STEP_ENGINE_STEPS, GENOTEAM_STEP_ENGINE_STEP_S, GENOTEAM_STEP_ENGINE_FAIL=1,
  GENOTEAM_STEP_ENGINE_COHORT_ERROR=<text>: every cohort fails with that error (a "failed" result),
  GENOTEAM_STEP_ENGINE_IMAGE=<local image>: start a labelled container (like a sandbox) first,
  GENOTEAM_STEP_ENGINE_LEAK=1: write host paths of every kind (checkout, site-packages, uv cache,
  home, input, workspace) into the provenance and the failure message, as tracebacks do.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

from genoteam.pipeline.api import AnalysisRequest, AnalysisResult, CohortOutcome, GeneHit
from genoteam.toolkit.errors import GenoteamError


def _start_container(image: str) -> None:
    import docker

    from genoteam.sandbox.lifecycle import LABEL_JOB, LABEL_SANDBOX

    job_id = os.environ["GENOTEAM_JOB_ID"]
    docker.from_env().containers.run(
        image,
        ["sleep", "600"],
        detach=True,
        labels={LABEL_SANDBOX: "1", LABEL_JOB: job_id},
        network_mode="none",
        name=f"genoteam-test-{job_id}",
    )


def host_paths(input_dir: Path, output_dir: Path) -> dict[str, str]:
    """Paths a real engine's tracebacks and records contain."""
    import pandas

    import genoteam

    home = Path.home()
    return {
        "checkout": str(Path(genoteam.__file__).parent / "server" / "app.py"),
        "site_packages": str(Path(pandas.__file__).parent / "core" / "frame.py"),
        "uv_cache": str(home / ".cache" / "uv" / "archive-v0" / "abc" / "mcp" / "server.py"),
        "home": str(home / "notes" / "run.txt"),
        "input": str(input_dir / "TCGA"),
        "workspace": str(output_dir / "preprocess"),
    }


def run(
    request: AnalysisRequest, input_dir: Path, output_dir: Path, progress, stage: str = "all"
) -> AnalysisResult:
    steps = int(os.environ.get("GENOTEAM_STEP_ENGINE_STEPS", "4"))
    step_s = float(os.environ.get("GENOTEAM_STEP_ENGINE_STEP_S", "0.2"))
    if os.environ.get("GENOTEAM_STEP_ENGINE_IMAGE"):
        _start_container(os.environ["GENOTEAM_STEP_ENGINE_IMAGE"])
    cohorts: list[CohortOutcome] = []
    genes: list[str] = []
    for folder in sorted((input_dir / "TCGA").glob(f"TCGA_{request.trait}_(*)")):
        code = folder.name.rsplit("(", 1)[1].rstrip(")")
        matrix = next(folder.glob("*HiSeqV2_PANCAN.gz"), None)
        if matrix is None:
            cohorts.append(
                CohortOutcome(cohort=code, trait=request.trait, usable=False, note="no expression matrix")
            )
            continue
        with gzip.open(matrix, "rt") as handle:
            header = handle.readline().rstrip("\n").split("\t")
            genes = [handle.readline().split("\t", 1)[0] for _ in range(30)]
        cohorts.append(
            CohortOutcome(cohort=code, trait=request.trait, usable=True, sample_size=len(header) - 1)
        )
    for step in range(steps):
        progress(step / steps, f"step {step + 1} of {steps} ({stage})")
        time.sleep(step_s)
    leak = host_paths(input_dir, output_dir) if os.environ.get("GENOTEAM_STEP_ENGINE_LEAK") else {}
    if os.environ.get("GENOTEAM_STEP_ENGINE_FAIL"):
        where = f" ({'; '.join(leak.values())})" if leak else ""
        raise GenoteamError(
            f"step engine failed on purpose under {input_dir}{where}", "unset GENOTEAM_STEP_ENGINE_FAIL"
        )
    cohort_error = os.environ.get("GENOTEAM_STEP_ENGINE_COHORT_ERROR")
    if cohort_error:  # like a configuration problem: every cohort fails, the engine answers "failed"
        failed = [c.model_copy(update={"usable": False, "error": cohort_error}) for c in cohorts]
        return AnalysisResult(
            trait=request.trait,
            condition=request.condition,
            status="failed",
            method=f"step-engine-{stage}",
            selected_cohorts=[],
            cohorts=failed,
            significant_genes=[],
            output_dir=str(output_dir),
            message=f"every cohort failed: {cohort_error}",
        )
    preprocess = output_dir / "preprocess" / request.trait
    preprocess.mkdir(parents=True, exist_ok=True)
    (preprocess / "cohort_info.json").write_text(json.dumps({c.cohort: c.model_dump() for c in cohorts}))
    (output_dir / "provenance.json").write_text(
        json.dumps({"engine": "steps", "stage": stage, "input": str(input_dir), "paths": leak})
    )
    hits = [
        GeneHit(gene=g, coefficient=1.0 / (i + 1), p_value=1e-6 * (i + 1), q_value=1e-5 * (i + 1))
        for i, g in enumerate(genes)
    ]
    return AnalysisResult(
        trait=request.trait,
        condition=request.condition,
        status="complete" if cohorts else "insufficient_data",
        method=f"step-engine-{stage}",
        selected_cohorts=[c.cohort for c in cohorts if c.usable],
        cohorts=cohorts,
        significant_genes=hits if stage != "preprocess" else [],
        output_dir=str(output_dir),
        message=f"test engine: genes are matrix rows in file order, not an analysis (output in {output_dir})",
    )
