"""A small GenoTEX-like corpus for batch tests, made by the project's synthetic generator.

Four traits, eight questions, four cohorts, chosen so every rule of the planner shows:
- Kidney_Clear_Cell_Carcinoma: a GEO series and a TCGA cohort; conditions Age, Gender and
  Bile_Duct_Cancer (a trait used as a condition: its cohort is shared with its own questions);
- Bile_Duct_Cancer: one TCGA cohort; condition Age;
- Large_B-cell_Lymphoma: one TCGA cohort with tumour samples only (one class: unusable data, the
  genuine "insufficient data" case); condition Gender.
Small sizes (200 genes, 24 samples) keep each task well under a second of work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from genoteam.synthetic import SynthConfig, generate
from tests.conftest import PROJECT_ROOT

TRAITS = (
    ("Kidney_Clear_Cell_Carcinoma", "KIRC", "both", ["Age", "Gender", "Bile_Duct_Cancer"], 0.8),
    ("Bile_Duct_Cancer", "CHOL", "tcga", ["Age"], 0.8),
    ("Large_B-cell_Lymphoma", "DLBC", "tcga", ["Gender"], 1.0),
)
N_QUESTIONS = sum(1 + len(conditions) for _, _, _, conditions, _ in TRAITS)
N_COHORTS = 4


@dataclass(frozen=True)
class Corpus:
    input_dir: Path
    task_info: Path
    truth: dict[str, dict]


def make_corpus(root: Path, genes: int = 200, samples: int = 24, traits: tuple = TRAITS) -> Corpus:
    """Generate `traits` into root/input and write root/task_info.json (GenoTEX's format)."""
    input_dir = root / "input"
    task_info: dict[str, dict] = {}
    truth: dict[str, dict] = {}
    for seed, (trait, code, kind, conditions, tumour_fraction) in enumerate(traits, start=1):
        scratch = root / f"gen-{code}"
        config = SynthConfig(
            n_genes=genes,
            n_samples=samples,
            seed=seed,
            kind=kind,
            trait=trait,
            tcga_code=code,
            n_geo_cohorts=1,
            tcga_tumour_fraction=tumour_fraction,
        )
        truth[trait] = generate(config, scratch)
        for part in ("GEO", "TCGA"):
            if (scratch / part).is_dir():
                shutil.copytree(scratch / part, input_dir / part, dirs_exist_ok=True)
        shutil.rmtree(scratch)
        genes_of_trait = [g["gene"] for g in truth[trait]["trait_genes"]]
        task_info[trait] = {"related_genes": genes_of_trait, "conditions": conditions}
    (root / "task_info.json").write_text(json.dumps(task_info, indent=1))
    return Corpus(input_dir, root / "task_info.json", truth)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Corpus:
    return make_corpus(tmp_path_factory.mktemp("batch-corpus"))


def copy_corpus(corpus: Corpus, root: Path) -> Corpus:
    """A private copy a test may change (the session's corpus stays as made)."""
    shutil.copytree(corpus.input_dir, root / "input", copy_function=shutil.copy2)
    shutil.copy2(corpus.task_info, root / "task_info.json")
    return Corpus(root / "input", root / "task_info.json", corpus.truth)


def batch_command(corpus: Corpus, output: Path, *extra: str, python: list[str] | None = None) -> list[str]:
    """`genoteam batch` on the corpus (run by `python`, this interpreter's -m genoteam by default)."""
    return [
        *(python or [sys.executable, "-m", "genoteam"]),
        "batch",
        "--task-info",
        str(corpus.task_info),
        "--input",
        str(corpus.input_dir),
        "--output",
        str(output),
        *extra,
    ]


def batch_argv(corpus: Corpus, output: Path, *extra: str) -> list[str]:
    """`genoteam batch` on the corpus with the reference engine on the local process pool."""
    return batch_command(
        corpus, output, "--engine", "reference", "--cluster", "pool", "--max-parallel", "2", *extra
    )


def run_cli(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=PROJECT_ROOT)


def states(output: Path) -> dict[str, dict]:
    """Every task state of a batch folder, by label."""
    found = {}
    for path in sorted((output / "state").glob("*.json")):
        state = json.loads(path.read_text())
        found[state["label"]] = state
    return found
