"""Cohorts for any trait a scientist names: search GEO and TCGA, decide, download, lay out.

Why: without a GenoTEX input folder an analysis has no cohort at all. For a trait (and its
synonyms) this module
1. finds candidate GEO series with NCBI E-utilities (esearch + esummary on `gds`: human series,
   expression profiling by array or sequencing; see genoteam.data.eutils for the rate limits),
   and the TCGA cohort of UCSC Xena matched by the same domain rules as local TCGA folders;
2. decides about each candidate with reasons (genoteam.data.relevance; a model judge may replace
   the rules) and keeps at most `max_cohorts` of the accepted GEO series;
3. downloads the accepted cohorts into the content-addressed cache (GEO series matrix + family
   SOFT; Xena HiSeqV2_PANCAN + clinicalMatrix), verified, and places them in
   `<cache>/input/` laid out as a GenoTEX input folder, so every engine reads it unchanged.
The search answer is cached too (`refs/search/`), so the same question works offline afterwards.
Every decision, reason and file checksum goes into a record that the result and the provenance
carry (`Discovery.to_dict`).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from genoteam.data.cache import ContentCache, copy_out
from genoteam.data.eutils import Eutils, EutilsUnavailable
from genoteam.data.geo_download import fetch_geo_series
from genoteam.data.http import DownloadPolicy
from genoteam.data.relevance import Candidate, Decision, Judge, SampleBounds, TraitNames, decide_all
from genoteam.data.xena import fetch_xena_cohort, tcga_match_for
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_json
from genoteam.toolkit.traits import TCGA_SYNONYMS, condition_is_trait

SEARCH_NAMESPACE = "search"
INPUT_DIR = "input"  # <cache>/input/ is the GenoTEX-layout folder of everything downloaded
RECORD_DIR = "discovery"  # <cache>/input/discovery/<Trait>.json: the last decisions per trait
GEO_KINDS = ("matrix", "soft")
Progress = Callable[[str], None]
R = TypeVar("R", bound="BaseModel")


@dataclass
class Choice:
    """One candidate, the decision about it, and (after download) its files or its failure."""

    candidate: Candidate
    decision: Decision
    files: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.candidate.to_dict(),
            "include": self.decision.include,
            "reasons": list(self.decision.reasons),
            "judge": self.decision.judge,
            "files": self.files,
            "error": self.error,
        }


@dataclass
class Discovery:
    trait: str
    query: str
    names: TraitNames
    bounds: SampleBounds
    choices: list[Choice]
    geo_total: int = 0  # how many records the search matched (it returns at most retmax)
    searched_at: str = ""
    search_from_cache: bool = False
    input_dir: Path | None = None
    condition: Discovery | None = None  # a condition that is itself a trait: its own discovery
    condition_error: str | None = None  # ... or why it found nothing to download

    @property
    def accepted(self) -> list[Choice]:
        return [c for c in self.choices if c.decision.include]

    @property
    def cohort_ids(self) -> list[str]:
        """The ids to analyse: accepted cohorts whose download worked (or not yet attempted)."""
        return [c.candidate.cohort for c in self.accepted if c.error is None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "trait": self.trait,
            "query": self.query,
            "names": self.names.phrases(),
            "sample_bounds": [self.bounds.minimum, self.bounds.maximum],
            "geo_records_matched": self.geo_total,
            "searched_at": self.searched_at,
            "search_from_cache": self.search_from_cache,
            "cohorts": [c.to_dict() for c in self.choices],
            **({"condition": self.condition.to_dict()} if self.condition else {}),
            **({"condition_error": self.condition_error} if self.condition_error else {}),
        }


def trait_names(trait: str, synonyms: Iterable[str] = ()) -> TraitNames:
    """The trait, the synonyms given (e.g. from the task file) and, for a trait with a TCGA
    cohort, that cohort's recognised disease names (so 'Kidney_Clear_Cell_Carcinoma' also
    searches 'renal clear cell carcinoma')."""
    extra = list(synonyms)
    match = tcga_match_for(trait)
    if match:
        extra += TCGA_SYNONYMS.get(match.code, ())
    return TraitNames(trait, tuple(extra))


def task_synonyms(task_info: str | os.PathLike[str] | None, trait: str) -> list[str]:
    """The trait's other names from a task file (`{"<Trait>": {"synonyms": [...]}}`), when it has any."""
    if not task_info:
        return []
    import json

    try:
        entry = json.loads(Path(task_info).read_text()).get(trait, {})
    except (OSError, json.JSONDecodeError, AttributeError) as error:
        raise GenoteamError(
            f"task file {task_info} is unreadable ({error})", "pass a GenoTEX task_info.json"
        ) from error
    synonyms = entry.get("synonyms", []) if isinstance(entry, dict) else []
    return [str(s) for s in synonyms] if isinstance(synonyms, list) else []


