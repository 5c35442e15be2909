"""The GenoTEX-like corpus (`genoteam synth --genotex-like`): its shape, determinism, and that the
reference engine, run for real on it, finds the planted genes and calls each unusable cohort
unusable for the right reason (scored by `genoteam eval` against the corpus's truth folder)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shlex
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from genoteam.cli import main
from genoteam.data.catalogue import CohortCatalogue
from genoteam.evaluation.harness import evaluate
from genoteam.pipeline.api import AnalysisRequest
from genoteam.pipeline.reference import run_reference
from genoteam.synthetic_corpus import (
    MAX_COHORTS,
    N_TRAITS,
    RARE_CLASS,
    TWO_PLATFORM,
    UNUSABLE_KINDS,
    CorpusConfig,
    plan_corpus,
)
from genoteam.synthetic_write import write_corpus
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.geo import read_geo_cohort
from genoteam.toolkit.stats.selection import load_task_info

REPO = Path(__file__).resolve().parents[2]
N_SMALL = 40  # questions of the written corpus: the first 5 traits carry every unusable kind


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus") / "c"
    return out, write_corpus(CorpusConfig(seed=3, n_questions=N_SMALL), out)


def test_the_default_plan_has_genotex_shape():
    plan = plan_corpus(CorpusConfig())
    assert len(plan.traits) == N_TRAITS == 132
    counts = [len(t.cohorts) for t in plan.traits]
    assert min(counts) == 1 and max(counts) == MAX_COHORTS and len(set(counts)) == MAX_COHORTS
    assert sum(1 for t in plan.traits if t.tcga_code) == 36
    kinds = Counter(c.kind for t in plan.traits for c in t.cohorts)
    assert set(UNUSABLE_KINDS) <= set(kinds) and kinds[TWO_PLATFORM] >= 1 and kinds["usable"] > 500
    platforms = {p for t in plan.traits for c in t.cohorts for p in c.platforms}
    assert len(platforms) >= 6
    conditions = Counter(
        "trait" if c not in ("Age", "Gender") else c for t in plan.traits for c in t.conditions
    )
    assert conditions["Age"] > 100 and conditions["Gender"] > 100 and conditions["trait"] > 300
    names = [t.name for t in plan.traits]
    for t in plan.traits:  # a two-step condition is an earlier trait: a prefix of traits is closed
        assert all(names.index(c) < names.index(t.name) for c in t.conditions if c not in ("Age", "Gender"))
    assert plan.n_questions > 1000


def test_questions_n_keeps_exactly_n_questions():
    for n in (1, 7, 100):
        assert plan_corpus(CorpusConfig(n_questions=n)).n_questions == n
    with pytest.raises(GenoteamError, match="at least 1"):
        plan_corpus(CorpusConfig(n_questions=0))
    with pytest.raises(GenoteamError, match="more than the corpus holds"):
        plan_corpus(CorpusConfig(n_questions=10**6))


def test_written_corpus_is_genotex_layout_with_messy_geo_and_xena_tcga(corpus):
    out, record = corpus
    task_info = load_task_info(out / "task_info.json")  # the toolkit's reader of GenoTEX's task file
    assert sum(1 + len(v["conditions"]) for v in task_info.values()) == N_SMALL
    assert list(task_info) == [t["trait"] for t in record["traits"]]
    catalogue = CohortCatalogue(out / "input")
    wording_lines: set[str] = set()
    kinds = Counter()
    for trait in record["traits"]:
        planned = {c["cohort"] for c in trait["cohorts"]}
        found = {c.output_id for c in catalogue.cohorts_for_trait(trait["trait"])}
        assert found == planned, trait["trait"]  # TCGA folders match their trait by the domain rules
        for cohort in trait["cohorts"]:
            kinds[cohort["kind"]] += 1
            folder = out / cohort["folder"]
            names = sorted(p.name for p in folder.iterdir())
            if cohort["source"] == "TCGA":
                assert any("HiSeqV2_PANCAN" in n for n in names) and any("clinicalMatrix" in n for n in names)
                continue
            gse = cohort["cohort"]
            if cohort["kind"] == TWO_PLATFORM:  # like GSE781: the family SOFT alone, two platforms
                assert names == [f"{gse}_family.soft.gz"]
                with gzip.open(folder / names[0], "rt") as handle:
                    assert sum(line.startswith("^PLATFORM") for line in handle) == 2
            else:
                assert names == [f"{gse}_family.soft.gz", f"{gse}_series_matrix.txt.gz"]
            series = read_geo_cohort(folder)
            for platform in series.platforms.values():
                assert not platform.expression.index.isin(["XIST", "RPS4Y1"]).any()  # probe ids only
                for lines in platform.samples["characteristics_ch1"]:
                    wording_lines.update(lines)
    assert set(UNUSABLE_KINDS) <= set(kinds) and kinds[TWO_PLATFORM] >= 1
    keys = {line.split(":")[0] for line in wording_lines}
    assert len(keys) >= 8  # varied keys: disease state, diagnosis, Sex, SEX, age (yrs), ...
    text = "\n".join(wording_lines)
    for messy in (
        "n/a",
        "unknown",
        "months",
        "years",
        "PATIENT WITH",
        "NORMAL",
        "CONTROL",
        "cell type: PBMC",
    ):
        assert messy in text
    assert re.search(r"age: \d+$", text, re.MULTILINE) and re.search(r"\d+y$", text, re.MULTILINE)


def test_same_seed_same_bytes_other_seed_other_corpus(corpus, tmp_path):
    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    write_corpus(CorpusConfig(seed=3, n_questions=12), tmp_path / "a")
    write_corpus(CorpusConfig(seed=3, n_questions=12), tmp_path / "b")
    write_corpus(CorpusConfig(seed=4, n_questions=12), tmp_path / "c")
    a, b, c = (digests(tmp_path / x) for x in "abc")
    assert a == b and len(a) > 20
    assert json.loads((tmp_path / "a" / "task_info.json").read_text()) != json.loads(
        (tmp_path / "c" / "task_info.json").read_text()
    )


def _reason_holds(kind: str, record: dict) -> bool:
    """Whether the engine's record says the cohort is unusable for the reason its kind plants."""
    note = record.get("note") or ""
    biased = record.get("is_biased") is True and "trait BIASED" in note
    one_value = re.search(r"trait BIASED \('[^']+': min ([\d.]+), quartiles \1/\1/\1, max \1\)", note)
    return {
        "no_trait_variation": biased and bool(one_value or "1 classes" in note),
        "too_few_samples": biased and f"with {RARE_CLASS} of" in note and "2 classes" in note,
        "trait_absent": record.get("is_trait_available") is False and "no trait information" in note,
        "constant_expression": record.get("is_gene_available") is False and "no gene varies" in note,
        "missing_expression": record.get("is_gene_available") is False and "every value is missing" in note,
    }[kind]


