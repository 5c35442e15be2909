"""What a finished job means, in facts a scientist (and a model) can act on.

Why a module of its own: the result text must say what was actually done (which covariates the
model had, tumour vs normal with counts, the method's unit and threshold, why a cohort was not
used), and those facts must come from what the engine recorded (the significant-genes JSON of
GenoTEX's layout, with our `details`; the result's cohort outcomes), never be guessed here. So
this module only reads records and puts them into words; when a record lacks a fact, the fact is
left out or said to be unknown, not invented.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import Field

from genoteam.pipeline.api import AnalysisResult, GeneHit
from genoteam.server.catalog import CohortInfo
from genoteam.server.schema import Compact
from genoteam.toolkit.layout import OutputLayout
from genoteam.toolkit.stats.result import effect_meaning

CLINICAL = ("Age", "Gender")
METHOD_WORDS = {
    "moderated-t": "per-gene linear model with a limma-style moderated t test, Benjamini-Hochberg FDR",
    "logistic": "per-gene logistic regression of the trait, likelihood-ratio test, Benjamini-Hochberg FDR",
    "genotex": "GenoTEX's penalised (Lasso) regression: genes with a non-zero weight (no p- or q-values)",
}
SMALL_N = 30
SMALL_GROUP = 10


class Gene(Compact):
    gene: str
    effect: float
    q_value: float | None
    direction: str = Field(description="The effect in plain words")


class CohortUse(Compact):
    cohort: str
    trait: str
    samples: int | None
    used: bool
    why: str


class Source(Compact):
    id: str
    url: str


class Explanation(Compact):
    """The facts of a finished analysis, each read from the engine's records."""

    question: str
    condition_use: str | None = None
    covariates: list[str] = Field(default_factory=list, description="Covariates in the model")
    design: str | None = None
    method: str
    threshold: str | None = None
    effect_unit: str | None = None
    positive_effect: str | None = None
    top_genes: list[Gene] = Field(default_factory=list)
    cohorts: list[CohortUse] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    next_calls: list[str] = Field(default_factory=list)


def read_record(output_dir: Path, result: AnalysisResult) -> dict[str, Any]:
    """The engine's significant-genes JSON for the question, or {} when it wrote none."""
    path = OutputLayout(output_dir).significant_genes_path(result.trait, result.condition)
    try:
        return json.loads(path.read_text()) if path.is_file() and path.stat().st_size < 64 << 20 else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _source_of(trait: str, cohort: str, known: list[CohortInfo]) -> CohortInfo | None:
    """The listed cohort (of `trait`) a result's cohort id comes from: a GEO series or TCGA."""
    for info in known:
        if info.trait != trait:
            continue
        if info.source == "GEO" and cohort.split("_")[0] == info.cohort:
            return info
        if info.source == "TCGA" and (cohort == info.cohort or not cohort.startswith("GSE")):
            return info
    return None


def source_link(info: CohortInfo) -> Source:
    if info.source == "GEO":
        return Source(id=info.cohort, url=f"https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc={info.cohort}")
    code = info.tcga_code or info.cohort
    return Source(id=f"TCGA-{code}", url=f"https://portal.gdc.cancer.gov/projects/TCGA-{code}")


def _classes(is_tcga: bool) -> tuple[str, str]:
    return ("tumour", "normal") if is_tcga else ("case", "control")


def _direction(hit: GeneHit, meaning: dict[str, str], words: tuple[str, str], trait: str) -> str:
    if hit.coefficient == 0 or math.isnan(hit.coefficient):
        return "no direction"
    text = meaning["positive"] if hit.coefficient > 0 else meaning["negative"]
    return text.replace(f"{trait}=1 samples", f"{words[0]} than {words[1]} samples")


