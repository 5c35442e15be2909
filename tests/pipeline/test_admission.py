"""Memory admission and cohorts in parallel: sizes estimated from the files, cohorts that cannot
fit refused before they start (out_of_memory, with what they would need), and a parallel run
that gives the serial run's answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from genoteam.agents.engine import run_team
from genoteam.agents.llm import TeamConfig
from genoteam.data.catalogue import CohortCatalogue
from genoteam.pipeline.admission import (
    BASE_BYTES,
    BYTES_PER_VALUE,
    CohortSize,
    estimate_cohort,
    refusal,
    refusal_message,
)
from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.parallel import WORKERS_ENV, run_in_parallel
from genoteam.pipeline.reference import run_reference
from genoteam.sandbox.api import SandboxLimits
from genoteam.synthetic import SynthConfig, generate

TRAIT = SynthConfig.trait


@pytest.fixture(scope="module")
def synthetic_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two GEO series and a TCGA cohort of 1,500 genes x 80 samples each."""
    root = tmp_path_factory.mktemp("admission")
    config = SynthConfig(n_genes=1500, n_samples=80, seed=8, kind="both", n_geo_cohorts=2, n_trait_genes=40)
    generate(config, root)
    return root


def test_size_estimate_comes_from_the_files_headers(synthetic_inputs: Path) -> None:
    cohorts = CohortCatalogue(synthetic_inputs).cohorts_for_trait(TRAIT)
    sizes = {c.source: estimate_cohort(c) for c in cohorts}
    tcga = sizes["TCGA"]
    assert tcga is not None and tcga.samples == 80
    assert 1400 <= tcga.rows <= 1700  # gene rows of the Xena matrix (1,500 genes, a few extra)
    geo = estimate_cohort(next(c for c in cohorts if c.source == "GEO"))
    assert geo is not None and geo.samples == 80 and geo.rows > 1000  # probes, some duplicated


def test_real_chol_matrix_size(shared_input: Path) -> None:
    cohort = next(
        c for c in CohortCatalogue(shared_input).cohorts_for_trait("Bile_Duct_Cancer") if c.source == "TCGA"
    )
    size = estimate_cohort(cohort)
    assert size is not None and size.samples == 45
    assert abs(size.rows - 20530) / 20530 < 0.02


def test_refusal_names_the_cohort_and_the_memory_needed() -> None:
    size = CohortSize("TCGA_Big_(BIG)", samples=6000, rows=20000, source_file="big.gz")
    assert size.needed_bytes == BASE_BYTES + BYTES_PER_VALUE * 120_000_000
    need = refusal(size, 4 * 2**30, "the sandbox memory limit (4g)", "raise it")
    assert need is not None and (need.needed_bytes, need.limit_bytes) == (size.needed_bytes, 4 * 2**30)
    assert (need.rows, need.samples, need.remedy) == (20000, 6000, "raise it")
    why = refusal_message(size.cohort, need)
    assert why.startswith("out_of_memory: cohort TCGA_Big_(BIG)") and why.endswith("not started. raise it")
    assert "20,000 rows x 6,000 samples" in why and "needs about 4.7 GB" in why and "4.0 GB" in why
    assert refusal(size, 8 * 2**30, "x", "y") is None
    assert refusal(None, 1, "x", "y") is None  # what cannot be sized is not refused


def _timed_job(seconds: float) -> tuple[float, float]:
    """A job for worker processes: when it ran (monotonic clock, shared by processes here)."""
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


def test_a_cohort_starts_only_when_its_memory_fits_beside_the_running_ones() -> None:
    one_gb = CohortSize("c", 1, (2**30 - BASE_BYTES) // BYTES_PER_VALUE, "f")
    started: list[int] = []
    spans = run_in_parallel(
        _timed_job,
        [(0.5,), (0.5,), (0.5,)],
        [one_gb, one_gb, one_gb],
        workers=3,
        on_start=started.append,
        on_done=lambda i, r: None,
        on_error=lambda i, e: pytest.fail(f"job {i} died: {e}"),
        budget_bytes=int(1.5 * 2**30),  # room for one 1 GB cohort at a time
    )
    assert started == [0, 1, 2]
    ordered = sorted(spans)
    assert all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:], strict=False))  # never overlapped


