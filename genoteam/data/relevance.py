"""Is a candidate cohort worth downloading for a trait? A decision with its reasons, always.

Why rules first: offline (no model configured) a scientist still needs a defensible list, and a
rule's reason can be checked by reading the record it cites. The rules, in order (every one that
fails is listed, so a rejected cohort says everything that is wrong with it):
1. human: the series' samples are Homo sapiens;
2. a GEO series (GSE): a GEO DataSet (GDS) is a curated view of one platform of a series; its
   reference series is the cohort to use;
3. platform usable: expression profiling by array (series-matrix or SOFT value tables);
   sequencing series keep their counts in supplementary files, which genoteam does not read, so
   they are listed and rejected with that reason rather than downloaded and found empty;
4. enough samples and not too many: within the sample bounds (too few cannot answer; the bound
   above keeps downloads in reach);
5. the trait is named: one of the trait's names appears as a phrase in the title or summary
   (or, weaker, all its words do). Whether the sample characteristics carry the trait is only
   known from the samples themselves: the data engineer's trait step decides it after download,
   and a cohort without a trait row is recorded as such.
A `Judge` (for example the PI's model) may replace the rules; its decision is recorded with its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

ARRAY = "expression profiling by array"
SEQUENCING = "expression profiling by high throughput sequencing"
HUMAN = "homo sapiens"


@dataclass(frozen=True)
class Candidate:
    """One cohort a search found, with what its record says (no data downloaded yet)."""

    source: Literal["GEO", "TCGA"]
    cohort: str  # GSE781 or a TCGA code such as CHOL
    title: str
    summary: str = ""
    series_type: str = ""  # GEO's gdstype, e.g. "Expression profiling by array"
    taxon: str = ""
    n_samples: int | None = None
    platforms: tuple[str, ...] = ()
    entry_type: str = "GSE"  # GSE, GDS, or TCGA
    reference_series: str | None = None  # a GDS's series
    folder: str | None = None  # TCGA: the cohort's folder name, e.g. TCGA_Bile_Duct_Cancer_(CHOL)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "cohort": self.cohort,
            "title": self.title,
            "series_type": self.series_type,
            "taxon": self.taxon,
            "n_samples": self.n_samples,
            "platforms": list(self.platforms),
            "entry_type": self.entry_type,
            "reference_series": self.reference_series,
        }


@dataclass(frozen=True)
class Decision:
    include: bool
    reasons: tuple[str, ...]
    judge: str = "rules"


@dataclass(frozen=True)
class SampleBounds:
    minimum: int = 6  # fewer cannot hold two classes that pass GenoTEX's bias rule
    maximum: int = 2000


@dataclass(frozen=True)
class TraitNames:
    """The trait and the other names it goes by (task file synonyms, TCGA project names)."""

    trait: str
    synonyms: tuple[str, ...] = field(default_factory=tuple)

    def phrases(self) -> list[str]:
        seen: list[str] = []
        for name in (self.trait, *self.synonyms):
            phrase = " ".join(words(name))
            if phrase and phrase not in seen:
                seen.append(phrase)
        return seen


class Judge(Protocol):
    """Decides about one candidate: `name` is recorded beside every decision it makes."""

    name: str

    def __call__(self, candidate: Candidate, names: TraitNames, bounds: SampleBounds) -> Decision: ...


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words; 'B-cell' -> ['b', 'cell'], underscores separate words."""
    return re.findall(r"[a-z0-9]+", text.replace("_", " ").lower())


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def trait_mention(names: TraitNames, title: str, summary: str) -> str | None:
    """Why the record names the trait, or None."""
    for where, text in (("title", title), ("summary", summary)):
        padded = f" {' '.join(_stem(w) for w in words(text))} "
        for phrase in names.phrases():
            if f" {' '.join(_stem(w) for w in phrase.split())} " in padded:
                return f"names '{phrase}' in the {where}"
    both = {_stem(w) for w in words(f"{title} {summary}")}
    for phrase in names.phrases():
        if all(_stem(w) in both for w in phrase.split()):
            return f"all the words of '{phrase}' appear in the title and summary"
    return None


@dataclass(frozen=True)
class Assessment:
    """What the rules find: `hard` problems no judge may overrule (not human, not a series, not an
    array profile, sample count out of bounds), `soft` ones a judge may (the trait is not named:
    a model may recognise a synonym), and what is good."""

    hard: tuple[str, ...]
    soft: tuple[str, ...]
    good: tuple[str, ...]


def assess(candidate: Candidate, names: TraitNames, bounds: SampleBounds) -> Assessment:
    hard: list[str] = []
    good: list[str] = []
    if HUMAN not in candidate.taxon.lower():
        hard.append(f"not human (samples: {candidate.taxon or 'organism not given'})")
    if candidate.entry_type != "GSE":
        series = candidate.reference_series
        hard.append(
            f"a GEO DataSet ({candidate.entry_type}), not a series"
            + (f": use its reference series {series}" if series else "")
        )
    kinds = candidate.series_type.lower()
    if ARRAY in kinds:
        good.append("expression profiling by array")
    elif SEQUENCING in kinds:
        hard.append("sequencing series: its counts are in supplementary files, which genoteam does not read")
    else:
        hard.append(f"not an expression profile ({candidate.series_type or 'type not given'})")
    n = candidate.n_samples
    if n is None:
        hard.append("sample count not given")
    elif n < bounds.minimum:
        hard.append(f"{n} samples, fewer than {bounds.minimum}")
    elif n > bounds.maximum:
        hard.append(f"{n} samples, more than the bound of {bounds.maximum}")
    else:
        good.append(f"{n} samples")
    mention = trait_mention(names, candidate.title, candidate.summary)
    soft = (
        [] if mention else [f"the trait ({', '.join(names.phrases())}) is not named in the title or summary"]
    )
    if mention:
        good.append(mention)
    return Assessment(tuple(hard), tuple(soft), tuple(good))


AFTER_DOWNLOAD = "trait in the sample characteristics: checked after download"


class RuleJudge:
    """The offline rules of this module's docstring."""

    name = "rules"

    def __call__(self, candidate: Candidate, names: TraitNames, bounds: SampleBounds) -> Decision:
        if candidate.source == "TCGA":
            return Decision(True, (candidate.summary or "the TCGA cohort matched to the trait",))
        found = assess(candidate, names, bounds)
        if found.hard or found.soft:
            return Decision(False, found.hard + found.soft)
        return Decision(True, (*found.good, AFTER_DOWNLOAD))


def reviewed(
    judge_name: str, include: bool, reason: str, candidate: Candidate, names: TraitNames, bounds: SampleBounds
) -> Decision:
    """A judge's decision after the rules' review: a hard problem overrules an include (said so)."""
    found = assess(candidate, names, bounds)
    if include and found.hard:
        return Decision(False, (reason, "overruled by the rules: " + "; ".join(found.hard)), judge_name)
    if include:
        return Decision(True, (reason, *found.good, AFTER_DOWNLOAD), judge_name)
    return Decision(False, (reason,), judge_name)


def decide_all(
    candidates: Iterable[Candidate], names: TraitNames, bounds: SampleBounds, judge: Judge | None = None
) -> list[tuple[Candidate, Decision]]:
    judge = judge or RuleJudge()
    return [(c, judge(c, names, bounds)) for c in candidates]
