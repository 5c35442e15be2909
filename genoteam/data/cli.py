"""`genoteam catalogue --input DIR [--trait T] [--json]`,
`genoteam fetch-geo GSE... [--into DIR/GEO/<Trait>] [--kinds matrix soft] [--cache DIR]
[--base-url URL] [--offline]` and `genoteam find-cohorts --trait T [--max N] [--download]`: what an
input folder holds, GEO files fetched once into the cache, and cohorts found for any trait."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genoteam.data.cache import default_cache_dir
from genoteam.data.catalogue import CohortCatalogue
from genoteam.data.geo_download import BASE_URL_ENV, KINDS, fetch_geo_series
from genoteam.data.relevance import SampleBounds


def register(subparsers: argparse._SubParsersAction) -> None:
    cat = subparsers.add_parser(
        "catalogue", help="list the traits and cohorts of a GenoTEX-layout input folder", description=__doc__
    )
    cat.add_argument("--input", required=True, type=Path, help="folder holding GEO/<Trait>/<GSE>/ and TCGA/")
    cat.add_argument("--trait", help="only the cohorts of this trait (GEO series + matched TCGA cohort)")
    cat.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cat.set_defaults(func=run_catalogue)

    fetch = subparsers.add_parser(
        "fetch-geo",
        help="download GEO series files once into the content-addressed cache",
        description=__doc__,
    )
    fetch.add_argument("accessions", nargs="+", help="GEO series accessions, e.g. GSE781")
    fetch.add_argument(
        "--into", type=Path, help="also place the files in <INTO>/<GSE>/ (e.g. DIR/GEO/<Trait>)"
    )
    fetch.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="which files")
    fetch.add_argument(
        "--cache", type=Path, default=None, help=f"cache folder (default {default_cache_dir()})"
    )
    fetch.add_argument("--base-url", default=None, help=f"GEO base URL (default ${BASE_URL_ENV} or NCBI's)")
    fetch.add_argument("--offline", action="store_true", help="use the cache only, never the network")
    fetch.set_defaults(func=run_fetch)

    find = subparsers.add_parser(
        "find-cohorts",
        help="search GEO (NCBI E-utilities) and TCGA (UCSC Xena) for a trait's cohorts, with reasons",
        description="Candidates for a trait, each with a decision and its reasons. --download places the "
        "accepted ones in <cache>/input/ (a GenoTEX-layout folder). Offline (--offline or GENOTEAM_OFFLINE=1) "
        "answers from the cache of an earlier search. NCBI_API_KEY raises NCBI's rate limit (3 -> 10/s).",
    )
    find.add_argument("--trait", required=True, help="trait name, e.g. Psoriasis or Bile_Duct_Cancer")
    find.add_argument("--synonym", action="append", default=[], help="another name of the trait (repeatable)")
    find.add_argument(
        "--max", type=int, default=5, dest="max_cohorts", help="at most N GEO series (default 5)"
    )
    find.add_argument(
        "--min-samples", type=int, default=SampleBounds.minimum, help="fewest samples per series"
    )
    find.add_argument("--max-samples", type=int, default=SampleBounds.maximum, help="most samples per series")
    find.add_argument("--download", action="store_true", help="download the accepted cohorts into the cache")
    find.add_argument(
        "--cache", type=Path, default=None, help=f"cache folder (default {default_cache_dir()})"
    )
    find.add_argument("--offline", action="store_true", help="use the cache only, never the network")
    find.add_argument("--task-info", type=Path, default=None, help="task file whose entry may list synonyms")
    find.add_argument("--json", action="store_true", help="print the decisions as JSON")
    find.set_defaults(func=run_find)


def run_catalogue(args: argparse.Namespace) -> int:
    catalogue = CohortCatalogue(args.input)
    if args.trait:
        cohorts = catalogue.cohorts_for_trait(args.trait)
        match = catalogue.tcga_match(args.trait)
        if args.json:
            print(json.dumps({"trait": args.trait, "cohorts": [c.to_dict() for c in cohorts]}, indent=2))
            return 0
        print(f"{args.trait}: {len(cohorts)} cohort(s)")
        for c in cohorts:
            print(
                f"  {c.source:4} {c.id:45} {len(c.files)} file(s) {c.total_size:>12,} bytes  -> {c.output_id}"
            )
        print(f"  TCGA: {match.explanation() if match else 'no matching TCGA cohort'}")
        for dataset in catalogue.geo_datasets(args.trait):
            print(f"  {dataset.id}: {dataset.reason()}")
        return 0
    if args.json:
        print(json.dumps(catalogue.to_dict(), indent=2))
        return 0
    for trait in catalogue.geo_traits():
        series = catalogue.geo_cohorts(trait)
        print(f"GEO {trait}: {', '.join(c.id for c in series) or '(no series)'}")
        for dataset in catalogue.geo_datasets(trait):
            print(f"  {dataset.id}: {dataset.reason()}")
        for other in sorted(
            set(catalogue.ignored_geo_folders(trait)) - {d.id for d in catalogue.geo_datasets(trait)}
        ):
            print(f"  {other}: not a GEO series folder (GSEnnn), not read")
    for c in catalogue.tcga_cohorts():
        kind = "expression + clinical" if c.has_expression else "clinical only"
        print(f"TCGA {c.id}: {kind}, {c.total_size:,} bytes")
    return 0


def run_find(args: argparse.Namespace) -> int:
    from genoteam.data.discovery import describe, download_cohorts, find_cohorts, task_synonyms
    from genoteam.data.overlay import env_offline
    from genoteam.data.xena import load_manifest

    offline = args.offline or env_offline()
    found = find_cohorts(
        args.trait,
        synonyms=[*args.synonym, *task_synonyms(args.task_info, args.trait)],
        max_cohorts=args.max_cohorts,
        bounds=SampleBounds(args.min_samples, args.max_samples),
        cache_dir=args.cache,
        offline=offline,
    )
    if args.download:
        download_cohorts(
            found, cache_dir=args.cache, tcga_manifest=load_manifest(), offline=offline, progress=print
        )
    if args.json:
        print(json.dumps({**found.to_dict(), "input_dir": str(found.input_dir or "")}, indent=2))
        return 0 if found.accepted else 3
    origin = "cached search" if found.search_from_cache else "searched"
    print(
        f"{args.trait}: {found.geo_total} GEO records matched ({origin} {found.searched_at}); query: {found.query}"
    )
    for line in describe(found):
        print(f"  {line}")
    if found.input_dir:
        print(
            f"input folder: {found.input_dir}  (genoteam run --input {found.input_dir} --trait {args.trait} ...)"
        )
    elif found.accepted:
        print("add --download to fetch the cohorts marked USE")
    return 0 if found.accepted else 3


def run_fetch(args: argparse.Namespace) -> int:
    for accession in args.accessions:
        result = fetch_geo_series(
            accession, args.kinds, base_url=args.base_url, cache_dir=args.cache, offline=args.offline
        )
        origin = "cache" if result.from_cache else "downloaded"
        for f in result.files:
            print(f"{accession}: {f.name} {f.size:,} bytes sha256 {f.sha256} ({origin})")
        if result.missing_kinds:
            print(f"{accession}: GEO has no {' or '.join(result.missing_kinds)} file for this series")
        if args.into:
            for path in result.place_into(args.into / accession):
                print(f"{accession}: placed {path}")
    return 0
