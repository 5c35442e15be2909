"""The server's settings: every `genoteam serve` flag also comes from a GENOTEAM_* variable.

Why env as well as flags: MCP clients (Claude Desktop, Biomni, Docker) start the server from a
config file; secrets such as the bearer token belong in env there, never in args (which other
users of the machine can read from the process list).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from genoteam.pipeline.api import EngineOptions
from genoteam.server.params import DEFAULT_WAIT_S, MAX_WAIT_S
from genoteam.toolkit.errors import GenoteamError

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def default_workspace() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "genoteam" / "workspace"


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    input_dir: Path | None = None
    workspace: Path = field(default_factory=default_workspace)
    token: str | None = None
    engine: str | None = None  # None: the registry's default (team, else reference)
    max_workers: int = 2
    default_wait_s: float = DEFAULT_WAIT_S
    allowed_hosts: list[str] = field(default_factory=list)  # extra Host header values (http)
    geo_base_url: str | None = None  # where missing GEO series are downloaded from (None: NCBI)
    tools: Literal["all", "analysis"] = (
        "all"  # analysis: only the tools a question needs (app.ANALYSIS_TOOLS)
    )
    # how jobs run (sandbox, image, task file): read from GENOTEAM_* once, carried in each job spec
    engine_options: EngineOptions = field(default_factory=EngineOptions.from_env)

    def check(self) -> ServerConfig:
        """Refuse unsafe or impossible settings with what to do instead."""
        if self.transport not in {"stdio", "http"}:
            raise GenoteamError(f"unknown transport {self.transport!r}", "use --transport stdio or http")
        if self.transport == "http" and not is_loopback(self.host) and not self.token:
            raise GenoteamError(
                f"binding to {self.host} (not loopback) without a bearer token would let anyone on the network run jobs",
                "set GENOTEAM_TOKEN (or --token) to a long random secret, or bind to 127.0.0.1",
            )
        if self.token is not None and len(self.token) < 16:
            raise GenoteamError(
                "the bearer token is shorter than 16 characters", "use e.g. `openssl rand -hex 32`"
            )
        if not 0 < self.port < 65536:
            raise GenoteamError(f"port {self.port} is out of range", "use a port between 1 and 65535")
        if not 0 <= self.default_wait_s <= MAX_WAIT_S:
            raise GenoteamError(
                f"default wait {self.default_wait_s}s is not in 0-{MAX_WAIT_S:g}s", "lower it"
            )
        if self.tools not in {"all", "analysis"}:
            raise GenoteamError(f"unknown tool set {self.tools!r}", "use --tools all or --tools analysis")
        if self.max_workers < 1:
            raise GenoteamError("max workers must be at least 1", "set GENOTEAM_MAX_WORKERS to 1 or more")
        if self.input_dir is not None and not self.input_dir.is_dir():
            raise GenoteamError(
                f"the input folder {self.input_dir} does not exist",
                "pass --input DIR with GEO/ and TCGA/ inside",
            )
        if self.geo_base_url is not None and not self.geo_base_url.startswith(("http://", "https://")):
            raise GenoteamError(
                f"GEO base URL {self.geo_base_url!r} is not http(s)",
                "pass --geo-base-url https://... (a mirror of GEO's /geo/ tree), or leave it unset for NCBI",
            )
        return self


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"GENOTEAM_{name}")
    return value if value not in (None, "") else default
