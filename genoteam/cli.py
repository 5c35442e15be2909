"""The `genoteam` command line: one sub-command per module, each registered by that module.

A module listed in COMMAND_MODULES exposes `register(subparsers)`, which adds its parser and
sets `func` (called with the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from genoteam import __version__
from genoteam.toolkit.errors import GenoteamError

COMMAND_MODULES: list[str] = [
    "genoteam.pipeline.cli",
    "genoteam.sandbox.cli",
    "genoteam.evaluation.cli",
    "genoteam.synthetic_cli",
    "genoteam.server.cli",
    "genoteam.data.cli",
    "genoteam.agents.cli",
    "genoteam.agents.memory_cli",
    "genoteam.batch.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genoteam", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"genoteam {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GenoteamError as error:
        print(f"genoteam: error: {error.problem}", file=sys.stderr)
        if error.hint:
            print(f"genoteam: what to do: {error.hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