def test_team_refuses_a_cohort_larger_than_its_sandbox_before_starting(
    synthetic_inputs: Path, tmp_path: Path
) -> None:
    cohort = next(c for c in CohortCatalogue(synthetic_inputs).cohorts_for_trait(TRAIT) if c.source == "TCGA")
    size = estimate_cohort(cohort)
    assert size is not None
    limit = f"{size.needed_bytes // 2**20 - 1}m"  # 1 MB short of what it needs
    assert refusal(size, size.needed_bytes, "x", "y") is None  # with what it needs, it would start
    started = time.monotonic()
    result = run_team(
        AnalysisRequest(trait=TRAIT, cohorts=["TCGA"]),
        synthetic_inputs,
        tmp_path / "out",
        sandbox="local",
        config=TeamConfig(),
        memory_path=tmp_path / "memory.sqlite",
        sandbox_limits=SandboxLimits(memory=limit),
    )
    assert time.monotonic() - started < 60
    (outcome,) = result.cohorts
    assert not outcome.usable and outcome.error is not None
    assert outcome.error.startswith("out_of_memory: cohort TCGA_")
    assert "needs about" in outcome.error and f"sandbox memory limit ({limit})" in outcome.error
    need = outcome.out_of_memory  # the same, as figures a client can act on
    assert need is not None and need.needed_bytes == size.needed_bytes
    assert need.limit_bytes == (size.needed_bytes // 2**20 - 1) * 2**20 < need.needed_bytes
    assert (need.rows, need.samples) == (size.rows, size.samples) and "GENOTEAM_SANDBOX_MEMORY" in need.remedy
    assert result.status in ("failed", "insufficient_data") and "out_of_memory" in result.message
    assert not (tmp_path / "out" / "preprocess" / TRAIT / "cohort_info.json").exists()  # never started
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert "out_of_memory" in json.dumps(provenance)


def test_cohorts_in_parallel_give_the_serial_answer(
    synthetic_inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = {}
    for workers in ("1", "3"):
        monkeypatch.setenv(WORKERS_ENV, workers)
        messages: list[str] = []
        out = tmp_path / f"w{workers}"
        result = run_reference(
            AnalysisRequest(trait=TRAIT), synthetic_inputs, out, lambda f, m, seen=messages: seen.append(m)
        )
        info = (out / "preprocess" / TRAIT / "cohort_info.json").read_bytes()
        runs[workers] = (result.model_dump(exclude={"output_dir"}), info)
        assert sum(m.endswith(" done") for m in messages) == 3  # per-cohort progress
    assert runs["1"] == runs["3"]
    assert runs["1"][0]["status"] == "complete" and runs["1"][0]["significant_genes"]


def _xena_matrix(path: Path, genes: int, barcodes: list[str]) -> None:
    """A real Xena-shaped gzip matrix of genes x barcodes (values from a short repeating cycle,
    so 600 MB of text compress in seconds); its shape is what the estimate reads."""
    import gzip

    values = "\t".join(f"{6 + (j % 7) * 0.125:.3f}" for j in range(len(barcodes)))
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write("sample\t" + "\t".join(barcodes) + "\n")
        for i in range(genes):
            out.write(f"GENE{i}\t{values}\n")


def test_team_refuses_a_20000_x_6000_cohort_with_the_default_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: 20,000 genes x 6,000 samples, default sandbox memory (4g): refused before
    any sandbox starts, with the memory it would need (the estimate reads only the file's header,
    first rows and gzip trailer: nothing is parsed)."""
    monkeypatch.delenv("GENOTEAM_SANDBOX_MEMORY", raising=False)
    generate(SynthConfig(n_genes=100, n_samples=20, seed=3, kind="tcga"), tmp_path / "in")
    xena = next((tmp_path / "in" / "TCGA").iterdir())
    matrix = next(xena.glob("*PANCAN*"))
    barcodes = [f"TCGA-{i // 100:02d}-{i % 10000:04d}-{'01' if i % 5 else '11'}" for i in range(6000)]
    _xena_matrix(matrix, 20_000, barcodes)
    cohort = next(c for c in CohortCatalogue(tmp_path / "in").cohorts_for_trait(TRAIT) if c.source == "TCGA")
    size = estimate_cohort(cohort)
    assert size is not None and size.samples == 6000 and abs(size.rows - 20_000) <= 20
    started = time.monotonic()
    result = run_team(
        AnalysisRequest(trait=TRAIT),
        tmp_path / "in",
        tmp_path / "out",
        sandbox="local",
        config=TeamConfig(),
        memory_path=tmp_path / "memory.sqlite",
    )
    assert time.monotonic() - started < 60
    (outcome,) = result.cohorts
    need = outcome.out_of_memory
    assert (
        need is not None and need.limit == "the sandbox memory limit (4g)" and need.limit_bytes == 4 * 2**30
    )
    assert need.needed_bytes == size.needed_bytes > 4.5 * 2**30  # ~4.7 GB: 40 bytes x 120 M values + 250 MB
    assert "needs about 4.7 GB of memory and the sandbox memory limit (4g) allows 4.0 GB" in outcome.error
    assert "not started" in outcome.error and "GENOTEAM_SANDBOX_MEMORY" in outcome.error
    assert result.status in ("failed", "insufficient_data") and "out_of_memory" in result.message
    assert not (tmp_path / "out" / "preprocess" / TRAIT / "cohort_info.json").exists()  # never started
