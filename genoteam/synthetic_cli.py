"""`genoteam synth`: synthetic cohorts with a planted truth.

`genoteam synth --out DIR [--kind geo|tcga|both] [--genes N] [--samples N] [--seed S]`: one trait's
GEO/TCGA cohorts (genoteam.synthetic). `genoteam synth --genotex-like --output DIR [--questions N]
[--seed S] [--genes G] [--scale small|full]`: a whole GenoTEX-shaped corpus, with its task file and
a truth folder for `genoteam eval --ref` (genoteam.synthetic_corpus, genoteam.synthetic_write)."""

from __future__ import annotations

import argparse
from pathlib import Path

from genoteam.toolkit.errors import GenoteamError

# options of the one-trait generator, refused with --genotex-like (the corpus plans them itself)
ONE_TRAIT_ONLY = ("kind", "samples", "trait", "tcga_code", "geo_cohorts", "trait_genes", "one_class_cohorts")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic GEO/TCGA cohorts in GenoTEX's input layout, with a known truth",
        description=__doc__,
    )
    parser.add_argument(
        "--out", "--output", dest="out", required=True, type=Path, help="output folder (must be new or empty)"
    )
    parser.add_argument(
        "--genotex-like",
        action="store_true",
        help="a whole corpus shaped like GenoTEX: task_info.json, input/ and truth/ (see docs/synthetic.md)",
    )
    parser.add_argument(
        "--questions", type=int, default=None, help="--genotex-like: keep the first N questions"
    )
    parser.add_argument(
        "--scale",
        choices=("small", "full"),
        default="small",
        help="--genotex-like: small (tests) or full sizes",
    )
    parser.add_argument("--kind", choices=("geo", "tcga", "both"), default=None)
    parser.add_argument("--genes", type=int, default=None, help="genes in the universe")
    parser.add_argument("--samples", type=int, default=None, help="samples per cohort")
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
    if args.genotex_like:
        return run_corpus(args)
    if args.questions is not None:
        raise GenoteamError("--questions applies to a corpus", "add --genotex-like, or leave --questions out")
    from genoteam.synthetic import SynthConfig, generate

    overrides = {
        "kind": args.kind,
        "n_genes": args.genes,
        "n_samples": args.samples,
        "trait": args.trait,
        "tcga_code": args.tcga_code,
        "n_geo_cohorts": args.geo_cohorts,
        "n_trait_genes": args.trait_genes,
        "n_one_class_geo_cohorts": args.one_class_cohorts,
    }
    config = SynthConfig(seed=args.seed, **{k: v for k, v in overrides.items() if v is not None})
    truth = generate(config, args.out)
    print(f"wrote {len(truth['files'])} files under {args.out} (truth: {args.out / 'truth.json'})")
    for entry in truth["files"]:
        print(f"  {entry['path']}  {entry['bytes']} bytes")
    return 0


def run_corpus(args: argparse.Namespace) -> int:
    given = [f"--{name.replace('_', '-')}" for name in ONE_TRAIT_ONLY if getattr(args, name) is not None]
    if given:
        raise GenoteamError(
            f"{', '.join(given)} do not apply to --genotex-like (the corpus plans its traits and cohorts)",
            "leave them out; --genotex-like takes --questions, --seed, --genes and --scale",
        )
    from genoteam.synthetic_corpus import CorpusConfig
    from genoteam.synthetic_write import write_corpus

    config = CorpusConfig(seed=args.seed, n_questions=args.questions, n_genes=args.genes, scale=args.scale)
    record = write_corpus(config, args.out)
    kinds: dict[str, int] = {}
    for trait in record["traits"]:
        for cohort in trait["cohorts"]:
            kinds[cohort["kind"]] = kinds.get(cohort["kind"], 0) + 1
    out = args.out
    print(
        f"wrote a GenoTEX-like corpus under {out}: {record['n_traits']} traits, {record['n_questions']} "
        f"questions ({record['n_answerable_questions']} answerable), {record['n_cohorts']} cohorts "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
    )
    print(
        f"  task file: {out / 'task_info.json'}\n  input:     {out / 'input'}\n  truth:     {out / 'truth'}"
    )
    print(
        f"  score a run: genoteam eval --pred RUN --ref {out / 'truth'} --task-info {out / 'task_info.json'}"
    )
    return 0
