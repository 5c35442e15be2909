"""The plan of a GenoTEX-shaped synthetic corpus: traits, their conditions and cohorts.

Why: a batch of a benchmark's size must be run and scored end to end, and GenoTEX's own data
cannot be shipped or regenerated with a known answer. The plan mirrors the benchmark's shape:
132 traits (36 with a TCGA cohort), 1-12 cohorts each, conditions Age and Gender and other
traits (two-step questions), and unusable cohorts of every kind GenoTEX meets:

- no_trait_variation: every sample is a case (one class; TCGA's DLBC is all tumour);
- too_few_samples: the rarer class has 3 samples, under GenoTEX's bias threshold (< 5 and < 10%);
- trait_absent: the series records age and sex but nothing says which samples have the trait;
- constant_expression: every probe has one value in all samples (no gene varies);
- missing_expression: every expression value is missing ('null').

Everything is drawn from numpy's PCG64 seeded by the seed: the same config gives the same plan.
`--questions N` keeps the first N questions in task-file order (a trait's unconditioned question,
then its conditions); a two-step condition always names an earlier trait, so every kept question
has its condition's cohorts. The writer is genoteam.synthetic_write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from genoteam.synthetic_traits import OTHER_TRAITS, TCGA_TRAITS
from genoteam.toolkit.errors import GenoteamError

UNUSABLE_KINDS = (
    "no_trait_variation",
    "too_few_samples",
    "trait_absent",
    "constant_expression",
    "missing_expression",
)
TCGA_UNUSABLE_KINDS = ("no_trait_variation", "too_few_samples")  # what a Xena cohort can be
TWO_PLATFORM = "two_platform"  # a GSE781-like series: the same specimens on two arrays, SOFT only
N_TRAITS = 132
MAX_COHORTS = 12
RARE_CLASS = 3  # too_few_samples: the rarer class, under both of GenoTEX's thresholds

# The arrays of the corpus: (GPL id, probe-id style). Many series share a platform, as on GEO.
PLATFORMS = (
    ("GPL90570", "affymetrix"),
    ("GPL90571", "affymetrix"),
    ("GPL96947", "illumina"),
    ("GPL96884", "illumina"),
    ("GPL96480", "agilent"),
)
PAIR_PLATFORMS = (("GPL90096", "U133A"), ("GPL90097", "U133B"))  # the two-platform series' arrays


@dataclass(frozen=True)
class Scale:
    """Sizes of one scale: genes in the universe, samples per cohort, planted genes per trait."""

    n_genes: int
    samples: tuple[int, int]  # uniform range of a usable cohort's sample count
    n_trait_genes: int
    effect: tuple[float, float]  # |log2 fold change| of planted trait genes
    n_known_decoys: int  # known (task-file) genes per trait that are not planted


SCALES: dict[str, Scale] = {
    # tests: a question is answered by the reference engine in about a second
    "small": Scale(n_genes=300, samples=(24, 60), n_trait_genes=8, effect=(1.0, 2.0), n_known_decoys=6),
    # closer to GenoTEX: a whole genome, GEO series of 40-400 samples, ~1% of genes planted
    "full": Scale(n_genes=20000, samples=(40, 400), n_trait_genes=100, effect=(0.5, 2.0), n_known_decoys=60),
}


@dataclass(frozen=True)
class CorpusConfig:
    seed: int = 0
    n_questions: int | None = None  # keep the first N questions (None: every trait's questions)
    n_genes: int | None = None  # None: the scale's
    scale: Literal["small", "full"] = "small"

    def sizes(self) -> Scale:
        if self.scale not in SCALES:
            raise GenoteamError(f"unknown scale {self.scale!r}", f"use one of {sorted(SCALES)}")
        base = SCALES[self.scale]
        if self.n_genes is None:
            return base
        if self.n_genes < 100:
            raise GenoteamError(
                f"--genes {self.n_genes} is too small for a corpus", "give at least 100 genes"
            )
        planted = min(base.n_trait_genes, max(5, self.n_genes // 100))
        return Scale(self.n_genes, base.samples, planted, base.effect, min(base.n_known_decoys, planted))


@dataclass(frozen=True)
class CohortSpec:
    """One cohort to write: which trait, which kind, how many samples and cases, on what."""

    trait: str
    cohort_id: str  # the GSE accession, or "TCGA"
    source: Literal["GEO", "TCGA"]
    kind: str  # "usable", TWO_PLATFORM or one of UNUSABLE_KINDS
    n_samples: int
    n_cases: int
    platforms: tuple[str, ...] = ()  # GPL ids (GEO)
    wording: int = 0  # index into synthetic_traits.geo_wordings

    @property
    def usable(self) -> bool:
        return self.kind not in UNUSABLE_KINDS


@dataclass(frozen=True)
class TraitSpec:
    name: str
    tcga_code: str | None
    conditions: tuple[str, ...]
    cohorts: tuple[CohortSpec, ...]


@dataclass
class CorpusPlan:
    config: CorpusConfig
    scale: Scale
    traits: list[TraitSpec] = field(default_factory=list)

    @property
    def n_questions(self) -> int:
        return sum(1 + len(t.conditions) for t in self.traits)

    def questions(self) -> list[tuple[str, str | None]]:
        return [(t.name, c) for t in self.traits for c in (None, *t.conditions)]


def _trait_order(rng: np.random.Generator) -> list[tuple[str, str | None]]:
    """All 132 traits shuffled, a TCGA trait first (so even a tiny corpus has a TCGA cohort)."""
    names: list[tuple[str, str | None]] = [(t, c) for t, c in TCGA_TRAITS] + [(t, None) for t in OTHER_TRAITS]
    order = [names[i] for i in rng.permutation(len(names))]
    first_tcga = next(i for i, (_, code) in enumerate(order) if code)
    order.insert(0, order.pop(first_tcga))
    return order


def _conditions(index: int, earlier: list[str], rng: np.random.Generator) -> tuple[str, ...]:
    """Gender and Age (each left out now and then), then traits named earlier: two-step questions.

    Counts follow GenoTEX's task file: most traits have two trait conditions, a few many more."""
    clinical = tuple(c for c in ("Gender", "Age") if rng.random() >= 0.08)
    k = int(rng.choice([0, 1, 2, 2, 2, 2, 2, 3, 3, 4, 6, 9, 15, 21, 26]))
    if 1 <= index <= 3:
        k = max(k, 1)  # a small corpus still has two-step questions
    k = min(k, len(earlier))
    chosen = rng.choice(len(earlier), size=k, replace=False) if k else []
    return clinical + tuple(earlier[int(i)] for i in sorted(chosen))


