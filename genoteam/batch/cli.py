"""`genoteam batch`: every question of a GenoTEX task file as one resumable batch, with a live
progress bar on stderr and a summary (docs/batch.md).

Exit codes: 0 every question has an outcome and no task failed (answered or insufficient data);
1 a task failed or a question is partial (the summary names each with its reason; --resume
runs them again), or an error stopped the batch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genoteam.toolkit.errors import GenoteamError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="answer every question of a GenoTEX task file as one resumable batch (local pool or Ray)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--task-info", required=True, type=Path, help="GenoTEX task_info.json (traits, conditions)"
    )
    parser.add_argument("--input", required=True, type=Path, help="GenoTEX-layout input folder (GEO/, TCGA/)")
    parser.add_argument("--output", required=True, type=Path, help="the batch folder (new, or with --resume)")
    parser.add_argument(
        "--questions",
        default=None,
        metavar="FILTER",
        help="only these questions: comma-separated TRAIT or TRAIT:CONDITION, wildcards allowed, None for "
        "no condition (e.g. 'Bile_Duct_Cancer,*:Age')",
    )
    parser.add_argument(
        "--engine", choices=("team", "reference"), default="team", help="who answers (default: team)"
    )
    parser.add_argument(
        "--cluster",
        default="local",
        help="pool (local process pool), local (default: a local Ray instance when Ray is installed, else the "
        "pool), auto (the running Ray cluster) or ray://HOST:PORT",
    )
    parser.add_argument("--max-parallel", type=int, default=None, metavar="N", help="at most N tasks at once")
    parser.add_argument(
        "--resume", action="store_true", help="continue the batch in --output: finished tasks are kept"
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        metavar="DIR",
        help="score the batch against this GenoTEX output folder",
    )
    parser.add_argument("--method", choices=("moderated-t", "logistic", "genotex"), default="moderated-t")
    parser.add_argument("--select-by", choices=("cv", "known-genes"), default="cv")
    parser.add_argument("--genotex-version", choices=("2024", "2025"), default=None)
    parser.add_argument(
        "--sandbox",
        choices=("auto", "docker", "local"),
        default=None,
        help="team: where analysis code runs (default: $GENOTEAM_SANDBOX, else auto)",
    )
    parser.set_defaults(func=_run)


class ProgressBar:
    """tasks done / running / failed and the ETA on stderr (tqdm, as `genoteam run` shows), and
    one line per failed task so a reason is seen as it happens."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, counts, event, task) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=counts.total - counts.skipped,
                desc="batch: starting",
                unit="task",
                file=sys.stderr,
                disable=False,
                dynamic_ncols=True,
                mininterval=0.5,
                bar_format="{desc} |{bar}| {n_fmt}/{total_fmt} tasks [{elapsed} elapsed, ETA {remaining}]",
            )
        if event.kind == "finished":
            self.bar.update(1)
            if event.outcome.status == "failed":
                self.bar.write(f"failed: {task.label}: {event.outcome.reason[:300]}", file=sys.stderr)
        elif event.kind == "rescheduled":
            where = f" on node {event.node}" if event.node else ""
            self.bar.write(f"rescheduled: {task.label}: lost{where} ({event.reason[:300]})", file=sys.stderr)
        self.bar.set_description_str(
            f"batch: done {counts.done} · running {len(counts.running)} · failed {counts.failed}",
            refresh=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _preflight(args: argparse.Namespace, sandbox: str) -> None:
    """Errors a batch would otherwise meet in every task: say them once, before any work. The
    sandbox is checked here only when the tasks run on this machine (on a cluster, each node's
    Docker is checked by the tasks it runs; the driver's machine may have none)."""
    if args.max_parallel is not None and args.max_parallel < 1:
        raise GenoteamError(f"--max-parallel {args.max_parallel}", "give a whole number >= 1")
    if args.engine == "team" and args.cluster in ("pool", "local"):
        from genoteam.agents.llm import load_team_config
        from genoteam.sandbox.factory import resolve_backend

        resolve_backend(sandbox, model_code=not load_team_config().all_offline())


def _run(args: argparse.Namespace) -> int:
    from genoteam.batch.executors import check_cluster, make_executor
    from genoteam.batch.plan import BatchOptions
    from genoteam.batch.runner import run_batch
    from genoteam.batch.summary import complete_without_failure, format_summary
    from genoteam.pipeline.api import EngineOptions

    check_cluster(args.cluster)
    engine_options = EngineOptions.from_env()  # read here, where the command starts; the flags win
    sandbox = args.sandbox or engine_options.sandbox
    _preflight(args, sandbox)
    options = BatchOptions(
        engine=args.engine,
        method=args.method,
        select_by=args.select_by,
        genotex_version=args.genotex_version,
        sandbox=sandbox,
        sandbox_image=engine_options.sandbox_image,
    )
    executor = make_executor(args.cluster, args.max_parallel, lambda message: print(message, file=sys.stderr))
    bar = ProgressBar()
    try:
        summary = run_batch(
            args.task_info,
            args.input,
            args.output,
            executor,
            options,
            questions=args.questions,
            resume=args.resume,
            reference=args.reference,
            progress=bar,
        )
    except KeyboardInterrupt:
        print(
            f"genoteam: interrupted; the finished tasks are kept: run the same command with --resume "
            f"({args.output}/summary.json says what was done)",
            file=sys.stderr,
        )
        return 130
    finally:
        bar.close()
    print(format_summary(summary))
    return 0 if complete_without_failure(summary) else 1