def search_term(names: TraitNames) -> str:
    """The gds query: any of the names, human series of expression profiles."""
    either = " OR ".join(f"({' AND '.join(p.split())})" for p in names.phrases())
    return (
        f'({either}) AND gse[ETYP] AND "Homo sapiens"[Organism] AND '
        '("expression profiling by array"[DataSet Type] OR '
        '"expression profiling by high throughput sequencing"[DataSet Type])'
    )


def candidate_from_summary(record: Mapping[str, Any]) -> Candidate:
    """A GEO candidate from one esummary record of gds."""
    entry = str(record.get("entrytype", "")).upper()
    accession = str(record.get("accession", ""))
    gse = str(record.get("gse", "")).split(";")[0].strip()
    platforms = tuple(f"GPL{p.strip()}" for p in str(record.get("gpl", "")).split(";") if p.strip())
    try:
        n = int(record.get("n_samples"))
    except (TypeError, ValueError):
        n = None
    return Candidate(
        source="GEO",
        cohort=accession,
        title=str(record.get("title", "")),
        summary=str(record.get("summary", "")),
        series_type=str(record.get("gdstype", "")),
        taxon=str(record.get("taxon", "")),
        n_samples=n,
        platforms=platforms,
        entry_type=entry or ("GSE" if accession.startswith("GSE") else accession[:3]),
        reference_series=f"GSE{gse}" if entry == "GDS" and gse else None,
    )


def _search_key(term: str, retmax: int) -> str:
    return hashlib.sha256(f"{term}\n{retmax}".encode()).hexdigest()[:40]


def search_geo(
    names: TraitNames, eutils: Eutils, cache: ContentCache, offline: bool, retmax: int
) -> tuple[str, int, list[dict[str, Any]], bool, str]:
    """(query, total matched, esummary records, from cache?, when) for the trait's names."""
    term = search_term(names)
    key = _search_key(term, retmax)
    cached = cache.read_ref(SEARCH_NAMESPACE, key)
    if offline:
        if cached is None:
            raise GenoteamError(
                f"offline, and the GEO search {term!r} has no cached answer in the cache folder {cache.root}",
                "run the same search once with network access (genoteam find-cohorts --trait T), "
                "or give a GenoTEX-layout folder with --input",
            )
        return term, cached["total"], cached["records"], True, cached["searched_at"]
    try:
        total, ids = eutils.esearch("gds", term, retmax)
        records = eutils.esummary("gds", ids) if ids else []
    except EutilsUnavailable as error:
        hint = (
            "check the network or $GENOTEAM_EUTILS_BASE_URL; "
            + ("an earlier answer is cached: set GENOTEAM_OFFLINE=1 to use it; " if cached else "")
            + "or give a GenoTEX-layout folder with --input"
        )
        raise GenoteamError(
            f"cannot search GEO for {term!r}: {error.problem}; cache folder {cache.root}", hint
        ) from error
    when = datetime.now(UTC).isoformat(timespec="seconds")
    cache.write_ref(
        SEARCH_NAMESPACE, key, {"term": term, "total": total, "records": records, "searched_at": when}
    )
    return term, total, records, False, when