def chosen_cohorts(result: AnalysisResult, record: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(trait, cohort) -> role ("trait" or "condition") of the cohorts the statistics used."""
    roles = record.get("cohorts") or {}
    if roles:
        owner = {"trait": result.trait, "condition": result.condition}
        return {(owner[role], cohort): role for role, cohort in roles.items() if owner.get(role)}
    return {(result.trait, cohort): "trait" for cohort in result.selected_cohorts}


def _cohort_uses(result: AnalysisResult, record: dict[str, Any], two_step: bool) -> list[CohortUse]:
    chosen = chosen_cohorts(result, record)
    rule = (
        "the usable pair (trait cohort, condition cohort) with the largest product of sample sizes "
        "that shares genes known for the condition"
        if two_step
        else "GenoTEX's one-step rule answers from one cohort, the usable one with the most samples"
    )
    sizes = {key: c.sample_size for c in result.cohorts if (key := (c.trait, c.cohort)) in chosen}
    uses = []
    for outcome in result.cohorts:
        role = chosen.get((outcome.trait, outcome.cohort))
        if role is not None:
            why = f"used as the {role} cohort: {rule}" if two_step else f"used: {rule}"
        elif outcome.error:
            why = f"not used: preprocessing failed ({outcome.error[:300]})"
        elif not outcome.usable:
            why = f"not used: {outcome.note.split(';')[0] or 'not usable'}"
        elif outcome.trait not in (result.trait, result.condition):
            why = "not used: a cohort of another trait"
        else:
            taken = [(c, n) for (t, c), n in sizes.items() if t == outcome.trait]
            named = ", ".join(f"{c} (n={n if n is not None else 'unknown'})" for c, n in taken)
            tie = any(n == outcome.sample_size for _, n in taken)
            why = f"usable but not chosen: {rule}; {named or 'another cohort'} was taken" + (
                " (equal size: the selection's tie rule decided)" if tie else ""
            )
        uses.append(
            CohortUse(
                cohort=outcome.cohort,
                trait=outcome.trait,
                samples=outcome.sample_size,
                used=role is not None,
                why=why,
            )
        )
    return uses


def _condition_use(result: AnalysisResult, details: dict[str, Any], covariates: list[str]) -> str | None:
    condition = result.condition
    if condition is None:
        return None
    if condition in CLINICAL:
        if condition in covariates:
            return (
                f"{condition} is a covariate of the model, read from each sample's record; Age and Gender "
                "are covariates of every one-step analysis whose cohort records them, so asking for "
                f"{condition} changes only which cohorts qualify (they must record it)"
            )
        return f"{condition} was asked for but is not in the model (see caveats: the cohort lacks it)"
    genes = details.get("condition_genes") or []
    shown = ", ".join(genes[:8]) + (", ..." if len(genes) > 8 else "")
    return (
        f"two-step: {condition} was predicted for each sample of the trait cohort from "
        f"{len(genes)} genes known for {condition} ({shown}), by a model fitted on the condition "
        f"cohort; the prediction is a covariate, so trait genes are adjusted for {condition}"
    )


def explain(
    job_id: str,
    result: AnalysisResult,
    record: dict[str, Any],
    known: list[CohortInfo],
    top: list[GeneHit],
) -> Explanation:
    """The facts of one finished job; `top` is the page of genes to describe."""
    details: dict[str, Any] = record.get("details") or {}
    method = record.get("method") or result.method
    two_step = result.condition is not None and result.condition not in CLINICAL
    trait_cohort = (record.get("cohorts") or {}).get("trait") or next(iter(result.selected_cohorts), None)
    info = _source_of(result.trait, trait_cohort, known) if trait_cohort else None
    is_tcga = info is not None and info.source == "TCGA"
    words = _classes(is_tcga)
    covariates = [c for c in details.get("covariates") or []]
    meaning = details.get("effect") or effect_meaning(method, result.trait, details.get("trait_is_binary"))
    given = f" given {result.condition}" if result.condition else ""
    explanation = Explanation(
        question=f"Which genes are associated with {result.trait}{given}?",
        condition_use=_condition_use(result, details, covariates) if result.selected_cohorts else None,
        covariates=covariates,
        method=f"{method}: {METHOD_WORDS.get(method, 'as recorded by the engine')}",
        cohorts=_cohort_uses(result, record, two_step),
    )
    if result.status in {"preprocessed", "insufficient_data", "failed"} or not record:
        explanation.caveats = _status_caveats(result)
        explanation.next_calls = _next_calls(job_id, result, top_total=0)
        explanation.sources = _sources(result, record, known)
        return explanation
    counts = details.get("trait_counts")
    n = details.get("n_samples")
    named = source_link(info).id if is_tcga and info is not None else trait_cohort
    if counts:
        tcga_rule = (
            " (TCGA sample barcode: 01-09 tumour, 10-19 normal)"
            if is_tcga
            else f" (cases: {result.trait}=1, controls: {result.trait}=0, as preprocessing coded the samples)"
        )
        explanation.design = (
            f"{counts.get('1')} {words[0]} vs {counts.get('0')} {words[1]} samples of {named}{tcga_rule}"
        )
    elif n:
        explanation.design = f"{n} samples of {named}, {result.trait} as a continuous value"
    fdr = details.get("fdr")
    explanation.threshold = f"Benjamini-Hochberg q < {fdr:g}" if fdr is not None else None
    if method == "genotex":
        penalty = record.get("penalty") or {}
        explanation.threshold = (
            f"non-zero Lasso weight at penalty {penalty.get('name', '')}={penalty.get('value')}"
        )
    explanation.effect_unit = record.get("coefficient_unit") or details.get("coefficient_unit") or None
    explanation.positive_effect = meaning.get("positive", "").replace(
        f"{result.trait}=1 samples", f"{words[0]} than {words[1]} samples"
    )
    explanation.top_genes = [
        Gene(
            gene=h.gene,
            effect=h.coefficient,
            q_value=h.q_value,
            direction=_direction(h, meaning, words, result.trait),
        )
        for h in top
    ]
    explanation.caveats = _caveats(result, record, details, counts, n, is_tcga, words)
    explanation.sources = _sources(result, record, known)
    explanation.next_calls = _next_calls(job_id, result, top_total=len(result.significant_genes))
    return explanation


def _sources(result: AnalysisResult, record: dict[str, Any], known: list[CohortInfo]) -> list[Source]:
    """Links of the cohorts used (of every cohort considered when none was used)."""
    used = list(chosen_cohorts(result, record)) or [(c.trait, c.cohort) for c in result.cohorts]
    found: dict[str, Source] = {}
    for trait, cohort in used:
        info = _source_of(trait, cohort, known)
        if info is not None:
            link = source_link(info)
            found[link.id] = link
    return list(found.values())


def _status_caveats(result: AnalysisResult) -> list[str]:
    if result.status == "preprocessed":
        return ["preprocessing only: no statistics were run, so no gene is reported"]
    if result.status == "insufficient_data":
        return ["no gene is reported: no usable cohort answered the question (see cohorts)"]
    if result.status == "failed":
        return ["the analysis failed: no gene is reported"]
    return ["the engine wrote no significant-genes record: the facts of the model are unknown"]


def _caveats(
    result: AnalysisResult,
    record: dict[str, Any],
    details: dict[str, Any],
    counts: dict[str, int] | None,
    n: int | None,
    is_tcga: bool,
    words: tuple[str, str],
) -> list[str]:
    caveats = []
    if result.status == "partial":
        caveats.append(f"partial: {result.message or 'some cohorts failed'}")
    if n is not None and n < SMALL_N:
        caveats.append(f"small cohort: {n} samples")
    if counts:
        smaller = min(counts.values())
        if smaller < SMALL_GROUP:
            label = words[1] if counts.get("0") == smaller else words[0]
            caveats.append(f"only {smaller} {label} samples: effects of the smaller group are imprecise")
    trait_cohorts = [c for c in result.selected_cohorts if c == (record.get("cohorts") or {}).get("trait")]
    if len(trait_cohorts or result.selected_cohorts[:1]) == 1:
        caveats.append("one cohort on one platform answers the question: not replicated in another cohort")
    if not any("batch" in c.lower() for c in details.get("covariates") or []):
        caveats.append("no batch variable is in the model")
    if is_tcga:
        caveats.append(
            "tumour vs normal: the groups also differ in tissue composition, so a gene may mark cell type "
            "rather than disease"
        )
    caveats += [str(note) for note in record.get("notes") or [] if "predicted from" not in str(note)]
    return caveats


def _next_calls(job_id: str, result: AnalysisResult, top_total: int) -> list[str]:
    base = f"genoteam://jobs/{job_id}"
    calls = []
    if top_total:
        calls += [
            f"get_result(job_id='{job_id}', offset=...) for more genes",
            f"read {base}/genes.csv?top=50 (also ?max_q=0.01, ?min_abs_effect=1, ?offset=) for the table",
            f"read {base}/volcano.png for the volcano plot",
        ]
    calls.append(f"read {base}/provenance/summary for how the answer was made")
    if result.status == "insufficient_data":
        calls.append(f"list_cohorts(trait='{result.trait}') to see the cohorts there are")
    return calls
