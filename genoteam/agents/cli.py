"""`genoteam run`: the whole agent team on one trait, with a progress bar."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genoteam.toolkit.errors import GenoteamError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the agent team on a trait: preprocess cohorts, select, test; GenoTEX layout + provenance",
    )
    parser.add_argument(
        "--trait", required=True, help="trait name as in the input folder (e.g. Bile_Duct_Cancer)"
    )
    parser.add_argument("--condition", default=None, help="Age, Gender or another trait")
    parser.add_argument("--input", type=Path, required=True, help="GenoTEX-layout input folder (GEO/, TCGA/)")
    parser.add_argument(
        "--output", type=Path, required=True, help="output folder (GenoTEX layout, report, provenance)"
    )
    parser.add_argument("--cohort", action="append", default=None, help="only this cohort id (repeatable)")
    parser.add_argument(
        "--sandbox",
        choices=("auto", "docker", "local"),
        default="auto",
        help="where analysis code runs (auto: Docker when an engine answers)",
    )
    parser.add_argument("--method", choices=("moderated-t", "genotex"), default="moderated-t")
    parser.add_argument("--select-by", choices=("cv", "known-genes"), default="cv")
    parser.add_argument(
        "--task-info", type=Path, default=None, help="GenoTEX task_info.json (needed for two-step)"
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="team config (TOML): models per role, limits"
    )
    parser.add_argument("--guidelines", type=Path, default=None, help="your own guidelines folder")
    parser.add_argument(
        "--memory", type=Path, default=None, help="code memory file (default: under the workspace)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from genoteam.agents.engine import run_team
    from genoteam.agents.llm import load_team_config
    from genoteam.pipeline.api import AnalysisRequest

    try:
        request = AnalysisRequest(
            trait=args.trait,
            condition=args.condition,
            cohorts=args.cohort,
            method=args.method,
            select_by=args.select_by,
        )
    except ValueError as error:
        raise GenoteamError(
            f"invalid request: {error}", "trait and condition are names like Bile_Duct_Cancer"
        ) from None
    config = load_team_config(args.config)
    bar = tqdm(total=1000, unit="‰", desc=args.trait, bar_format="{l_bar}{bar}| {postfix}")

    def progress(fraction: float, message: str) -> None:
        bar.n = int(fraction * 1000)
        bar.set_postfix_str(message[:60])
        bar.refresh()

    try:
        result = run_team(
            request,
            args.input,
            args.output,
            progress,
            sandbox=args.sandbox,
            config=config,
            guidelines_dir=args.guidelines,
            memory_path=args.memory,
            task_info=args.task_info,
        )
    finally:
        bar.close()
    if args.json:
        print(json.dumps(result.model_dump(), indent=1))
    else:
        print(
            f"{result.status}: {len(result.significant_genes)} significant genes; cohorts used: "
            f"{', '.join(result.selected_cohorts) or 'none'}"
        )
        for outcome in result.cohorts:
            state = (
                "usable"
                if outcome.usable
                else ("FAILED: " + outcome.error if outcome.error else "not usable")
            )
            print(f"  {outcome.trait}/{outcome.cohort}: {state}")
        if result.message:
            print(result.message)
        print(
            f"report: {Path(args.output) / 'report.md'}; provenance: {Path(args.output) / 'provenance.json'}"
        )
    return 0 if result.status in ("complete", "partial", "insufficient_data") else 1