def _cohort_kinds(index: int, n: int, tcga: bool, rng: np.random.Generator) -> list[str]:
    """Kinds of a trait's n cohorts (TCGA last); the first is usable unless the whole trait is not.

    The first traits carry one unusable cohort of each kind in turn, so every kind is present
    in any corpus of a few traits; a few later traits have no usable cohort at all."""
    kinds = ["usable"] * n
    for j in range(1, n):
        draw = rng.random()
        if draw < 0.15:
            kinds[j] = str(rng.choice(UNUSABLE_KINDS))
        elif draw < 0.17:
            kinds[j] = TWO_PLATFORM
    if index < len(UNUSABLE_KINDS):  # here n >= 3: cohort 0 stays usable, the TCGA one (last) too
        forced = UNUSABLE_KINDS[index]
        kinds[n - 2 if tcga and forced not in TCGA_UNUSABLE_KINDS else n - 1] = forced
    if index >= 8 and rng.random() < 0.04:
        kinds = [str(rng.choice(UNUSABLE_KINDS)) for _ in range(n)]
    if tcga and kinds[-1] not in ("usable", *TCGA_UNUSABLE_KINDS):  # incl. a drawn TWO_PLATFORM
        kinds[-1] = "usable"  # a Xena cohort cannot lack its trait or its expression
    if index == 0 and n >= 2:
        kinds[0] = TWO_PLATFORM
    return kinds


def _sizes(kind: str, source: str, scale: Scale, rng: np.random.Generator) -> tuple[int, int]:
    """(samples, cases) of a cohort of this kind."""
    lo, hi = scale.samples
    if kind == "too_few_samples":
        n = int(rng.integers(max(31, lo), max(32, lo + 20)))
        return n, n - RARE_CLASS
    n = int(np.exp(rng.uniform(np.log(lo), np.log(hi + 1))))
    if kind == "no_trait_variation":
        return n, n
    fraction = 0.8 if source == "TCGA" else rng.uniform(0.35, 0.65)
    return n, int(round(fraction * n))


def plan_corpus(config: CorpusConfig) -> CorpusPlan:
    """The whole corpus plan (no genes yet): deterministic for the config."""
    scale = config.sizes()
    if config.n_questions is not None and config.n_questions < 1:
        raise GenoteamError(f"--questions {config.n_questions}", "ask for at least 1 question")
    rng = np.random.default_rng(np.random.SeedSequence(config.seed))
    plan = CorpusPlan(config, scale)
    accessions = iter(rng.choice(np.arange(20000, 300000), size=N_TRAITS * MAX_COHORTS, replace=False))
    earlier: list[str] = []
    left = config.n_questions
    n_geo = 0
    for index, (name, code) in enumerate(_trait_order(rng)):
        if left is not None and left <= 0:
            break
        conditions = _conditions(index, earlier, rng)
        if left is not None:
            conditions = conditions[: left - 1]
            left -= 1 + len(conditions)
        n = int(rng.choice(np.arange(1, MAX_COHORTS + 1), p=_COHORT_COUNT_P))
        kinds = _cohort_kinds(index, max(n, 3) if index < len(UNUSABLE_KINDS) else n, code is not None, rng)
        cohorts = []
        for j, kind in enumerate(kinds):
            source = "TCGA" if code and j == len(kinds) - 1 else "GEO"
            n_samples, n_cases = _sizes(kind, source, scale, rng)
            if source == "TCGA":
                cohorts.append(CohortSpec(name, "TCGA", "TCGA", kind, n_samples, n_cases))
                continue
            platforms = (
                tuple(g for g, _ in PAIR_PLATFORMS)
                if kind == TWO_PLATFORM
                else (PLATFORMS[int(rng.integers(len(PLATFORMS)))][0],)
            )
            wording = n_geo  # wordings in turn: any dozen series show every one
            n_geo += 1
            gse = f"GSE{int(next(accessions))}"
            cohorts.append(CohortSpec(name, gse, "GEO", kind, n_samples, n_cases, platforms, wording))
        plan.traits.append(TraitSpec(name, code, conditions, tuple(cohorts)))
        earlier.append(name)
    if config.n_questions is not None and plan.n_questions < config.n_questions:
        raise GenoteamError(
            f"--questions {config.n_questions} is more than the corpus holds ({plan.n_questions})",
            f"ask for at most {plan.n_questions} questions",
        )
    return plan


# GenoTEX's cohorts per trait: most traits have a handful, a few a dozen
_COHORT_COUNT_P = np.array([8, 9, 10, 11, 11, 10, 9, 8, 7, 6, 6, 5], dtype=float)
_COHORT_COUNT_P /= _COHORT_COUNT_P.sum()
