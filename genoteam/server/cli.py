"""`genoteam serve` (the MCP server) and `genoteam smoke` (an end-to-end check through a real client).

Every flag of `serve` has a GENOTEAM_* variable (the flag wins), so MCP client configurations
can set everything, and secrets, through env.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from genoteam.server.config import ServerConfig, default_workspace, env


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        transport=args.transport,
        host=args.host,
        port=int(args.port),
        input_dir=Path(args.input).expanduser() if args.input else None,
        workspace=Path(args.workspace).expanduser(),
        token=args.token or None,
        engine=args.engine or None,
        max_workers=int(args.max_workers),
        default_wait_s=float(args.wait),
        allowed_hosts=[h.strip() for h in (args.allowed_hosts or "").split(",") if h.strip()],
        geo_base_url=args.geo_base_url or None,
        tools=args.tools,
    ).check()


def run_serve(args: argparse.Namespace) -> int:
    from genoteam.server.app import build_server
    from genoteam.server.health import check_mount_layout
    from genoteam.server.transports import serve

    config = config_from_args(args)
    check_mount_layout({"input folder": config.input_dir, "workspace": config.workspace})
    config.workspace.mkdir(parents=True, exist_ok=True)
    if config.geo_base_url:  # job workers inherit the environment, and fetch from there
        os.environ["GENOTEAM_GEO_BASE_URL"] = config.geo_base_url
    if args.job_deadline:  # read by each job's worker
        os.environ["GENOTEAM_JOB_DEADLINE_S"] = str(float(args.job_deadline))
    serve(build_server(config), config)
    return 0


def run_smoke(args: argparse.Namespace) -> int:
    from genoteam.server.smoke import smoke

    return smoke(
        input_dir=Path(args.input).expanduser() if args.input else None,
        trait=args.trait,
        workspace=Path(args.workspace).expanduser() if args.workspace else None,
        timeout_s=float(args.timeout),
        engine=args.engine or None,
    )


def run_image_build(args: argparse.Namespace) -> int:
    """Build the sandbox image, then (from a checkout) the server image, both from a local base."""
    from genoteam.sandbox import builder
    from genoteam.sandbox.docker_backend import docker_client
    from genoteam.sandbox.image import build_image, default_base
    from genoteam.server.image import build_server_image

    client = docker_client()
    base = args.base or default_base(client)
    ca = builder.ca_bundle(Path(args.ca_bundle) if args.ca_bundle else None)
    progress = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    tag, _image_id, built = build_image(client, base=base, progress=progress, ca=ca)
    print(f"sandbox image: {tag} and genoteam-sandbox:latest ({'built' if built else 'reused, unchanged'})")
    if not args.sandbox_only:
        server = build_server_image(client, base=base, progress=progress, ca=ca)
        print(f"server image: {server} and genoteam-server:latest")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    image = subparsers.add_parser(
        "image",
        help="build the sandbox and server images (skipped when unchanged)",
        description="Build the Docker images offline from a local base; each is skipped when its "
        "content-hash tag exists. Tags: :<content hash> and :latest.",
    )
    image_commands = image.add_subparsers(dest="image_command", metavar="IMAGE_COMMAND", required=True)
    build = image_commands.add_parser("build", help="build genoteam-sandbox and genoteam-server")
    build.add_argument(
        "--base",
        default=None,
        help="base image for both (default: $GENOTEAM_SANDBOX_BASE, else the newest local "
        "genoteam-sandbox-base from sandbox_image/build_base.sh, else python:3.11-slim)",
    )
    build.add_argument(
        "--ca-bundle", default=None, help="PEM bundle pip trusts in the builds (default: the host's)"
    )
    build.add_argument(
        "--sandbox-only",
        action="store_true",
        help="only the sandbox image (e.g. run inside the server image)",
    )
    build.add_argument("--quiet", action="store_true", help="print only the resulting tags")
    build.set_defaults(func=run_image_build)

    serve = subparsers.add_parser(
        "serve",
        help="run the MCP server (stdio by default)",
        description="Serve genoteam's tools over MCP. Each flag can also be set as GENOTEAM_<NAME>.",
    )
    serve.add_argument(
        "--transport", choices=["stdio", "http"], default=env("TRANSPORT", "stdio"), help="GENOTEAM_TRANSPORT"
    )
    serve.add_argument("--host", default=env("HOST", "127.0.0.1"), help="http bind address (GENOTEAM_HOST)")
    serve.add_argument(
        "--port", type=int, default=int(env("PORT", "8765") or 8765), help="http port (GENOTEAM_PORT)"
    )
    serve.add_argument("--input", default=env("INPUT"), help="GenoTEX-layout data folder (GENOTEAM_INPUT)")
    serve.add_argument(
        "--workspace",
        default=env("WORKSPACE", str(default_workspace())),
        help="jobs live here (GENOTEAM_WORKSPACE)",
    )
    serve.add_argument(
        "--token",
        default=env("TOKEN"),
        help="bearer token for http; prefer the env var GENOTEAM_TOKEN (args are visible)",
    )
    serve.add_argument(
        "--engine", default=env("ENGINE"), help="analysis engine: team or reference (GENOTEAM_ENGINE)"
    )
    serve.add_argument(
        "--max-workers", type=int, default=int(env("MAX_WORKERS", "2") or 2), help="GENOTEAM_MAX_WORKERS"
    )
    serve.add_argument(
        "--wait",
        type=float,
        default=float(env("WAIT", "20") or 20),
        help="default seconds a job tool waits (GENOTEAM_WAIT)",
    )
    serve.add_argument(
        "--allowed-hosts",
        default=env("ALLOWED_HOSTS"),
        help="extra Host header values, comma-separated (GENOTEAM_ALLOWED_HOSTS)",
    )
    serve.add_argument(
        "--geo-base-url",
        default=env("GEO_BASE_URL"),
        help="GEO mirror for series missing from --input (GENOTEAM_GEO_BASE_URL; default NCBI; "
        "GENOTEAM_OFFLINE=1 forbids downloads)",
    )
    serve.add_argument(
        "--job-deadline",
        type=float,
        default=env("JOB_DEADLINE_S"),
        help="seconds a job may run before it is stopped and recorded failed (GENOTEAM_JOB_DEADLINE_S; "
        "default 21600)",
    )
    serve.add_argument(
        "--tools",
        choices=("all", "analysis"),
        default=env("TOOLS", "all"),
        help="analysis: expose only list_traits, list_cohorts, analyze_trait, get_job and get_result "
        "(GENOTEAM_TOOLS)",
    )
    serve.set_defaults(func=run_serve)

    smoke = subparsers.add_parser(
        "smoke",
        help="end-to-end check: start the server over stdio, run one analysis, read the result",
        description="Offline smoke test for CI: non-zero exit on any failure.",
    )
    smoke.add_argument("--input", default=env("INPUT"), help="GenoTEX-layout data folder (GENOTEAM_INPUT)")
    smoke.add_argument(
        "--trait", default=None, help="trait to analyse (default: Bile_Duct_Cancer, else the first with data)"
    )
    smoke.add_argument("--workspace", default=None, help="workspace (default: a fresh temporary folder)")
    smoke.add_argument("--engine", default=env("ENGINE"), help="analysis engine (GENOTEAM_ENGINE)")
    smoke.add_argument(
        "--timeout", type=float, default=600.0, help="seconds before the analysis counts as failed"
    )
    smoke.set_defaults(func=run_smoke)
