"""Reaching Ray for a batch: start a local instance, or connect to a running cluster; end cleanly.

`--cluster local` starts a Ray instance sized to this machine (its CPUs; Ray's memory resource
from the free memory), listening on 127.0.0.1 only, dashboard off, in a temp dir of its own, and
stops it when the batch ends. `--cluster auto` connects to the cluster `ray start` made on this
machine (or RAY_ADDRESS), `--cluster ray://HOST:PORT` through Ray Client; both only disconnect at
the end.

Why the environment is set before Ray is imported: Ray reads it once, at import. On Linux Ray
turns a loopback address (127.0.0.1, localhost) into the machine's outward address unless
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0; with it a local instance and a loopback cluster stay on
127.0.0.1. It is set only for those: a driver of a real cluster must be reachable at its node's
address. Ray's usage statistics (a report sent to the internet) are always off.

A local instance requires Ray's token authentication with a fresh token of its own, handed to
its processes in the environment (so Ray neither writes one into ~/.ray nor picks up another
cluster's from there); a running cluster's token is the user's business (RAY_AUTH_TOKEN, docs/scale.md).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from genoteam.toolkit.errors import GenoteamError

LOOPBACK = "127.0.0.1"
LOCAL_OBJECT_STORE_BYTES = 256 << 20  # tasks pass small JSON payloads and outcomes, never tables
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
RAY_ENV_ALWAYS = {"RAY_USAGE_STATS_ENABLED": "0"}
RAY_ENV_LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@dataclass
class ClusterInfo:
    """What the batch records of the cluster it ran on."""

    kind: str  # local | auto | client
    address: str
    nodes: dict[str, dict[str, float]] = field(default_factory=dict)  # node id -> total resources

    def describe(self) -> str:
        cpus = sum(r.get("CPU", 0.0) for r in self.nodes.values())
        where = "a local Ray instance" if self.kind == "local" else f"the Ray cluster at {self.address}"
        return f"{where}: {len(self.nodes)} node(s), {cpus:g} CPU(s)"


def target_address(cluster: str) -> str:
    """The address `cluster` names: "" for local, RAY_ADDRESS (or "auto") for auto."""
    if cluster == "local":
        return ""
    if cluster == "auto":
        return os.environ.get("RAY_ADDRESS", "auto")
    if cluster.startswith("ray://"):
        return cluster
    raise GenoteamError(f"--cluster {cluster!r} is not a Ray cluster", "use local, auto or ray://HOST:PORT")


def is_loopback(address: str) -> bool:
    """Whether a Ray address (host:port or ray://host:port) names this machine's loopback."""
    if not address or address == "auto":
        return False
    host = urlsplit(address if "://" in address else f"gcs://{address}").hostname or ""
    return host in LOOPBACK_HOSTS


def _prepare_environment(address: str, local: bool) -> None:
    os.environ.update(RAY_ENV_ALWAYS)
    if local or is_loopback(address):
        os.environ.update(RAY_ENV_LOOPBACK)
    if local and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def alive_nodes() -> dict[str, dict[str, float]]:
    """Node id -> total resources of every node Ray reports alive."""
    import ray

    return {n["NodeID"]: dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")}


@contextmanager
def connected(cluster: str) -> Iterator[ClusterInfo]:
    """Ray initialised for `cluster` (module docstring) while the block runs."""
    address = target_address(cluster)
    local = cluster == "local"
    _prepare_environment(address, local)
    import ray

    if ray.is_initialized():
        raise GenoteamError(
            "Ray is already initialised in this process",
            "run the batch from its own process (genoteam batch)",
        )
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": "warning", "include_dashboard": False}
    temp_dir: Path | None = None
    if local:
        temp_dir = Path(tempfile.mkdtemp(prefix="genoteam-ray-"))
        options.update(
            num_cpus=os.cpu_count() or 1,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            _node_ip_address=LOOPBACK,
            _temp_dir=str(temp_dir),
        )
    elif address.startswith("ray://"):
        options = {"logging_level": "warning"}  # Ray Client takes no node options
    elif is_loopback(address):
        options["_node_ip_address"] = LOOPBACK
    try:
        # "local" even when RAY_ADDRESS is set: --cluster local means a new instance of our own
        ray.init(address="local" if local else address, **options)
    except Exception as error:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        hint = (
            "check that this machine can start Ray (free memory, /dev/shm, /tmp)"
            if local
            else "start the cluster first (`ray start --head ...`, docs/scale.md) or pass its address"
        )
        raise GenoteamError(
            f"could not reach Ray for --cluster {cluster} ({type(error).__name__}: {error})", hint
        ) from error
    info = ClusterInfo(kind="local" if local else ("client" if "://" in address else "auto"), address=address)
    try:
        info.nodes = alive_nodes()
        yield info
    finally:
        ray.shutdown()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
            _remove_slot_folders(info.nodes)


def _remove_slot_folders(nodes: dict[str, dict[str, float]]) -> None:
    """A local instance's nodes never come back (each run is a new node id): their sandbox slot
    folders (lock files only) go with them instead of piling up in the temp folder."""
    from genoteam.sandbox.pool import SLOTS_DIR_ENV, node_pool_env

    for node, resources in nodes.items():
        shutil.rmtree(node_pool_env(node, resources.get("CPU", 1.0))[SLOTS_DIR_ENV], ignore_errors=True)
