"""What the input folder offers, as tool output: traits and their cohorts, without host paths.

Why a view over genoteam.data.catalogue: the catalogue decides which cohorts serve a trait
(GEO folders plus the TCGA cohort matched by the domain rules); this module only shapes that
into small schema-checked records (id, source, file names and sizes), fast enough for every call.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from genoteam.data.catalogue import GEO_SERIES, Cohort, CohortCatalogue
from genoteam.pipeline.cohorts import folder_requested
from genoteam.server.schema import Compact
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.traits import match_tcga_cohort, parse_tcga_folder


class CohortFile(Compact):
    name: str
    bytes: int


class CohortInfo(Compact):
    cohort: str = Field(
        description="Id to pass to the analysis tools and the id results use: a GSE accession "
        "(its platform cohorts are <GSE>_<GPL>) or TCGA (its TCGA code is accepted too)"
    )
    source: str = Field(description="GEO or TCGA")
    trait: str
    has_expression: bool = Field(description="Whether expression data is present locally")
    files: list[CohortFile]
    tcga_code: str | None = None  # the TCGA project code (CHOL) of a TCGA cohort, for its links


class TraitInfo(Compact):
    trait: str
    geo_cohorts: int
    tcga_cohorts: int
    cohorts_with_expression: int


def open_catalogue(input_dir: Path) -> CohortCatalogue:
    if not input_dir.is_dir():
        raise GenoteamError(
            "the server's input folder does not exist",
            "start it with --input DIR (or GENOTEAM_INPUT) pointing to a GenoTEX-layout folder with GEO/ and TCGA/",
        )
    return CohortCatalogue(input_dir)


def _info(cohort: Cohort, trait: str) -> CohortInfo:
    return CohortInfo(
        cohort=cohort.output_id,
        source=cohort.source,
        trait=trait,
        has_expression=cohort.has_expression,
        files=[CohortFile(name=f.name, bytes=f.size) for f in cohort.files],
        tcga_code=cohort.tcga_code,
    )


def all_trait_names(catalogue: CohortCatalogue) -> list[str]:
    """GEO trait folders plus the trait names of the TCGA cohort folders."""
    names = set(catalogue.geo_traits())
    for cohort in catalogue.tcga_cohorts():
        parsed = parse_tcga_folder(cohort.id)
        if parsed is not None:
            names.add(parsed.name)
    return sorted(names, key=str.lower)


def list_traits(input_dir: Path) -> list[TraitInfo]:
    """Every trait with its cohort counts; the TCGA folders are scanned once, not once per trait."""
    catalogue = open_catalogue(input_dir)
    tcga = {c.id: c for c in catalogue.tcga_cohorts()}
    traits = []
    for name in all_trait_names(catalogue):
        match = match_tcga_cohort(name, list(tcga))
        cohorts = catalogue.geo_cohorts(name) + ([tcga[match.folder]] if match is not None else [])
        traits.append(
            TraitInfo(
                trait=name,
                geo_cohorts=sum(c.source == "GEO" for c in cohorts),
                tcga_cohorts=sum(c.source == "TCGA" for c in cohorts),
                cohorts_with_expression=sum(c.has_expression for c in cohorts),
            )
        )
    return traits


def cohorts_for(input_dir: Path, trait: str) -> list[CohortInfo]:
    """The cohorts of one trait, named canonically (the caller resolves the name: server.names)."""
    catalogue = open_catalogue(input_dir)
    return [_info(c, trait) for c in catalogue.cohorts_for_trait(trait)]


def unsupported_for(input_dir: Path, trait: str) -> list[str]:
    """Folders of the trait that are not read, each with why and what to use (GEO DataSets)."""
    return [f"{d.id}: {d.reason()}" for d in open_catalogue(input_dir).geo_datasets(trait)]


def downloadable(cohort_id: str) -> bool:
    """Whether a job may fetch this cohort from GEO when the input folder lacks it (GSE ids)."""
    return GEO_SERIES.match(cohort_id.split("_")[0]) is not None


def unknown_cohorts(input_dir: Path, traits: list[str], requested: list[str] | None) -> list[str]:
    """Requested ids that name no cohort of these traits (by the cohort plan's rule) and are not
    GEO series a job downloads."""
    cohorts = [c for trait in traits for c in open_catalogue(input_dir).cohorts_for_trait(trait)]
    return sorted(
        name
        for name in set(requested or [])
        if not any(folder_requested(c, name) for c in cohorts) and not downloadable(name)
    )


def known_cohort_ids(input_dir: Path, trait: str) -> set[str]:
    """The ids list_cohorts shows for the trait's cohorts."""
    return {c.cohort for c in cohorts_for(input_dir, trait)}