def find_cohorts(
    trait: str,
    *,
    synonyms: Iterable[str] = (),
    max_cohorts: int = 5,
    bounds: SampleBounds | None = None,
    eutils: Eutils | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool = False,
    judge: Judge | None = None,
    retmax: int = 50,
) -> Discovery:
    """Candidates for `trait` from GEO and TCGA, each with a decision and its reasons."""
    names = trait_names(trait, synonyms)
    bounds = bounds or SampleBounds()
    cache = ContentCache(cache_dir)
    eutils = eutils or Eutils(
        shared_dir=cache.root / "locks"
    )  # one rate limit for every process of this cache
    term, total, records, from_cache, when = search_geo(names, eutils, cache, offline, retmax)
    candidates = [candidate_from_summary(r) for r in records]
    match = tcga_match_for(trait)
    if match:
        candidates.append(
            Candidate(
                "TCGA",
                match.code,
                match.folder,
                f"UCSC Xena TCGA cohort: {match.explanation()}",
                taxon="Homo sapiens",
                entry_type="TCGA",
                folder=match.folder,
            )
        )
    choices = [Choice(c, d) for c, d in decide_all(candidates, names, bounds, judge)]
    taken = 0
    for choice in choices:  # keep the search's order (NCBI's relevance ranking), up to max_cohorts
        if choice.candidate.source == "GEO" and choice.decision.include:
            taken += 1
            if taken > max_cohorts:
                choice.decision = replace(
                    choice.decision,
                    include=False,
                    reasons=(*choice.decision.reasons, f"over the limit of {max_cohorts} GEO series"),
                )
    return Discovery(trait, term, names, bounds, choices, total, when, from_cache)


