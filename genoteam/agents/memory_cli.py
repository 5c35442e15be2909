"""`genoteam memory list|forget`: see what code memory holds and drop learned code you distrust.

Why a command: learned code is replayed into later jobs of the same workspace (when the user opts
in with --prefer-learned, or where no shipped snippet exists), so a user must be able to see which
model and job wrote each entry, and remove it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genoteam.toolkit.errors import GenoteamError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("memory", help="list or forget entries of the team's code memory")
    actions = parser.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every snippet: origin, model, job, workspace, record")
    _memory_argument(listing)
    listing.add_argument("--learned", action="store_true", help="only code the team learned")
    listing.add_argument("--retired", action="store_true", help="include retired shipped versions")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)
    forget = actions.add_parser("forget", help="delete learned snippets (by id, job, model or all)")
    _memory_argument(forget)
    forget.add_argument("ids", nargs="*", type=int, help="snippet ids (see `genoteam memory list`)")
    forget.add_argument("--job", default=None, help="every snippet learned by this job id")
    forget.add_argument("--model", default=None, help="every snippet written by this model")
    forget.add_argument("--all-learned", action="store_true", help="every learned snippet")
    forget.set_defaults(func=_forget)


def _memory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory",
        type=Path,
        default=None,
        help="code memory file (default: <workspace>/code_memory.sqlite, as `genoteam run` uses)",
    )


def _open(args: argparse.Namespace):
    from genoteam.agents.memory import CodeMemory, default_memory_path

    path = args.memory or default_memory_path()
    if not Path(path).is_file():
        raise GenoteamError(f"code memory {path} does not exist", "pass --memory FILE, or run a job first")
    return CodeMemory(path)


def _list(args: argparse.Namespace) -> int:
    memory = _open(args)
    try:
        entries = [
            e for e in memory.entries(include_retired=args.retired) if not (args.learned and e.shipped)
        ]
        workspace = memory.workspace
    finally:
        memory.close()
    rows = [
        {
            "id": e.id,
            "role": e.role,
            "unit": e.unit,
            "origin": e.origin,
            "model": e.model,
            "job": e.job_id,
            "workspace": e.workspace,
            "reusable_here": e.shipped or e.workspace == workspace,
            "signature": e.signature.model_dump(),
            "passes": e.passes,
            "fails": e.fails,
            "uses": e.uses,
        }
        for e in entries
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{len(rows)} snippet(s); this workspace: {workspace}")
    for row in rows:
        sig = " ".join(f"{k}={v}" for k, v in row["signature"].items() if v != "*")
        who = (
            "shipped"
            if row["origin"] == "shipped"
            else f"{row['origin']} via {row['model'] or '?'}, job {row['job'] or '?'}"
        )
        where = "" if row["reusable_here"] else f" [other workspace: {row['workspace'] or 'unknown'}]"
        print(
            f"{row['id']:>5}  {row['role']}/{row['unit']}  {who}  {sig}  "
            f"passes={row['passes']} fails={row['fails']} uses={row['uses']}{where}"
        )
    return 0


def _forget(args: argparse.Namespace) -> int:
    if not (args.ids or args.job or args.model or args.all_learned):
        raise GenoteamError(
            "nothing to forget", "name snippet ids, --job JOB, --model MODEL or --all-learned"
        )
    memory = _open(args)
    try:
        ids = list(args.ids)
        for entry in memory.entries(include_retired=True):
            if entry.shipped or entry.id in ids:
                continue
            if (
                args.all_learned
                or (args.job and entry.job_id == args.job)
                or (args.model and entry.model == args.model)
            ):
                ids.append(entry.id)
        forgotten = memory.forget(ids) if ids else []
    finally:
        memory.close()
    print(
        f"forgot {len(forgotten)} snippet(s)" + (f": {', '.join(map(str, forgotten))}" if forgotten else "")
    )
    return 0
