"""The cohort catalogue of a GenoTEX-layout input folder.

```
DIR/GEO/<Trait>/<GSE>/     series matrix and/or family SOFT files of one GEO series
DIR/TCGA/<TCGA_Name_(CODE)>/   Xena clinical matrix (+ expression matrix) of one TCGA cohort
```

The catalogue lists traits and cohorts (id, source, files, sizes) without reading any file's
content, and answers "which cohorts serve this trait": the GEO series under the trait's folder
plus the TCGA cohort matched to the trait by the domain rules of genoteam.toolkit.traits.
A missing folder or an unknown trait is a GenoteamError that lists what does exist.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genoteam.data.cache import open_text
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import TCGA_COHORT_ID
from genoteam.toolkit.traits import TcgaMatch, match_tcga_cohort, parse_tcga_folder

GEO_SERIES = re.compile(r"^GSE\d+$")
GEO_DATASET = re.compile(r"^GDS\d+$")


@dataclass(frozen=True)
class CohortFile:
    name: str
    path: Path
    size: int


@dataclass(frozen=True)
class Cohort:
    """One cohort folder. `id` is the folder name (GSE accession or TCGA folder); `output_id` is the
    id GenoTEX uses in outputs and cohort_info.json (the GSE, or "TCGA")."""

    id: str
    source: str  # "GEO" or "TCGA"
    path: Path
    files: tuple[CohortFile, ...]
    trait: str | None = None  # the GEO trait folder it sits in
    tcga_code: str | None = None

    @property
    def output_id(self) -> str:
        return self.id if self.source == "GEO" else TCGA_COHORT_ID

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def has_expression(self) -> bool:
        """Whether the folder holds expression data at all (GEO: matrix or SOFT; TCGA: PANCAN)."""
        names = [f.name.lower() for f in self.files]
        if self.source == "TCGA":
            return any("pancan" in n for n in names)
        return any("matrix" in n or "soft" in n for n in names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "output_id": self.output_id,
            "source": self.source,
            "trait": self.trait,
            "tcga_code": self.tcga_code,
            "path": str(self.path),
            "files": [{"name": f.name, "size": f.size} for f in self.files],
            "total_size": self.total_size,
        }


def _files(folder: Path) -> tuple[CohortFile, ...]:
    entries = []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.is_file() and not p.name.startswith("."):
            entries.append(CohortFile(p.name, p, p.stat().st_size))
    return tuple(entries)


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )


@dataclass(frozen=True)
class GeoDataSet:
    """A GEO DataSet folder (GEO/<Trait>/GDSnnn/): a curated view of one platform of a series.

    Why reported and not read: genoteam reads series (series matrix or family SOFT), and a
    DataSet's values are its reference series' values on one platform; analysing both would
    count the same samples twice. So a DataSet is named in every listing and plan with the
    series to use instead, never dropped silently."""

    id: str
    path: Path
    reference_series: str | None
    platform: str | None
    sample_count: int | None

    def reason(self) -> str:
        series = self.reference_series
        what = f"a GEO DataSet ({self.id}" + (f", curated from {series}" if series else "")
        what += (f" on {self.platform}" if self.platform else "") + ")"
        return (
            what
            + ": unsupported, genoteam reads GEO series"
            + (
                f"; put {series} under GEO/<Trait>/{series}/ instead (genoteam fetch-geo {series})"
                if series
                else ""
            )
        )


def read_geo_dataset(folder: Path) -> GeoDataSet:
    """The header of a DataSet folder's SOFT file (`!dataset_reference_series`, platform, count)."""
    fields: dict[str, str] = {}
    softs = sorted(p for p in folder.iterdir() if p.is_file() and ".soft" in p.name.lower())
    if softs:
        try:
            with open_text(softs[0]) as handle:
                for line, _ in zip(handle, range(200), strict=False):
                    if line.startswith(("^SUBSET", "!dataset_table_begin")):
                        break
                    key, _, value = line.partition(" = ")
                    fields.setdefault(key.strip(), value.strip())
        except (OSError, EOFError):
            pass  # unreadable: still reported, without its series
    count = fields.get("!dataset_sample_count", "")
    return GeoDataSet(
        folder.name,
        folder,
        fields.get("!dataset_reference_series"),
        fields.get("!dataset_platform"),
        int(count) if count.isdigit() else None,
    )


