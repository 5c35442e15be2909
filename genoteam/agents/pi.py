"""The PI: decides which cohorts to preprocess and which questions the statistician answers.

Cohorts come from the input folder's catalogue (GEO series under the trait's folder, the TCGA
cohort matched to the trait by the toolkit's domain rules), for the trait and, when the
condition is another trait, for the condition too. A GEO series on several platforms is
several cohorts; which platforms a series holds is read in the sandbox (a survey cell), since
it means parsing the input files. The plan is rule-based and deterministic in every mode, so
the same request always preprocesses the same cohorts; each assignment is a recorded message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from genoteam.data.catalogue import Cohort, CohortCatalogue
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.stats.selection import CLINICAL_CONDITIONS

SURVEY_MARKER = "__GENOTEAM_SURVEY__"


@dataclass(frozen=True)
class CohortTask:
    """One cohort to preprocess: for which entity (trait or condition trait), from which folder."""

    entity: str
    cohort: Cohort
    output_id: str  # the id in outputs: GSE, GSE_GPL for multi-platform series, or "TCGA"
    platform: str | None = None  # GEO: the platform (GPL) of this cohort; None for TCGA or when unknown

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
    skipped: dict[str, str]  # cohort -> why it is not preprocessed (no expression file, not requested, ...)
    survey_problems: dict[str, str]  # GEO series whose platforms could not be read -> the error


def entities_for(trait: str, condition: str | None) -> list[str]:
    """Whose cohorts must be preprocessed: the trait, and a condition that is itself a trait."""
    return [trait] + ([condition] if condition and condition not in CLINICAL_CONDITIONS else [])


def _requested(cohort: Cohort, wanted: list[str] | None) -> bool:
    if not wanted:
        return True
    names = {cohort.id, cohort.output_id} | ({cohort.tcga_code} if cohort.tcga_code else set())
    return any(w in names or w.split("_")[0] == cohort.id for w in wanted)


def survey_cell(series_dirs: dict[str, str]) -> str:
    """Python for the sandbox: the cohort ids (one per platform) of each GEO series folder."""
    return (
        "def _genoteam_survey(dirs):\n"
        "    import json\n"
        "    from genoteam.toolkit.geo import read_geo_cohort, split_by_platform\n"
        "    out = {}\n"
        "    for name, path in dirs.items():\n"
        "        try:\n"
        "            parts = split_by_platform(read_geo_cohort(path))\n"
        "            out[name] = {'cohorts': {cid: part.only_platform().platform_id for cid, part in parts.items()}}\n"
        "        except Exception as error:\n"
        "            out[name] = {'error': f'{type(error).__name__}: {error}'}\n"
        f"    print({SURVEY_MARKER!r} + json.dumps(out))\n"
        f"_genoteam_survey({series_dirs!r})\n"
        "del _genoteam_survey\n"
    )


def parse_survey(stdout: str) -> dict[str, dict]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(SURVEY_MARKER):
            return json.loads(line[len(SURVEY_MARKER) :])
    raise GenoteamError(
        "the GEO platform survey printed no result", "see the sandbox output in provenance.json"
    )


def plan_cohorts(
    catalogue: CohortCatalogue,
    trait: str,
    condition: str | None,
    wanted: list[str] | None,
    survey,  # callable(dict[name, folder Path]) -> dict[name, {"cohorts": [...]} | {"error": str}]
) -> CohortPlan:
    tasks: list[CohortTask] = []
    skipped: dict[str, str] = {}
    problems: dict[str, str] = {}
    entities = entities_for(trait, condition)
    for entity in entities:
        try:
            cohorts = catalogue.cohorts_for_trait(entity)
        except GenoteamError as error:
            if entity == trait:
                raise
            skipped[f"{entity}/*"] = error.problem
            continue
        chosen = []
        for cohort in cohorts:
            key = f"{entity}/{cohort.id}"
            if not _requested(cohort, wanted if entity == trait else None):
                skipped[key] = "not among the requested cohorts"
            elif cohort.source == "GEO" and not cohort.has_expression:
                skipped[key] = "no series matrix or SOFT file in the folder"
            else:
                chosen.append(cohort)
        geo = {c.id: c.path for c in chosen if c.source == "GEO"}
        surveyed = survey(geo) if geo else {}
        for cohort in chosen:
            if cohort.source == "TCGA":
                tasks.append(CohortTask(entity, cohort, cohort.output_id))
                continue
            found = surveyed.get(cohort.id, {"error": "not surveyed"})
            if "error" in found:
                problems[f"{entity}/{cohort.id}"] = found["error"]
                tasks.append(CohortTask(entity, cohort, cohort.id))  # its task fails with the reader's error
                continue
            for output_id, platform in sorted(found["cohorts"].items()):
                if wanted and entity == trait and output_id not in wanted and cohort.id not in wanted:
                    skipped[f"{entity}/{output_id}"] = "not among the requested cohorts"
                    continue
                tasks.append(CohortTask(entity, cohort, output_id, platform))
    return CohortPlan(tasks=tasks, entities=entities, skipped=skipped, survey_problems=problems)


def relative_input(cohort: Cohort, input_dir: Path) -> str:
    """The cohort folder relative to the input root (how the sandbox finds it under its mount)."""
    return Path(cohort.path).relative_to(Path(input_dir)).as_posix()
