"""TCGA cohorts from the UCSC Xena TCGA hub: which cohorts exist, and their two files, verified.

Xena's TCGA hub keeps one folder per cohort, `TCGA.<CODE>.sampleMap/`, with (among others)
`HiSeqV2_PANCAN.gz` (log2 RSEM, genes x samples) and `<CODE>_clinicalMatrix` (samples x clinical
fields). GenoTEX stores them as `TCGA/TCGA_<Xena cohort name>_(<CODE>)/TCGA.<CODE>.sampleMap_<file>`,
the layout every engine reads, and so do we.

Checksums: Xena publishes none for these files; GenoTEX publishes the sha256 of every file of its
TCGA input (`download/tcga_manifest.json`, keys `<folder>/<file>`). Given such a manifest
(argument or $GENOTEAM_TCGA_MANIFEST), a download that does not match it is rejected. Without
one, the file is still verified (gzip integrity, the expected columns) and stored under its own
sha256, which the provenance records. Base URL: argument, $GENOTEAM_XENA_BASE_URL, or Xena's.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from genoteam.data.cache import ContentCache, open_text
from genoteam.data.http import DownloadPolicy, NotFound, Transient, download_to_cache
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.traits import TcgaMatch, match_tcga_cohort, parse_tcga_folder

DEFAULT_XENA_BASE_URL = "https://tcga.xenahubs.net/download"
XENA_BASE_ENV = "GENOTEAM_XENA_BASE_URL"
MANIFEST_ENV = "GENOTEAM_TCGA_MANIFEST"
REF_NAMESPACE = "xena"
BARCODE = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}-\d{2}")

# Xena's TCGA cohorts, named as GenoTEX names their folders ("TCGA <name> (<CODE>)" with underscores)
XENA_TCGA_COHORTS: tuple[str, ...] = (
    "TCGA_Acute_Myeloid_Leukemia_(LAML)",
    "TCGA_Adrenocortical_Cancer_(ACC)",
    "TCGA_Bile_Duct_Cancer_(CHOL)",
    "TCGA_Bladder_Cancer_(BLCA)",
    "TCGA_Breast_Cancer_(BRCA)",
    "TCGA_Cervical_Cancer_(CESC)",
    "TCGA_Colon_Cancer_(COAD)",
    "TCGA_Colon_and_Rectal_Cancer_(COADREAD)",
    "TCGA_Endometrioid_Cancer_(UCEC)",
    "TCGA_Esophageal_Cancer_(ESCA)",
    "TCGA_Glioblastoma_(GBM)",
    "TCGA_Head_and_Neck_Cancer_(HNSC)",
    "TCGA_Kidney_Chromophobe_(KICH)",
    "TCGA_Kidney_Clear_Cell_Carcinoma_(KIRC)",
    "TCGA_Kidney_Papillary_Cell_Carcinoma_(KIRP)",
    "TCGA_Large_Bcell_Lymphoma_(DLBC)",
    "TCGA_Liver_Cancer_(LIHC)",
    "TCGA_Lower_Grade_Glioma_(LGG)",
    "TCGA_Lung_Adenocarcinoma_(LUAD)",
    "TCGA_Lung_Cancer_(LUNG)",
    "TCGA_Lung_Squamous_Cell_Carcinoma_(LUSC)",
    "TCGA_Melanoma_(SKCM)",
    "TCGA_Mesothelioma_(MESO)",
    "TCGA_Ocular_melanomas_(UVM)",
    "TCGA_Ovarian_Cancer_(OV)",
    "TCGA_Pancreatic_Cancer_(PAAD)",
    "TCGA_Pheochromocytoma_Paraganglioma_(PCPG)",
    "TCGA_Prostate_Cancer_(PRAD)",
    "TCGA_Rectal_Cancer_(READ)",
    "TCGA_Sarcoma_(SARC)",
    "TCGA_Stomach_Cancer_(STAD)",
    "TCGA_Testicular_Cancer_(TGCT)",
    "TCGA_Thymoma_(THYM)",
    "TCGA_Thyroid_Cancer_(THCA)",
    "TCGA_Uterine_Carcinosarcoma_(UCS)",
    "TCGA_lower_grade_glioma_and_glioblastoma_(GBMLGG)",
)


@dataclass(frozen=True)
class XenaFile:
    kind: str  # "expression" or "clinical"
    name: str  # GenoTEX's file name, e.g. TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz
    url: str
    sha256: str
    size: int
    path: Path
    checksum_source: str  # "manifest" (published) or "computed"


def xena_base(base_url: str | None = None) -> str:
    return (base_url or os.environ.get(XENA_BASE_ENV) or DEFAULT_XENA_BASE_URL).rstrip("/")


def tcga_match_for(trait: str) -> TcgaMatch | None:
    """The Xena TCGA cohort of a trait by the same domain rules as for local folders."""
    return match_tcga_cohort(trait, XENA_TCGA_COHORTS)


def tcga_folder_for(trait: str) -> str | None:
    match = tcga_match_for(trait)
    return match.folder if match else None


def xena_files(folder: str, base_url: str | None = None) -> list[tuple[str, str, str]]:
    """(kind, GenoTEX name, URL) of a cohort's expression and clinical matrices."""
    parsed = parse_tcga_folder(folder)
    if parsed is None:
        raise GenoteamError(
            f"{folder!r} is not a TCGA cohort folder name", "use e.g. TCGA_Bile_Duct_Cancer_(CHOL)"
        )
    code, base = parsed.code, xena_base(base_url)
    dataset = f"TCGA.{code}.sampleMap"
    return [
        ("expression", f"{dataset}_HiSeqV2_PANCAN.gz", f"{base}/{dataset}/HiSeqV2_PANCAN.gz"),
        ("clinical", f"{dataset}_{code}_clinicalMatrix", f"{base}/{dataset}/{code}_clinicalMatrix"),
    ]


