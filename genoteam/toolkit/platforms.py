"""Which platforms of a GEO series form one cohort, and combining them.

Why: a series such as GSE781 hybridised the same 17 specimens to HG-U133A (GPL96) and HG-U133B
(GPL97). An analyst treats U133A+B as one experiment: one cohort with the union of the genes.
Platforms whose samples are different specimens stay separate cohorts, and each is answered.

The matching rule (docs/geo.md, "Several platforms"): two samples on different platforms are
the same specimen ("twins") when
1. one names the other in its GEO relation field (`!Sample_relation`, any GSM it cites), or
2. their titles, with the platform's own words removed, and their source names are equal
   (case-insensitive). A platform's own words are the title tokens that every sample of that
   platform has and no sample of the other platform has ("U133A" / "U133B" in GSE781).
Two platforms are combined when every sample of each has exactly one twin on the other (at
least 2 specimens), their annotation tables have the same columns and their values are on the
same scale (GEO2R's rule, per platform). Otherwise they stay separate cohorts; twins that were
found still lend each other missing metadata.

Cohort ids: the accession alone when the series makes one cohort (one platform, or all of them
combined); `<GSE>_<GPL>` for each of several separate cohorts (`<GSE>_<GPL>_<GPL>` when some,
not all, platforms combine). The combined cohort's samples are named by the first platform's
GSM; the twin GSMs are kept in the samples' `twin_gsm` column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from genoteam.toolkit.geo import GeoPlatformData, GeoSeries

_TOKEN_SPLIT = re.compile(r"[\s_,;:()\[\]/]+")
_GSM = re.compile(r"GSM\d+")
_FIELD_SPLIT = re.compile(r"[;\n]")
MIN_SPECIMENS = 2


@dataclass(frozen=True)
class PlatformMatch:
    """How the samples of two platforms pair up."""

    first: str
    second: str
    twins: dict[str, str]  # GSM on `first` -> GSM on `second`
    complete: bool  # every sample of both platforms has exactly one twin
    rule: str  # how the twins were found, for the record


@dataclass
class CohortGroups:
    """The cohorts of one series: platform ids per cohort id, and what was decided why."""

    cohorts: dict[str, tuple[str, ...]]
    matches: list[PlatformMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cohort_name(accession: str, platform_ids: tuple[str, ...], n_platforms: int) -> str:
    """The accession alone when the cohort holds every platform of the series, else
    `<accession>_<GPL>[_<GPL>...]`."""
    if len(platform_ids) == n_platforms:
        return accession
    return "_".join([accession, *platform_ids])


def _tokens(title: object) -> list[str]:
    return [t for t in _TOKEN_SPLIT.split(str(title or "").lower()) if t]


def _platform_words(titles: pd.Series, other: pd.Series, platform_id: str) -> set[str]:
    """Tokens in every title of this platform and in no title of the other one."""
    token_sets = [set(_tokens(t)) for t in titles]
    common = set.intersection(*token_sets) if token_sets else set()
    others = set().union(*(set(_tokens(t)) for t in other))
    return (common - others) | {platform_id.lower()}


def _specimen_keys(samples: pd.DataFrame, words: set[str]) -> dict[str, tuple[str, str]]:
    keys = {}
    for gsm, row in samples.iterrows():
        title = " ".join(t for t in _tokens(row.get("title")) if t not in words)
        source = " ".join(_tokens(row.get("source_name_ch1")))
        if title:
            keys[str(gsm)] = (title, source)
    return keys


def _relation_twins(first: pd.DataFrame, second: pd.DataFrame) -> dict[str, str]:
    """Pairs where a sample's relation field cites a GSM of the other platform."""
    twins: dict[str, str] = {}
    for this, other, flip in ((first, second, False), (second, first, True)):
        if "relation" not in this.columns:
            continue
        for gsm, text in this["relation"].items():
            for cited in _GSM.findall(str(text or "")):
                if cited in other.index:
                    pair = (cited, str(gsm)) if flip else (str(gsm), cited)
                    twins.setdefault(pair[0], pair[1])
    return twins


def match_platforms(
    first_id: str, first: pd.DataFrame, second_id: str, second: pd.DataFrame
) -> PlatformMatch:
    """Twins between two platforms' sample tables (index GSM), by the module's rule."""
    twins = _relation_twins(first, second)
    rule = "GEO relation fields"
    if not twins and "title" in first.columns and "title" in second.columns:
        words_a = _platform_words(first["title"], second["title"], first_id)
        words_b = _platform_words(second["title"], first["title"], second_id)
        keys_a, keys_b = _specimen_keys(first, words_a), _specimen_keys(second, words_b)
        unique_a = {k for k in keys_a.values() if list(keys_a.values()).count(k) == 1}
        by_key_b = {k: g for g, k in keys_b.items() if list(keys_b.values()).count(k) == 1}
        twins = {g: by_key_b[k] for g, k in keys_a.items() if k in unique_a and k in by_key_b}
        shown = ", ".join(sorted(words_a - {first_id.lower()}) + sorted(words_b - {second_id.lower()}))
        rule = f"title and source name, platform words removed ({shown or 'none'})"
    complete = (
        len(twins) >= MIN_SPECIMENS
        and len(twins) == len(first) == len(second)
        and len(set(twins.values())) == len(twins)
    )
    return PlatformMatch(first_id, second_id, twins, complete, rule)