def download_cohorts(
    discovery: Discovery,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    geo_base_url: str | None = None,
    xena_base_url: str | None = None,
    tcga_manifest: Mapping[str, str] | None = None,
    policy: DownloadPolicy | None = None,
    offline: bool = False,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download every accepted cohort into the cache and place it in `<cache>/input/` (GenoTEX
    layout); returns that folder. A cohort that fails is recorded (`Choice.error`) and the
    others go on; the decisions are written to `<cache>/input/discovery/<Trait>.json`."""
    cache = ContentCache(cache_dir)
    root = cache.root / INPUT_DIR
    accepted = discovery.accepted
    for index, choice in enumerate(accepted, 1):
        cohort = choice.candidate
        if progress:
            progress(f"downloading {cohort.source} {cohort.cohort} ({index} of {len(accepted)})")
        try:
            if cohort.source == "GEO":
                fetched = fetch_geo_series(
                    cohort.cohort,
                    GEO_KINDS,
                    base_url=geo_base_url,
                    cache_dir=cache.root,
                    policy=policy,
                    offline=offline,
                    sleep=sleep,
                )
                folder = root / "GEO" / discovery.trait / cohort.cohort
                for f in fetched.files:
                    copy_out(f.path, folder / f.name)
                choice.files = [
                    {"name": f.name, "url": f.url, "sha256": f.sha256, "bytes": f.size} for f in fetched.files
                ]
            else:
                folder_name = cohort.folder or cohort.title
                files = fetch_xena_cohort(
                    folder_name,
                    base_url=xena_base_url,
                    cache_dir=cache.root,
                    manifest=tcga_manifest,
                    policy=policy,
                    offline=offline,
                    sleep=sleep,
                )
                for f in files:
                    copy_out(f.path, root / "TCGA" / folder_name / f.name)
                choice.files = [
                    {
                        "name": f.name,
                        "url": f.url,
                        "sha256": f.sha256,
                        "bytes": f.size,
                        "checksum": f.checksum_source,
                    }
                    for f in files
                ]
            choice.error = None
        except GenoteamError as error:
            choice.error = error.problem + (f" ({error.hint})" if error.hint else "")
    discovery.input_dir = root
    (root / "GEO").mkdir(parents=True, exist_ok=True)
    atomic_write_json(root / RECORD_DIR / f"{_safe(discovery.trait)}.json", discovery.to_dict())
    return root


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def describe(discovery: Discovery) -> list[str]:
    """One line per candidate: what it is, the decision and why (for the command line)."""
    lines = []
    for c in discovery.choices:
        cand = c.candidate
        n = "?" if cand.n_samples is None else str(cand.n_samples)
        verdict = "USE " if c.decision.include else "skip"
        if c.error:
            verdict = "FAIL"
        why = "; ".join(c.decision.reasons) + (f"; download failed: {c.error}" if c.error else "")
        lines.append(f"{verdict} {cand.source:4} {cand.cohort:10} n={n:>5}  {cand.title[:60]}  -- {why}")
    return lines


def discover_and_download(
    trait: str,
    *,
    synonyms: Iterable[str] = (),
    max_cohorts: int = 5,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool = False,
    progress: Progress | None = None,
    judge: Judge | None = None,
) -> Discovery:
    """find_cohorts then download_cohorts with the configured base URLs and TCGA manifest
    (environment), as `--discover` and the server use it. No accepted cohort is an error that
    lists the decisions."""
    from genoteam.data.xena import load_manifest

    if progress:
        progress(f"searching GEO and TCGA for {trait}")
    found = find_cohorts(
        trait, synonyms=synonyms, max_cohorts=max_cohorts, cache_dir=cache_dir, offline=offline, judge=judge
    )
    if not found.accepted:
        raise GenoteamError(
            f"no usable cohort found for {trait!r} (query {found.query!r}): "
            + "; ".join(f"{c.candidate.cohort}: {', '.join(c.decision.reasons)}" for c in found.choices[:8]),
            "try another name or a synonym for the trait, or give a GenoTEX-layout folder with --input",
        )
    download_cohorts(
        found, cache_dir=cache_dir, tcga_manifest=load_manifest(), offline=offline, progress=progress
    )
    if not found.cohort_ids:
        raise GenoteamError(
            f"every accepted cohort for {trait!r} failed to download: "
            + "; ".join(f"{c.candidate.cohort}: {c.error}" for c in found.accepted),
            "check the network and the base URLs, or work offline from the cache (GENOTEAM_OFFLINE=1)",
        )
    return found


def discover_for_question(trait: str, condition: str | None, **options: Any) -> Discovery:
    """discover_and_download(trait, **options) and, when the condition is itself a trait
    (two-step questions), the condition's too (without the trait's synonyms), so both sets of
    cohorts are in `<cache>/input/`. A condition that finds nothing is recorded
    (`condition_error`), not fatal: the engines then report the question as lacking condition
    cohorts."""
    found = discover_and_download(trait, **options)
    if condition_is_trait(condition):
        try:
            found.condition = discover_and_download(condition, **{**options, "synonyms": ()})
        except GenoteamError as error:
            found.condition_error = error.problem
    return found


def attach_record(output_dir: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Write the discovery record beside an analysis' outputs (discovery.json) and into its
    provenance.json when the engine wrote one, so the decisions travel with the results."""
    output = Path(output_dir)
    atomic_write_json(output / "discovery.json", record)
    provenance = output / "provenance.json"
    if provenance.is_file():
        import json

        data = json.loads(provenance.read_text())
        atomic_write_json(provenance, {**data, "discovery": record})


def restrict_to_discovered(requested: list[str] | None, found: Discovery) -> list[str]:
    """The cohorts an analysis of `found` runs on: the discovered ones (that downloaded), or
    those of `requested` among them."""
    return found.cohort_ids if not requested else [c for c in requested if c in found.cohort_ids]


def with_discovery(result: R, output_dir: str | os.PathLike[str], found: Discovery | None) -> R:
    """`result` (an AnalysisResult) carrying the discovery decisions, also written beside the
    outputs (attach_record); unchanged when nothing was discovered."""
    if found is None:
        return result
    record = found.to_dict()
    attach_record(output_dir, record)
    return result.model_copy(update={"discovery": record})