def load_manifest(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """GenoTEX's tcga_manifest.json as {"<folder>/<file>": sha256}; {} when none is configured."""
    path = path or os.environ.get(MANIFEST_ENV)
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
        return {str(k): str(v) for k, v in data.get("files", data).items()}
    except (OSError, json.JSONDecodeError, AttributeError) as error:
        raise GenoteamError(
            f"TCGA manifest {path} is unreadable ({error})", "pass GenoTEX's tcga_manifest.json"
        ) from error


def _first_lines(path: Path, n: int = 2) -> list[list[str]]:
    with open_text(path) as handle:
        return [line.rstrip("\n").split("\t") for _, line in zip(range(n), handle, strict=False)]


def check_xena(kind: str, name: str) -> Callable[[Path], None]:
    """Expected columns: expression = `sample` then TCGA barcodes, a gene row of numbers;
    clinical = `sampleID` then fields, rows keyed by barcodes."""

    def reject(why: str) -> GenoteamError:
        return GenoteamError(
            f"Xena file {name} {why}: rejected and not cached", "check the Xena base URL; retry later"
        )

    def check(path: Path) -> None:
        lines = _first_lines(path)
        if len(lines) < 2:
            raise reject("has fewer than two lines")
        header, row = lines
        if kind == "expression":
            if header[0] != "sample" or not any(BARCODE.match(c) for c in header[1:]):
                raise reject(f"does not start with 'sample' and TCGA barcodes (starts {header[:3]})")
            try:
                [float(v) for v in row[1:] if v not in ("", "NA")]
            except ValueError as error:
                raise reject(f"has a non-numeric expression value ({error})") from error
        elif header[0] != "sampleID" or len(header) < 2 or not BARCODE.match(row[0]):
            raise reject(f"is not a clinical matrix (header {header[:3]}, first row {row[:1]})")

    return check


def fetch_xena_cohort(
    folder: str,
    *,
    base_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    manifest: Mapping[str, str] | None = None,
    policy: DownloadPolicy | None = None,
    offline: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[XenaFile]:
    """A TCGA cohort's expression and clinical matrices, from the cache or downloaded once.
    A cohort without an expression matrix on the hub is an error naming the URL."""
    cache, policy = ContentCache(cache_dir), policy or DownloadPolicy()
    manifest = manifest or {}
    key = re.sub(r"[^A-Za-z0-9._-]", "_", folder)
    with cache.lock(REF_NAMESPACE, key):
        ref = cache.read_ref(REF_NAMESPACE, key)
        if ref and all(
            cache.has_valid_blob(f["sha256"])
            and manifest.get(f"{folder}/{f['name']}", f["sha256"]) == f["sha256"]
            for f in ref["files"]
        ):
            return [XenaFile(**{**f, "path": cache.blob_path(f["sha256"])}) for f in ref["files"]]
        if offline:
            raise GenoteamError(
                f"TCGA {folder} is not in the cache {cache.root} and offline mode forbids downloading it",
                f"run once with network access, or place its Xena files in <input>/TCGA/{folder}/",
            )
        files = []
        for kind, name, url in xena_files(folder, base_url):
            published = manifest.get(f"{folder}/{name}")
            try:
                sha, size = download_to_cache(
                    cache, url, name, policy, sleep, published, check_xena(kind, name)
                )
            except NotFound as error:
                raise GenoteamError(
                    f"UCSC Xena has no {kind} matrix for {folder} at {url}",
                    "this TCGA cohort cannot be analysed",
                ) from error
            except Transient as error:
                raise GenoteamError(
                    f"could not download {name} from {xena_base(base_url)}: {error}; nothing is cached for it in {cache.root}",
                    f"check the network (or {XENA_BASE_ENV}), then retry; or place the files in <input>/TCGA/{folder}/",
                ) from error
            source = "manifest" if published else "computed"
            files.append(XenaFile(kind, name, url, sha, size, cache.blob_path(sha), source))
        cache.write_ref(
            REF_NAMESPACE,
            key,
            {"folder": folder, "files": [{**f.__dict__, "path": None} for f in files]},
        )
        return files