class ValuesNeeded(Exception):
    """The grouping rule reached the scale test on platforms read without their values."""


def _same_scale(platforms: list[GeoPlatformData]) -> bool:
    from genoteam.toolkit.stats.scale import needs_log2  # numpy only; kept local to the check

    if not all(p.values_read for p in platforms):
        raise ValuesNeeded

    decisions = {needs_log2(p.expression.to_numpy(dtype=float)).transformed for p in platforms}
    return len(decisions) == 1


def _combinable(match: PlatformMatch, a: GeoPlatformData, b: GeoPlatformData) -> str:
    """'' when the two platforms make one cohort, else why not."""
    if not match.complete:
        return f"only {len(match.twins)} of {len(a.samples)}/{len(b.samples)} samples are twins"
    if list(a.annotation.columns) != list(b.annotation.columns):
        return "their annotation tables have different columns"
    if not _same_scale([a, b]):
        return "their values are on different scales (one log, one linear)"
    return ""


def group_platforms(series: GeoSeries) -> CohortGroups:
    """Which platforms of the series make one cohort (see the module docstring for the rule).
    Each platform joins the first earlier cohort whose first platform it fully matches."""
    ids = list(series.platforms)
    if len(ids) == 1:
        return CohortGroups({series.accession: (ids[0],)})
    groups = CohortGroups({})
    matches = {}
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            match = match_platforms(a, series.platforms[a].samples, b, series.platforms[b].samples)
            if match.twins:
                matches[(a, b)] = match
                groups.matches.append(match)
            else:
                groups.notes.append(f"{a} and {b} share no specimen: separate cohorts")
    members: dict[str, list[str]] = {}
    for b in ids:
        for root in members:
            match = matches.get((root, b))
            if match is None:
                continue
            why = _combinable(match, series.platforms[root], series.platforms[b])
            if why:
                groups.notes.append(f"{root} and {b}: {why} (by {match.rule}): separate cohorts")
                continue
            groups.notes.append(
                f"{root} and {b}: the same {len(match.twins)} specimens (by {match.rule}): one cohort"
            )
            members[root].append(b)
            break
        else:
            members[b] = [b]
    for platform_ids in members.values():
        groups.cohorts[cohort_name(series.accession, tuple(platform_ids), len(ids))] = tuple(platform_ids)
    return groups


def _missing(value: object) -> bool:
    if isinstance(value, list):
        return not value
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == ""


def _line_key(line: object) -> str:
    return str(line or "").partition(":")[0].strip().lower()


def _field_key(part: str) -> str:
    """The key of a `key = value` / `key: value` part of a free-text description ('' if none)."""
    match = re.match(r"\s*([^=:]{1,60}?)\s*[=:]", part)
    return match.group(1).lower() if match else ""


def fill_from_twin(own: pd.Series, twin: pd.Series) -> tuple[pd.Series, list[str]]:
    """A sample's metadata with what it lacks taken from its twin (same specimen, other platform):
    empty fields, characteristics lines whose key it lacks, and the `key = value` parts of the
    twin's description whose key its own description lacks (appended after its own)."""
    merged = own.copy()
    filled = []
    for name, value in twin.items():
        if name in {"geo_accession", "platform_id", "twin_gsm"} or _missing(value):
            continue
        mine = merged.get(name)
        if name.startswith("characteristics_"):
            mine = mine if isinstance(mine, list) else []
            keys = {_line_key(line) for line in mine}
            extra = [line for line in value if line and _line_key(line) not in keys]
            if extra:
                merged[name] = mine + extra
                filled.append(name)
        elif _missing(mine):
            merged[name] = value
            filled.append(name)
        elif name == "description":
            keys = {_field_key(part) for part in _FIELD_SPLIT.split(str(mine))}
            extra = [p.strip() for p in _FIELD_SPLIT.split(str(value)) if _field_key(p) not in keys | {""}]
            if extra:
                merged[name] = f"{mine}\n" + "; ".join(extra)
                filled.append(name)
    return merged, filled