class CohortCatalogue:
    """Traits and cohorts of one input folder (read on demand; the folder may change between calls)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise GenoteamError(
                f"input folder {self.root} does not exist",
                "pass a GenoTEX-layout input folder holding GEO/<Trait>/<GSE>/ and/or TCGA/<cohort>/",
            )
        if not (self.root / "GEO").is_dir() and not (self.root / "TCGA").is_dir():
            found = sorted(p.name for p in self.root.iterdir())[:20]
            raise GenoteamError(
                f"input folder {self.root} has neither a GEO/ nor a TCGA/ subfolder (it has {found})",
                "point to the folder that contains GEO/ and TCGA/ (GenoTEX's input layout)",
            )

    # -- GEO
    def geo_traits(self) -> list[str]:
        """Trait folders under GEO/ (including ones without any series yet)."""
        return [p.name for p in _subdirs(self.root / "GEO")]

    def geo_cohorts(self, trait: str) -> list[Cohort]:
        """The GEO series of a trait ([] when the trait has no GEO folder)."""
        folder = self.root / "GEO" / trait
        cohorts = []
        for sub in _subdirs(folder):
            if GEO_SERIES.match(sub.name):
                cohorts.append(Cohort(sub.name, "GEO", sub, _files(sub), trait=trait))
        return cohorts

    def geo_datasets(self, trait: str) -> list[GeoDataSet]:
        """The GEO DataSet folders of a trait: reported as unsupported, with the series to use."""
        return [read_geo_dataset(p) for p in _subdirs(self.root / "GEO" / trait) if GEO_DATASET.match(p.name)]

    def ignored_geo_folders(self, trait: str) -> list[str]:
        """Folders under GEO/<trait>/ that are not named like a series (reported, not used)."""
        return [p.name for p in _subdirs(self.root / "GEO" / trait) if not GEO_SERIES.match(p.name)]

    # -- TCGA
    def tcga_cohorts(self) -> list[Cohort]:
        cohorts = []
        for sub in _subdirs(self.root / "TCGA"):
            parsed = parse_tcga_folder(sub.name)
            if parsed is not None:
                cohorts.append(Cohort(sub.name, "TCGA", sub, _files(sub), tcga_code=parsed.code))
        return cohorts

    def tcga_match(self, trait: str) -> TcgaMatch | None:
        return match_tcga_cohort(trait, [c.id for c in self.tcga_cohorts()])

    # -- both
    def traits(self) -> list[str]:
        """Traits with a GEO folder. TCGA-only traits are found by name (see cohorts_for_trait)."""
        return self.geo_traits()

    def cohorts_for_trait(self, trait: str) -> list[Cohort]:
        """GEO series of the trait, then its matched TCGA cohort; an unknown trait is an error."""
        geo = self.geo_cohorts(trait)
        match = self.tcga_match(trait)
        tcga = [c for c in self.tcga_cohorts() if match is not None and c.id == match.folder]
        if not geo and not tcga and trait not in self.geo_traits():
            tcga_names = [c.id for c in self.tcga_cohorts()]
            raise GenoteamError(
                f"unknown trait {trait!r} in {self.root}: no GEO/{trait}/ folder and no TCGA cohort matches it",
                f"GEO traits here: {self.geo_traits()}; TCGA cohorts here: {tcga_names}",
            )
        return geo + tcga

    def cohort(self, trait: str, cohort_id: str) -> Cohort:
        """One cohort of a trait by folder name, GSE or output id ("TCGA")."""
        cohorts = self.cohorts_for_trait(trait)
        for c in cohorts:
            if cohort_id in (c.id, c.output_id):
                return c
        raise GenoteamError(
            f"trait {trait!r} has no cohort {cohort_id!r}",
            f"its cohorts: {[c.id for c in cohorts]}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "geo": {t: [c.to_dict() for c in self.geo_cohorts(t)] for t in self.geo_traits()},
            "tcga": [c.to_dict() for c in self.tcga_cohorts()],
        }
