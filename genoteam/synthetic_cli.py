"""`genoteam synth --out DIR --kind geo|tcga|both --genes N --samples N --seed S`: synthetic cohorts."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic GEO/TCGA cohorts in GenoTEX's input layout, with a known truth",
        description=__doc__,
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (GEO/ and TCGA/ inside)")
    parser.add_argument("--kind", choices=("geo", "tcga", "both"), default="both")
    parser.add_argument("--genes", type=int, default=2000, help="genes in the universe")
    parser.add_argument("--samples", type=int, default=100, help="samples per cohort")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trait", default=None, help="trait folder name (default: the generator's)")
    parser.add_argument("--tcga-code", default=None, help="TCGA cohort code, e.g. KIRC")
    parser.add_argument("--geo-cohorts", type=int, default=None, help="number of GEO series")
    parser.add_argument("--trait-genes", type=int, default=None, help="number of planted trait genes")
    parser.add_argument(
        "--one-class-cohorts", type=int, default=None, help="extra GEO series with cases only (unusable)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from genoteam.synthetic import SynthConfig, generate

    overrides = {
        "trait": args.trait,
        "tcga_code": args.tcga_code,
        "n_geo_cohorts": args.geo_cohorts,
        "n_trait_genes": args.trait_genes,
        "n_one_class_geo_cohorts": args.one_class_cohorts,
    }
    config = SynthConfig(
        n_genes=args.genes,
        n_samples=args.samples,
        seed=args.seed,
        kind=args.kind,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    truth = generate(config, args.out)
    print(f"wrote {len(truth['files'])} files under {args.out} (truth: {args.out / 'truth.json'})")
    for entry in truth["files"]:
        print(f"  {entry['path']}  {entry['bytes']} bytes")
    return 0