def _lend_metadata(
    samples: pd.DataFrame, twins: dict[str, str], lender: pd.DataFrame
) -> tuple[pd.DataFrame, int]:
    rows, completed = {}, 0
    for gsm, row in samples.iterrows():
        twin = twins.get(str(gsm))
        if twin is None:
            rows[gsm] = row
            continue
        rows[gsm], filled = fill_from_twin(row, lender.loc[twin])
        completed += bool(filled)
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = samples.index.name
    return frame, completed


def _combine(
    series: GeoSeries, platform_ids: tuple[str, ...], twins: dict[tuple[str, str], dict[str, str]]
) -> GeoPlatformData:
    """One platform-like block: probes of every platform on the first platform's GSM columns."""
    first_id = platform_ids[0]
    first = series.platforms[first_id]
    samples = first.samples.copy()
    samples["twin_gsm"] = ""
    expressions, annotations = [first.expression], [first.annotation]
    seen = set(first.expression.index)
    notes = [*first.notes]
    for pid in platform_ids[1:]:
        data = series.platforms[pid]
        pairs = twins[(first_id, pid)]  # first GSM -> this platform's GSM
        back = {v: k for k, v in pairs.items()}
        clash = seen & set(data.expression.index)
        rename = {probe: f"{pid}:{probe}" for probe in clash}
        expression = data.expression.rename(index=rename, columns=back)[list(first.expression.columns)]
        expressions.append(expression)
        annotations.append(data.annotation.rename(index=rename))
        seen |= set(expression.index)
        samples, completed = _lend_metadata(samples, pairs, data.samples)
        samples["twin_gsm"] = [
            ";".join(x for x in (samples.at[g, "twin_gsm"], f"{pid}:{pairs[g]}") if x) for g in samples.index
        ]
        notes += [f"{pid}: {len(data.expression)} probes added on the {first_id} sample ids"]
        if rename:
            notes.append(
                f"{pid}: {len(rename)} probe ids also on {first_id} renamed '{pid}:<id>' (e.g. {sorted(rename)[0]})"
            )
        if completed:
            notes.append(f"metadata of {completed} specimens completed from their {pid} twins")
        notes += [f"{pid}: {n}" for n in data.notes]
    expression = pd.concat(expressions, axis=0)
    expression.index.name = first.expression.index.name
    annotation = pd.concat(annotations, axis=0) if all(not a.empty for a in annotations) else pd.DataFrame()
    return GeoPlatformData("+".join(platform_ids), expression, annotation, samples, notes)


def series_cohorts(series: GeoSeries) -> dict[str, GeoSeries]:
    """The series as cohorts, keyed by cohort id: platforms on the same specimens combined, the
    others one cohort each, with missing metadata taken from twins. Each value has one platform
    block (`only_platform()`); its notes say what was matched, combined or lent."""
    groups = group_platforms(series)
    twins = {(m.first, m.second): m.twins for m in groups.matches}
    out = {}
    for cohort, platform_ids in groups.cohorts.items():
        if len(platform_ids) == 1:
            data = series.platforms[platform_ids[0]]
            samples, completed = data.samples, 0
            for m in groups.matches:  # separate platforms still lend each other metadata
                if data.platform_id in (m.first, m.second):
                    pairs = m.twins if m.first == data.platform_id else {v: k for k, v in m.twins.items()}
                    other = m.second if m.first == data.platform_id else m.first
                    samples, n = _lend_metadata(samples, pairs, series.platforms[other].samples)
                    completed += n
            notes = [*groups.notes, *data.notes]
            if completed:
                notes.append(f"metadata of {completed} samples completed from twins on other platforms")
            block = GeoPlatformData(data.platform_id, data.expression, data.annotation, samples, notes)
        else:
            block = _combine(series, platform_ids, twins)
            block.notes[:0] = groups.notes
        out[cohort] = GeoSeries(
            series.accession,
            dict(series.background),
            {block.platform_id: block},
            series.source,
            series.source_kind,
        )
    return out


def survey_series(directory: str | Path, with_background: bool = False) -> dict:
    """{"cohorts": {cohort id: "GPL96+GPL97"}} for a series folder, with its "background" when
    asked, or {"error": text} when it cannot be read (the cohort's own task then fails with the
    reader's error).

    Read from the headers only (geo.read_geo_headers); the values are parsed (geo.PARSES counts
    it) only when two platforms pair up specimen by specimen and the rule compares their scales."""
    from genoteam.toolkit.geo import read_geo_cohort, read_geo_headers

    try:
        series = read_geo_headers(directory)
        try:
            groups = group_platforms(series)
        except ValuesNeeded:
            series = read_geo_cohort(directory)
            groups = group_platforms(series)
    except Exception as error:  # any reader failure belongs to that series alone
        return {"error": f"{type(error).__name__}: {error}"}
    out: dict = {"cohorts": {cohort: "+".join(ids) for cohort, ids in groups.cohorts.items()}}
    if with_background:
        out["background"] = dict(series.background)
    return out
