"""`genoteam sandbox build|run|cleanup`: build the image, run one script in a fresh session."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from genoteam.toolkit.errors import GenoteamError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="build the sandbox image, run a script in a sandbox")
    commands = parser.add_subparsers(dest="sandbox_command", metavar="SANDBOX_COMMAND", required=True)

    build = commands.add_parser(
        "build", help="build the sandbox image (skipped when its content-hash tag exists)"
    )
    build.add_argument(
        "--base",
        default=None,
        help="base image (default: $GENOTEAM_SANDBOX_BASE, else the newest local "
        "genoteam-sandbox-base built by sandbox_image/build_base.sh, else python:3.11-slim)",
    )
    build.add_argument("--pip-index-url", default=None, help="package index for the image's pinned packages")
    build.add_argument("--quiet", action="store_true", help="print only the tag and digest")
    build.set_defaults(func=_build)

    run = commands.add_parser(
        "run", help="run one script in a fresh hardened session; print the result as JSON"
    )
    run.add_argument("file", type=Path, help="the Python script to run")
    run.add_argument("--timeout", type=float, default=600.0, help="seconds before the script is killed (600)")
    run.add_argument("--memory", default="4g", help="memory limit, e.g. 512m or 4g (4g)")
    run.add_argument(
        "--input", type=Path, action="append", default=[], help="folder mounted read-only (repeatable)"
    )
    run.add_argument("--work", type=Path, default=None, help="work folder (default: a new temporary folder)")
    run.add_argument("--backend", choices=("auto", "docker", "local"), default="auto")
    run.set_defaults(func=_run)

    cleanup = commands.add_parser("cleanup", help="remove sandbox containers whose owner process is gone")
    cleanup.set_defaults(func=_cleanup)


def main(argv: list[str] | None = None) -> int:
    """`python3 -m genoteam.sandbox.cli build|run|cleanup`: the same commands without the other modules."""
    parser = argparse.ArgumentParser(prog="genoteam")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except GenoteamError as error:
        print(f"genoteam sandbox: error: {error.problem}", file=sys.stderr)
        if error.hint:
            print(f"genoteam sandbox: what to do: {error.hint}", file=sys.stderr)
        return 1


def _build(args: argparse.Namespace) -> int:
    from genoteam.sandbox.docker_backend import docker_client
    from genoteam.sandbox.image import build_image, default_base

    client = docker_client()
    base = args.base or default_base(client)

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    tag, image_id, _built = build_image(
        client, base=base, progress=progress, pip_index_url=args.pip_index_url
    )
    print(f"tag: {tag}")
    print(f"digest: {image_id}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from genoteam.sandbox.api import SandboxLimits, SessionSpec
    from genoteam.sandbox.factory import open_session

    if not args.file.is_file():
        raise GenoteamError(f"{args.file} is not a file", "pass the path of a Python script")
    code = args.file.read_text(encoding="utf-8")
    inputs = {}
    for folder in args.input:
        name = folder.resolve().name or "input"
        if name in inputs:
            raise GenoteamError(f"two input folders are named {name!r}", "pass folders with different names")
        inputs[name] = folder.resolve()
    with tempfile.TemporaryDirectory(prefix="genoteam-sandbox-run-") as temporary:
        work = args.work.resolve() if args.work else Path(temporary)
        limits = SandboxLimits(memory=args.memory, cell_timeout_s=args.timeout)
        spec = SessionSpec(task_id="sandbox-run", work_dir=work, input_dirs=inputs, limits=limits)
        with open_session(spec, backend=args.backend) as session:
            result = session.run_cell(code)
            report = {
                "backend": session.backend,
                "work_path": session.work_path,
                "input_mounts": session.input_mounts,
            }
            report.update(result.to_dict())
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if result.ok else 1


def _cleanup(_args: argparse.Namespace) -> int:
    from genoteam.sandbox.docker_backend import docker_client
    from genoteam.sandbox.lifecycle import remove_leftovers

    removed = remove_leftovers(docker_client())
    print(
        f"removed {len(removed)} leftover sandbox container(s){': ' + ', '.join(removed) if removed else ''}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
