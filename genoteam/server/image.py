"""Building the server image (the repository's Dockerfile) with a content-hash tag, never pulling.

Why here and not only `docker build .`: tests and CI need the image built from the current
sources, skipped when nothing changed, on machines without a registry (the base is the local one
sandbox_image/build_base.sh makes) and behind a proxy (the host's CA bundle goes into the build).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genoteam.sandbox.image import ca_bundle, default_base
from genoteam.toolkit.errors import GenoteamError

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_REPOSITORY = "genoteam-server"
CONTEXT_LABEL = "genoteam.server.context-hash"


def context_files(root: Path = REPO_ROOT) -> dict[str, bytes]:
    """Dockerfile, pyproject, README, the package and the guidelines: what the image is built from."""
    if not (root / "Dockerfile").is_file():
        raise GenoteamError(
            f"{root / 'Dockerfile'} is missing", "build the server image from a source checkout"
        )
    files = {name: (root / name).read_bytes() for name in ("Dockerfile", "pyproject.toml", "README.md")}
    for folder in ("genoteam", "guidelines"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}:
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _digest(files: dict[str, bytes], base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode() + b"\n")
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _tar(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in ("genoteam", "guidelines"):  # present even when empty: the Dockerfile copies them
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    buffer.seek(0)
    return buffer


def build_server_image(client: Any, base: str | None = None, progress: Callable[[str], None] = print) -> str:
    """Build the image unless its content-hash tag exists; return the tag."""
    import docker.errors

    base = base or default_base(client)
    try:
        base_id = client.images.get(base).id
    except docker.errors.ImageNotFound:
        base_id = f"unresolved:{base}"
    files = context_files()
    files["build-ca.crt"] = ca_bundle()
    context = _digest(files, base_id)
    tag = f"{IMAGE_REPOSITORY}:{context[:16]}"
    try:
        client.images.get(tag)
        progress(f"skipped: server image {tag} already exists")
        return tag
    except docker.errors.ImageNotFound:
        pass
    progress(f"building server image {tag} from base {base}")
    lines: list[str] = []
    for chunk in client.api.build(
        fileobj=_tar(files),
        custom_context=True,
        tag=tag,
        buildargs={"BASE_IMAGE": base, "CONTEXT_HASH": context},
        pull=False,
        rm=True,
        forcerm=True,
        decode=True,
        labels={CONTEXT_LABEL: context},
    ):
        if "error" in chunk:
            raise GenoteamError(
                f"building the server image failed: {chunk['error'].strip()}\n{''.join(lines[-15:])}",
                f"check that the base image {base} is local (sandbox_image/build_base.sh) and PyPI is reachable",
            )
        lines.append(chunk.get("stream", ""))
    return tag
