"""Which executor runs a batch: `--cluster pool|local|auto|ray://HOST:PORT`.

- pool: the local process pool (genoteam/batch/pool.py), whether or not Ray is installed.
- local (default): a local Ray instance sized to this machine when Ray is importable; otherwise
  the process pool, after a message that says how to install the extra.
- auto, ray://HOST:PORT: an existing Ray cluster (auto: the one `ray start` made on this machine,
  or RAY_ADDRESS); without Ray that is an error, since no cluster can be reached.

The Ray executor lives in genoteam/batch/ray_executor.py (`RayExecutor(cluster, max_parallel)`),
imported only here and only when Ray is, so a batch never needs Ray installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from genoteam.batch.executor import Executor
from genoteam.batch.pool import LocalPoolExecutor
from genoteam.toolkit.errors import GenoteamError

INSTALL_RAY = "pip install 'genoteam[ray]' (Ray 2.x from PyPI)"


def check_cluster(cluster: str) -> str:
    if cluster in ("pool", "local", "auto") or cluster.startswith("ray://"):
        return cluster
    raise GenoteamError(
        f"--cluster {cluster!r} is not a cluster",
        "use pool, local (default), auto, or ray://HOST:PORT (a Ray client address)",
    )


def make_executor(cluster: str, max_parallel: int | None, say: Callable[[str], None]) -> Executor:
    """The executor for `cluster`; `say` tells the user when the choice differs from the request."""
    check_cluster(cluster)
    if cluster == "pool":
        return LocalPoolExecutor(max_parallel)
    if importlib.util.find_spec("ray") is None:
        if cluster == "local":
            say(f"Ray is not installed: running the batch on a local process pool. For Ray: {INSTALL_RAY}")
            return LocalPoolExecutor(max_parallel)
        raise GenoteamError(
            f"--cluster {cluster} needs Ray, which is not installed", f"{INSTALL_RAY}, or use --cluster pool"
        )
    from genoteam.batch.ray_executor import RayExecutor  # imports Ray: only when asked for

    return RayExecutor(cluster=cluster, max_parallel=max_parallel)
