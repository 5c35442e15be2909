"""`genoteam run`: the whole agent team on one trait, with a progress bar."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genoteam.agents.llm import AUTHORING_MODES
from genoteam.pipeline.api import EngineOptions
from genoteam.pipeline.cli import (
    add_analysis_arguments,
    analysis_input,
    exit_code,
    print_result,
    request_from_args,
    task_info_of,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the agent team on a trait: preprocess cohorts, select, test; GenoTEX layout + provenance",
    )
    add_analysis_arguments(parser)
    parser.add_argument(
        "--sandbox",
        choices=("auto", "docker", "local"),
        default=None,
        help="where analysis code runs (default: GENOTEAM_SANDBOX, else auto: Docker when an engine answers)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="team config (TOML): models per role, limits"
    )
    parser.add_argument("--guidelines", type=Path, default=None, help="your own guidelines folder")
    parser.add_argument(
        "--memory", type=Path, default=None, help="code memory file (default: under the workspace)"
    )
    parser.add_argument(
        "--authoring",
        choices=AUTHORING_MODES,
        default=None,
        help="who writes each unit's code. shipped (default): code memory first, models where it fails; "
        "model-first: the configured models write every unit, shipped snippets are only prompt examples "
        "(overrides [team] authoring)",
    )
    parser.add_argument(
        "--prefer-learned",
        action="store_true",
        default=None,
        help="reuse code the team learned in this workspace before the shipped snippets (opt-in)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from genoteam.agents.engine import run_team
    from genoteam.agents.llm import load_team_config

    config = load_team_config(args.config)
    judge = None
    if args.discover:  # with a PI model, the model decides and the rules review
        from genoteam.agents.cohort_judge import configured_judge

        judge = configured_judge(config)
    input_dir, request, found = analysis_input(args, request_from_args(args), judge)
    bar = tqdm(total=1000, unit="‰", desc=args.trait, bar_format="{l_bar}{bar}| {postfix}")

    def progress(fraction: float, message: str) -> None:
        bar.n = int(fraction * 1000)
        bar.set_postfix_str(message[:60])
        bar.refresh()

    options = EngineOptions.from_env()  # read here, where the command starts; the flags win
    try:
        result = run_team(
            request,
            input_dir,
            args.output,
            progress,
            sandbox=args.sandbox or options.sandbox,
            sandbox_image=options.sandbox_image,
            config=config,
            guidelines_dir=args.guidelines,
            memory_path=args.memory,
            task_info=task_info_of(args),
            authoring=args.authoring,
            prefer_learned=args.prefer_learned,
        )
    finally:
        bar.close()
    from genoteam.data.discovery import with_discovery

    result = with_discovery(result, Path(args.output), found)
    if args.json:
        print(json.dumps(result.model_dump(), indent=1))
        return exit_code(result)
    code = print_result(result, Path(args.output))
    print(f"report: {Path(args.output) / 'report.md'}; provenance: {Path(args.output) / 'provenance.json'}")
    return code
