"""Can this server do its job: Docker reachable, sandbox image present, workspace writable, and
(when the server itself runs in a container) data and workspace visible to sibling sandboxes.

Why the mount check: a containerised server starts the sandboxes as sibling containers through
the host's engine, which resolves their bind mounts on the HOST. A folder mounted at another path
inside the server's container (`-v /data:/input`) or not mounted at all is invisible (or, worse,
an empty folder the engine creates) to the sandboxes, and every cohort would fail later with a
misleading "folder not found". So the server inspects its own container through the Docker API
at start and refuses such a layout, saying which mount to change.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from genoteam.toolkit.errors import GenoteamError

MOUNTINFO = Path("/proc/self/mountinfo")
_CONTAINER_IN_MOUNT = re.compile(r"/containers/([0-9a-f]{64})/(?:hostname|hosts|resolv\.conf)")


def own_container_id(mountinfo: Path = MOUNTINFO) -> str | None:
    """This process's container id when it runs in a Docker container, else None.

    Docker bind-mounts /etc/hostname from /var/lib/docker/containers/<id>/; when that cannot be
    read, a /.dockerenv plus the default hostname (the short id) is the fallback.
    """
    try:
        found = _CONTAINER_IN_MOUNT.search(mountinfo.read_text())
    except OSError:
        found = None
    if found:
        return found.group(1)
    if Path("/.dockerenv").exists():
        name = socket.gethostname()
        return name if re.fullmatch(r"[0-9a-f]{12,64}", name) else None
    return None


def _docker(timeout_s: int = 5) -> Any | None:
    try:
        import docker

        client = docker.from_env(timeout=timeout_s)
        client.ping()
        return client
    except Exception:  # no engine: the readiness check and the jobs say so
        return None


def mount_problems(paths: dict[str, Path], mounts: list[dict]) -> list[str]:
    """For each named path: why a sibling container would not see it at the same path (or nothing)."""
    problems = []
    for name, path in paths.items():
        resolved = Path(os.path.realpath(path))
        covering = [
            m
            for m in mounts
            if resolved == Path(m["Destination"]) or Path(m["Destination"]) in resolved.parents
        ]
        if not covering:
            problems.append(f"{name} {path} is not mounted from the host (it exists only in this container)")
            continue
        mount = max(covering, key=lambda m: len(m["Destination"]))
        if mount.get("Type") != "bind" or os.path.normpath(mount["Source"]) != os.path.normpath(
            mount["Destination"]
        ):
            problems.append(
                f"{name} {path} is mounted from the host's {mount['Source']} ({mount.get('Type')}) at "
                f"{mount['Destination']}: the sandboxes would look for {resolved} on the host"
            )
    return problems


def check_mount_layout(paths: dict[str, Path | None]) -> None:
    """Refuse to start when running in a container whose data/workspace sibling sandboxes cannot see."""
    container_id = own_container_id()
    if container_id is None:
        return  # on the host: every path the server hands to Docker is a host path
    client = _docker()
    if client is None:
        return  # no engine: no sandbox can start; jobs and /readyz say so
    try:
        attrs = client.api.inspect_container(container_id)
    except Exception as error:  # another engine's container (nested): we cannot tell, so say so
        print(
            f"genoteam: warning: running in container {container_id[:12]}, which the Docker engine does "
            f"not know ({type(error).__name__}); the mount layout is not checked",
            file=sys.stderr,
        )
        return
    named = {name: Path(path) for name, path in paths.items() if path is not None}
    problems = mount_problems(named, attrs.get("Mounts") or [])
    if problems:
        raise GenoteamError(
            "this server runs in a container and starts the analysis sandboxes as sibling containers, "
            "whose bind mounts the Docker engine resolves on the host; they could not see: "
            + "; ".join(problems),
            "mount the data and the workspace at the same absolute path inside as on the host and name that "
            "path: `-v /host/data:/host/data:ro -e GENOTEAM_INPUT=/host/data -v /host/ws:/host/ws "
            "-e GENOTEAM_WORKSPACE=/host/ws` (README, Docker variant)",
        )


def _writable(folder: Path) -> str:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-"):
            return ""
    except OSError as error:
        return f"the workspace is not writable ({error.strerror or error})"


def readiness(workspace: Path) -> dict[str, Any]:
    """{"ready": bool, "checks": {name: {"ok": bool, "detail": str}}}, without host paths."""
    checks: dict[str, dict[str, Any]] = {}
    client = _docker()
    checks["docker"] = {
        "ok": client is not None,
        "detail": "the engine answers" if client is not None else "no Docker engine answers: start Docker",
    }
    if client is not None:
        from genoteam.sandbox.image import find_image

        try:
            image = find_image(client)
            checks["sandbox_image"] = {"ok": True, "detail": (image.tags or [image.id])[0]}
        except GenoteamError as error:
            checks["sandbox_image"] = {"ok": False, "detail": f"{error.problem}; {error.hint}"}
    else:
        checks["sandbox_image"] = {"ok": False, "detail": "unknown: no Docker engine"}
    problem = _writable(workspace)
    checks["workspace"] = {"ok": not problem, "detail": problem or "writable"}
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}