def test_reference_engine_recovers_planted_genes_and_unusable_reasons(corpus, tmp_path):
    out, record = corpus
    traits = record["traits"][:5]
    questions = [(t["trait"], None) for t in traits]
    questions += [(traits[1]["trait"], "Age"), (traits[2]["trait"], "Gender")]
    questions += [
        (t["trait"], c) for t in traits[1:3] for c in t["conditions"][-1:] if c not in ("Age", "Gender")
    ]
    assert any(c not in (None, "Age", "Gender") for _, c in questions)  # a two-step question is run
    pred = tmp_path / "pred"
    for trait, condition in questions:  # cohorts preprocessed once, by the trait's first question
        result = run_reference(
            AnalysisRequest(trait=trait, condition=condition),
            out / "input",
            pred,
            task_info_path=out / "task_info.json",
            stage="all" if condition is None else "statistics",
        )
        assert result.status == "complete", (trait, condition, result.message)
    seen = Counter()
    for trait in traits:
        predicted = json.loads((pred / "preprocess" / trait["trait"] / "cohort_info.json").read_text())
        for cohort in trait["cohorts"]:
            got = predicted[cohort["cohort"]]
            assert got["is_usable"] is cohort["expected_usable"], (trait["trait"], cohort, got)
            if cohort["kind"] in UNUSABLE_KINDS:
                assert _reason_holds(cohort["kind"], got), (cohort["kind"], got)
                seen[cohort["kind"]] += 1
    assert set(seen) == set(UNUSABLE_KINDS)
    # scored as a batch is: GenoTEX's metrics of the output folder against the truth folder
    report = evaluate(pred, out / "truth", task_info_path=out / "task_info.json")
    ran = {(t, str(c)) for t, c in questions}
    scored = [q for q in report["analysis"]["per_question"] if (q["trait"], q["condition"]) in ran]
    assert len(scored) == len(questions) and all(q["success"] == 100.0 for q in scored)
    f1 = [q["f1"] for q in scored]
    assert min(f1) >= 60.0 and sum(f1) / len(f1) >= 80.0, scored
    chosen = [
        q for q in report["dataset"]["selection"]["per_question"] if (q["trait"], str(q["condition"])) in ran
    ]
    assert len(chosen) == len(questions) and all(q["accuracy"] == 100.0 for q in chosen), chosen
    filtering = {r["trait"]: r for r in report["dataset"]["filtering"]["per_trait"]}
    assert all(filtering[t["trait"]]["accuracy"] == 100.0 for t in traits)
    linked = report["preprocessing"]["linked"]
    assert linked["average"]["composite_similarity_correlation"] >= 0.9, linked["average"]


def test_cli_writes_a_corpus_and_refuses_what_does_not_apply(tmp_path, capsys):
    folder = tmp_path / "c"
    assert main(["synth", "--genotex-like", "--output", str(folder), "--questions", "5"]) == 0
    printed = capsys.readouterr().out
    assert "5 questions" in printed and f"genoteam eval --pred RUN --ref {folder / 'truth'}" in printed
    assert (folder / "truth" / "regress").is_dir() and (folder / "corpus.json").is_file()
    argv = ["synth", "--genotex-like", "--output", str(tmp_path / "d"), "--kind", "geo", "--samples", "9"]
    assert main(argv) == 1
    assert "--kind, --samples do not apply to --genotex-like" in capsys.readouterr().err
    assert main(["synth", "--genotex-like", "--output", str(folder), "--questions", "5"]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "e"), "--questions", "5"]) == 1
    assert "--questions applies to a corpus" in capsys.readouterr().err


def test_the_readme_command_works_as_written(tmp_path):
    """The README's `genoteam synth --genotex-like` line, run by the console script in a new folder."""
    readme = (REPO / "README.md").read_text()
    lines = [
        ln.strip() for ln in readme.splitlines() if ln.strip().startswith("genoteam synth --genotex-like")
    ]
    assert lines, "README.md documents no `genoteam synth --genotex-like` command"
    done = subprocess.run(shlex.split(lines[0]), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert (folder / "task_info.json").is_file() and (folder / "truth" / "regress").is_dir()
