"""A job's own view of the input folder, completed with the GEO series it names that are absent.

Why an overlay and not a download into the input folder: the input folder is shared by every
job (and often read-only, e.g. a mounted volume); a job that asks for a GEO series the folder
lacks gets <work_dir>/input_overlay/, a GenoTEX-layout folder that mirrors the input through
symlinks and adds the missing series' files from the GEO cache (downloaded once per cache).
The engines read the overlay exactly like an input folder. A series that cannot be fetched is
reported in the notes (accession, URL base, cache folder); the others go on.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from genoteam.data.cache import ContentCache
from genoteam.data.geo_download import (
    BASE_URL_ENV,
    DEFAULT_GEO_BASE_URL,
    DownloadPolicy,
    GeoFetchResult,
    fetch_geo_series,
)
from genoteam.toolkit.errors import GenoteamError

OVERLAY_DIR = "input_overlay"
OFFLINE_ENV = "GENOTEAM_OFFLINE"
# a requested cohort id naming a GEO series: GSE781, or one platform of it (GSE781_GPL96)
SERIES_ID = re.compile(r"^(GSE[1-9][0-9]*)(?:_GPL[0-9]+)?$")

Fetch = Callable[[str], GeoFetchResult]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class AccessionNote:
    """What became of one requested series that the input folder's trait folder lacks."""

    accession: str
    outcome: Literal["linked", "downloaded", "cached", "failed"]
    detail: str

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def __str__(self) -> str:
        return f"{self.accession}: {self.detail}"


def env_offline() -> bool:
    """GENOTEAM_OFFLINE=1 (or true/yes) forbids any download: only the cache answers."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class GeoFetcher:
    """fetch_geo_series bound to one cache, URL base and offline setting.

    Why a class: every failure it raises names the accession, the URL base and the cache
    folder, whatever went wrong, so a job's report says where to look."""

    cache_dir: Path
    base_url: str | None = None  # None: $GENOTEAM_GEO_BASE_URL, else NCBI
    offline: bool = False
    policy: DownloadPolicy | None = None

    @property
    def base(self) -> str:
        return (self.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_GEO_BASE_URL).rstrip("/")

    def __call__(self, accession: str) -> GeoFetchResult:
        try:
            return fetch_geo_series(
                accession,
                base_url=self.base,
                cache_dir=self.cache_dir,
                policy=self.policy,
                offline=self.offline,
            )
        except GenoteamError as error:
            where = [] if self.offline or self.base in error.problem else [f"URL base {self.base}"]
            cache = str(ContentCache(self.cache_dir).root)
            where += [] if cache in error.problem else [f"cache folder {cache}"]
            problem = error.problem + (f" [{'; '.join(where)}]" if where else "")
            raise GenoteamError(problem, error.hint) from error


def series_accession(cohort_id: str) -> str | None:
    """The GSE accession a requested cohort id names, or None (a TCGA code, say)."""
    match = SERIES_ID.match(cohort_id)
    return match.group(1) if match else None


def missing_accessions(input_dir: Path, traits: Iterable[str], cohorts: Iterable[str]) -> list[str]:
    """GSE accessions among `cohorts` without a folder GEO/<trait>/<GSE>/ for any of `traits`."""
    geo = Path(input_dir) / "GEO"
    traits = list(traits)
    wanted = sorted({a for a in map(series_accession, cohorts) if a})
    return [a for a in wanted if not any((geo / t / a).is_dir() for t in traits)]


def _mirror(input_dir: Path, trait: str, overlay: Path) -> Path:
    """Build `overlay` as symlinks to everything in input_dir, with GEO/<trait>/ a real folder
    (so series can be added to it); returns that trait folder."""
    source = input_dir.resolve()
    if overlay.is_symlink() or overlay.is_file():
        overlay.unlink()
    elif overlay.exists():
        shutil.rmtree(overlay)  # a rerun of the job rebuilds it from the current input
    trait_dir = overlay / "GEO" / trait
    trait_dir.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        if entry.name != "GEO":
            (overlay / entry.name).symlink_to(entry)
    geo = source / "GEO"
    for entry in sorted(geo.iterdir()) if geo.is_dir() else []:
        if entry.name != trait:
            (overlay / "GEO" / entry.name).symlink_to(entry)
    for entry in sorted((geo / trait).iterdir()) if (geo / trait).is_dir() else []:
        (trait_dir / entry.name).symlink_to(entry)
    return trait_dir


def _elsewhere(input_dir: Path, accession: str) -> Path | None:
    """A folder of the series under another trait of the input folder (no download needed)."""
    return next((p for p in sorted((input_dir / "GEO").glob(f"*/{accession}")) if p.is_dir()), None)


def input_with_accessions(
    input_dir: str | os.PathLike[str],
    trait: str,
    accessions: Iterable[str],
    work_dir: str | os.PathLike[str],
    fetch: Fetch,
    *,
    also_in: Iterable[str] = (),
    progress: Progress | None = None,
) -> tuple[Path, list[AccessionNote]]:
    """The folder an engine should read for `trait` so that every requested GEO series is there.

    `accessions` are the requested cohort ids (non-GEO ids are ignored); a series counts as
    present when GEO/<trait>/<GSE>/ or GEO/<t>/<GSE>/ for t in `also_in` (e.g. the condition
    trait) exists. Nothing missing: (input_dir, []) unchanged. Else (work_dir/input_overlay, notes)
    with one note per missing series: linked from another trait folder, downloaded, taken from
    the cache, or failed (the note says why; the overlay then simply lacks that series)."""
    input_dir, work_dir = Path(input_dir), Path(work_dir)
    missing = missing_accessions(input_dir, [trait, *also_in], accessions)
    if not missing:
        return input_dir, []
    trait_dir = _mirror(input_dir, trait, work_dir / OVERLAY_DIR)
    notes = []
    for accession in missing:
        local = _elsewhere(input_dir, accession)
        if local is not None:
            (trait_dir / accession).symlink_to(local.resolve())
            notes.append(
                AccessionNote(accession, "linked", f"taken from GEO/{local.parent.name}/ of the input")
            )
            continue
        if progress:
            progress(f"downloading {accession} from GEO")
        try:
            result = fetch(accession)
        except GenoteamError as error:
            notes.append(
                AccessionNote(accession, "failed", error.problem + (f" ({error.hint})" if error.hint else ""))
            )
            continue
        result.place_into(trait_dir / accession)
        names = ", ".join(f.name for f in result.files)
        if result.from_cache:
            notes.append(AccessionNote(accession, "cached", f"from the GEO download cache ({names})"))
        else:
            notes.append(AccessionNote(accession, "downloaded", f"downloaded from GEO ({names})"))
    return work_dir / OVERLAY_DIR, notes
