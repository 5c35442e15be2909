"""The cohort plan: which cohorts one request preprocesses, for every engine and the server.

Why one home: the reference pipeline, the agent team and the MCP server must take the same
cohorts for the same request, and accept the same ids (docs/reference-pipeline.md, "Cohort ids").

Cohort ids (the ids results report, list_cohorts shows, and requests accept back):
- GEO: the series accession (`GSE781`) when the series makes one cohort (one platform, or its
  platforms hold the same specimens and are combined); `<GSE>_<GPL>` for each of several
  separate platform cohorts (genoteam.toolkit.platforms).
- TCGA: `TCGA`, GenoTEX's name for the trait's one TCGA cohort.
A request may also name a series (every cohort of it), a platform that is part of a combined
cohort (`GSE781_GPL97` -> `GSE781`, noted in the plan), a TCGA code (`CHOL`) or a TCGA folder.
A requested id that names no cohort of the trait is an error that lists the trait's cohorts.

Which platforms a series holds is read from its files by a `survey` callable: the reference
reads on the host (`host_survey`), the team in a sandbox; both call toolkit.platforms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from genoteam.data.catalogue import GEO_SERIES, Cohort, CohortCatalogue
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.traits import condition_is_trait

Survey = Callable[[dict[str, Path]], dict[str, dict]]
"""{series folder name: folder} -> {name: {"cohorts": {cohort id: "GPL96+GPL97"}} | {"error": text}}"""


@dataclass(frozen=True)
class CohortTask:
    """One cohort to preprocess: for which entity (trait or condition trait), from which folder."""

    entity: str
    cohort: Cohort
    output_id: str  # the cohort id (module docstring)
    platform: str | None = None  # GEO: its platform, "GPL96+GPL97" when combined; None for TCGA

    @property
    def source(self) -> str:
        return self.cohort.source

    @property
    def task_id(self) -> str:
        return f"{self.entity}/{self.output_id}"


@dataclass
class CohortPlan:
    tasks: list[CohortTask]
    entities: list[str]  # the trait, then the condition trait when there is one
    skipped: dict[str, str]  # entity/cohort -> why it is not preprocessed
    survey_problems: dict[str, str]  # entity/series whose platforms could not be read -> the error
    notes: list[str] = field(default_factory=list)  # how requested ids were read


def entities_for(trait: str, condition: str | None) -> list[str]:
    """Whose cohorts are preprocessed: the trait, and a condition that is itself a trait."""
    return [trait] + ([condition] if condition and condition_is_trait(condition) else [])


def _series_of(requested: str) -> str:
    return requested.split("_")[0]


def folder_requested(cohort: Cohort, requested: str) -> bool:
    """Whether a requested id names this catalogue folder (or a cohort made from it)."""
    if cohort.source == "TCGA":
        return requested in {cohort.id, cohort.output_id, cohort.tcga_code or "", f"TCGA_{cohort.tcga_code}"}
    return requested == cohort.id or (
        GEO_SERIES.match(_series_of(requested)) and _series_of(requested) == cohort.id
    )


def cohort_requested(output_id: str, platform: str | None, requested: str) -> bool:
    """Whether a requested GEO id names this cohort: its id, its series, or one of its platforms."""
    if requested in (output_id, _series_of(output_id)):
        return True
    platforms = (platform or "").split("+")
    suffix = requested[len(_series_of(requested)) + 1 :]
    return _series_of(requested) == _series_of(output_id) and suffix in platforms


def host_survey(folders: Mapping[str, Path]) -> dict[str, dict]:
    """The survey on this host: read each series folder and group its platforms."""
    from genoteam.toolkit.platforms import survey_series  # pandas: only when a series is read

    return {name: survey_series(path) for name, path in folders.items()}


def plan_cohorts(
    catalogue: CohortCatalogue,
    trait: str,
    condition: str | None,
    wanted: list[str] | None,
    survey: Survey,
) -> CohortPlan:
    """The cohorts to preprocess for (trait, condition), restricted to `wanted` ids for the trait."""
    plan = CohortPlan([], entities_for(trait, condition), {}, {})
    for entity in plan.entities:
        try:
            cohorts = catalogue.cohorts_for_trait(entity)
        except GenoteamError as error:
            if entity == trait:
                raise
            plan.skipped[f"{entity}/*"] = error.problem
            continue
        for dataset in catalogue.geo_datasets(entity):  # never dropped silently: said in skipped and notes
            plan.skipped[f"{entity}/{dataset.id}"] = dataset.reason()
            plan.notes.append(f"{entity}/{dataset.id}: {dataset.reason()}")
        restrict = wanted if entity == trait and wanted else None
        if restrict:
            _check_known(restrict, cohorts, trait)
        chosen = []
        for cohort in cohorts:
            key = f"{entity}/{cohort.id}"
            if restrict and not any(folder_requested(cohort, w) for w in restrict):
                plan.skipped[key] = "not among the requested cohorts"
            elif cohort.source == "GEO" and not cohort.has_expression:
                plan.skipped[key] = "no series matrix or SOFT file in the folder"
            else:
                chosen.append(cohort)
        geo = {c.id: c.path for c in chosen if c.source == "GEO"}
        surveyed = survey(geo) if geo else {}
        for cohort in chosen:
            if cohort.source == "TCGA":
                plan.tasks.append(CohortTask(entity, cohort, cohort.output_id))
                continue
            found = surveyed.get(cohort.id, {"error": "not surveyed"})
            if "error" in found:
                plan.survey_problems[f"{entity}/{cohort.id}"] = found["error"]
                plan.tasks.append(
                    CohortTask(entity, cohort, cohort.id)
                )  # its task fails with the reader's error
                continue
            _add_geo_tasks(plan, entity, cohort, found["cohorts"], restrict)
    return plan


def _add_geo_tasks(
    plan: CohortPlan, entity: str, cohort: Cohort, found: dict[str, str], restrict: list[str] | None
) -> None:
    for output_id, platform in found.items():  # the survey's order: the series' platform order
        names = [w for w in restrict or [] if cohort_requested(output_id, platform, w)]
        if restrict and not names:
            plan.skipped[f"{entity}/{output_id}"] = "not among the requested cohorts"
            continue
        for name in names:
            if name not in (output_id, cohort.id):
                plan.notes.append(
                    f"requested {name}: that platform is part of cohort {output_id} ({platform})"
                )
        plan.tasks.append(CohortTask(entity, cohort, output_id, platform))
    if restrict:
        for name in restrict:
            if _series_of(name) == cohort.id and not any(
                cohort_requested(o, p, name) for o, p in found.items()
            ):
                raise GenoteamError(
                    f"{name} is not a cohort of series {cohort.id}",
                    f"its cohorts: {', '.join(f'{o} ({p})' for o, p in found.items())}",
                )


def _check_known(wanted: list[str], cohorts: list[Cohort], trait: str) -> None:
    unknown = [w for w in wanted if not any(folder_requested(c, w) for c in cohorts)]
    if unknown:
        raise GenoteamError(
            f"cohort(s) {', '.join(unknown)} are not cohorts of {trait} in the input folder",
            f"its cohorts: {', '.join(c.id if c.source == 'GEO' else c.output_id for c in cohorts) or 'none'}",
        )


def relative_input(cohort: Cohort, input_dir: Path) -> str:
    """The cohort folder relative to the input root (how a sandbox finds it under its mount)."""
    return Path(cohort.path).relative_to(Path(input_dir)).as_posix()
