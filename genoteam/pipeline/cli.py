"""`genoteam reference`: the deterministic expert pipeline from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genoteam.pipeline.api import AnalysisRequest, EngineOptions
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import atomic_write_text


def add_analysis_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every analysis command shares (reference pipeline and agent team)."""
    parser.add_argument(
        "--input",
        type=Path,
        default=None,
        help="GenoTEX-layout input folder (GEO/, TCGA/); not needed with --discover",
    )
    parser.add_argument("--trait", required=True, help="trait name as in GenoTEX, e.g. Bile_Duct_Cancer")
    parser.add_argument("--condition", default=None, help="Age, Gender or another trait (default: none)")
    parser.add_argument("--output", required=True, type=Path, help="output folder (GenoTEX output layout)")
    parser.add_argument("--cohort", action="append", dest="cohorts", help="only this cohort (repeatable)")
    parser.add_argument(
        "--method",
        choices=["moderated-t", "logistic", "genotex"],
        default=None,
        help="moderated-t (default, limma-style per-gene test), logistic, or genotex (GenoTEX's Lasso/LMM)",
    )
    parser.add_argument(
        "--select-by",
        choices=["cv", "known-genes"],
        default=None,
        help="genotex only: choose the penalty by cross-validated prediction (default) or by overlap "
        "with known trait genes (GenoTEX's own rule, for benchmark comparison only)",
    )
    parser.add_argument(
        "--symbol-policy",
        choices=["analyst", "genotex", "genotex-2024"],
        default=None,
        help="gene symbols and probe collapse: analyst (default: a measured current symbol keeps its values, "
        "only unambiguous aliases of unmeasured genes are renamed, probes averaged), genotex (GenoTEX's rule) or "
        "genotex-2024 (exact current symbols in the file's order; set by --genotex-version 2024)",
    )
    parser.add_argument(
        "--genotex-version",
        choices=["2024", "2025"],
        default=None,
        help="reproduce that year's GenoTEX code (its symbol rule, penalty grid and known-gene penalty "
        "rule; needs --task-info): 2024 made the first published gold outputs, 2025 is its current code "
        "(docs/statistics.md)",
    )
    parser.add_argument("--task-info", type=Path, default=None, help="GenoTEX task_info.json (known genes)")
    parser.add_argument(
        "--discover",
        action="store_true",
        help="find the trait's cohorts in GEO (NCBI E-utilities) and TCGA (UCSC Xena), download them into the "
        "cache and analyse them (offline: GENOTEAM_OFFLINE=1 answers from the cache)",
    )
    parser.add_argument("--max-cohorts", type=int, default=5, help="with --discover: at most N GEO series")
    parser.add_argument(
        "--synonym",
        action="append",
        default=[],
        help="with --discover: another name of the trait (repeatable)",
    )
    parser.add_argument("--cache", type=Path, default=None, help="with --discover: the download cache folder")


def analysis_input(
    args: argparse.Namespace, request: AnalysisRequest, judge=None
) -> tuple[Path, AnalysisRequest, object]:
    """The input folder and request to run: --input as given, or (--discover) the cache's
    GenoTEX-layout folder with the discovered cohorts, the request restricted to them, and the
    discovery record. `judge` decides about each candidate (default: the offline rules)."""
    if not args.discover:
        if args.input is None:
            raise GenoteamError(
                "no input folder", "pass --input DIR (a GenoTEX-layout folder), or --discover"
            )
        return args.input, request, None
    if args.input is not None:
        raise GenoteamError("--input and --discover exclude each other", "drop one of them")
    from genoteam.data.discovery import discover_for_question, restrict_to_discovered, task_synonyms
    from genoteam.data.overlay import env_offline

    found = discover_for_question(
        request.trait,
        request.condition,
        synonyms=[*args.synonym, *task_synonyms(args.task_info, request.trait)],
        max_cohorts=args.max_cohorts,
        cache_dir=args.cache,
        offline=env_offline(),
        progress=lambda message: print(message, flush=True),
        judge=judge,
    )
    wanted = restrict_to_discovered(request.cohorts, found)
    return found.input_dir, request.model_copy(update={"cohorts": wanted, "discover": True}), found


def request_from_args(args: argparse.Namespace) -> AnalysisRequest:
    try:
        return AnalysisRequest(
            trait=args.trait,
            condition=args.condition,
            cohorts=args.cohorts,
            **{
                name: value
                for name in ("method", "select_by", "symbol_policy", "genotex_version")
                if (value := getattr(args, name, None)) is not None
            },
        )
    except ValueError as error:
        raise GenoteamError(f"invalid request: {error}", "check --trait/--condition spelling") from error


def print_result(result, output: Path) -> int:
    """A short human summary on stdout and result.json beside the outputs; exit 0 only when answered."""
    output.mkdir(parents=True, exist_ok=True)
    # replaced, never written through: a link planted at the name is not followed
    atomic_write_text(output / "result.json", json.dumps(result.model_dump(), indent=2))
    print(f"status: {result.status} (method {result.method}, code ran in sandbox: {result.sandbox})")
    for outcome in result.cohorts:
        state = (
            "usable" if outcome.usable else ("FAILED: " + outcome.error if outcome.error else "not usable")
        )
        print(f"  {outcome.trait}/{outcome.cohort}: {state} (n={outcome.sample_size})")
    print(f"selected cohorts: {', '.join(result.selected_cohorts) or '-'}")
    print(f"significant genes: {len(result.significant_genes)}")
    if result.coefficient_unit:
        print(f"coefficient: {result.coefficient_unit}")
    if result.comparison:
        print(f"comparison: {result.comparison}")
    for hit in result.significant_genes[:10]:
        q = f" q={hit.q_value:.2e}" if hit.q_value is not None else ""
        print(f"  {hit.gene}\tcoef={hit.coefficient:+.3f}{q}")
    if result.message:
        print(result.message)
    print(f"outputs: {output}")
    return exit_code(result)


def exit_code(result) -> int:
    """0 when the question was answered (fully or partly), 3 for insufficient data, 4 when the
    model budget ran out (partial results), 1 for failure."""
    if result.status in ("complete", "partial", "preprocessed"):
        return 0
    return {"insufficient_data": 3, "budget_exhausted": 4}.get(result.status, 1)


def task_info_of(args: argparse.Namespace) -> Path | None:
    """--task-info, else GENOTEAM_TASK_INFO: read here, where the command starts (engines read no
    environment)."""
    found = args.task_info or EngineOptions.from_env().task_info
    return Path(found) if found else None


def _run(args: argparse.Namespace) -> int:
    # imported here: every `genoteam` command registers this parser, and only this one needs them
    from tqdm import tqdm

    from genoteam.pipeline.reference import run_reference

    input_dir, request, found = analysis_input(args, request_from_args(args))
    with tqdm(total=100, unit="%", desc="reference", disable=None) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message[:60])
            bar.update(max(0, round(fraction * 100) - bar.n))

        result = run_reference(request, input_dir, args.output, progress, task_info_of(args))
    from genoteam.data.discovery import with_discovery

    return print_result(with_discovery(result, args.output, found), args.output)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reference",
        help="the deterministic expert pipeline (toolkit only, one process)",
        description=__doc__,
    )
    add_analysis_arguments(parser)
    parser.set_defaults(func=_run)
