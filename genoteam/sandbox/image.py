"""The sandbox image: its build context, its content-hash tag, building it and finding it.

Why a content hash: the image must hold the same toolkit as the host. The context hash covers
the Dockerfile, pinned requirements, kernel and toolkit sources; it is stored as an image label,
and sessions use only an image whose label matches the current sources, so a stale image is
never used silently. Building, tags (`:<hash>` and `:latest`) and the CA bundle are the shared
builder's (sandbox/builder.py); the Dockerfile comes from the shipped sandbox_image/ folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genoteam.sandbox import builder
from genoteam.shipped import package_root, shipped_dir
from genoteam.toolkit.errors import GenoteamError

IMAGE_REPOSITORY = "genoteam-sandbox"
CONTEXT_LABEL = "genoteam.sandbox.context-hash"
DEFAULT_BASE = "python:3.11-slim"
LOCAL_BASE_REPOSITORY = "genoteam-sandbox-base"  # what sandbox_image/build_base.sh makes
# The package marker in the image: the toolkit is importable as genoteam.toolkit, nothing else is.
IMAGE_PACKAGE_INIT = b'"""genoteam inside the sandbox image: only the toolkit is installed here."""\n'
# The kinds of toolkit files an installed genoteam has too (pyproject's package data), so the
# hash is the same from a checkout and from an installed copy (e.g. inside the server image).
TOOLKIT_SUFFIXES = (".py", ".tsv.gz", ".json", ".md", ".yaml")
ca_bundle = builder.ca_bundle


def _toolkit_files(package: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted((package / "toolkit").rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or not path.name.endswith(TOOLKIT_SUFFIXES):
            continue
        files[f"genoteam/{path.relative_to(package).as_posix()}"] = path.read_bytes()
    return files


def context_files() -> dict[str, bytes]:
    """Every file of the build context except the CA bundle, by its path in the context."""
    image_dir = shipped_dir("sandbox_image")
    if not (image_dir / "Dockerfile").is_file():
        raise GenoteamError(
            f"{image_dir / 'Dockerfile'} is missing",
            "point GENOTEAM_SANDBOX_IMAGE_DIR at a sandbox_image folder (or unset it to use the shipped one), "
            "or GENOTEAM_SANDBOX_IMAGE at a built image",
        )
    package = package_root()
    files = {
        "Dockerfile": (image_dir / "Dockerfile").read_bytes(),
        "requirements.txt": (image_dir / "requirements.txt").read_bytes(),
        "kernel.py": (package / "sandbox" / "kernel.py").read_bytes(),
        "genoteam/__init__.py": IMAGE_PACKAGE_INIT,
    }
    files.update(_toolkit_files(package))
    return files


def recipe(pip_index_url: str | None = None) -> builder.Recipe:
    return builder.Recipe(
        what="sandbox image",
        repository=IMAGE_REPOSITORY,
        label=CONTEXT_LABEL,
        files=context_files(),
        buildargs={"PIP_INDEX_URL": pip_index_url} if pip_index_url else {},
    )


def context_hash() -> str:
    """Hash of the sources that decide what the image does (not how it was fetched)."""
    return builder.digest(context_files())


def image_tag(base_id: str, ca: bytes, context: str | None = None) -> str:
    return builder.content_tag(IMAGE_REPOSITORY, context or context_hash(), base_id, ca)


def default_base(client: Any) -> str:
    """$GENOTEAM_SANDBOX_BASE; else the newest locally built base (no registry needed); else python:3.11-slim."""
    configured = os.environ.get("GENOTEAM_SANDBOX_BASE")
    if configured:
        return configured
    local = [image for image in client.images.list(name=LOCAL_BASE_REPOSITORY) if image.tags]
    if local:
        newest = max(local, key=lambda image: image.attrs.get("Created", ""))
        return newest.tags[0]
    return DEFAULT_BASE


def find_image(client: Any) -> Any:
    """The newest local image built from the current sources (or GENOTEAM_SANDBOX_IMAGE)."""
    import docker.errors

    override = os.environ.get("GENOTEAM_SANDBOX_IMAGE")
    if override:
        try:
            return client.images.get(override)
        except docker.errors.ImageNotFound as error:
            raise GenoteamError(
                f"GENOTEAM_SANDBOX_IMAGE names {override}, which the Docker engine does not have",
                "build it with `genoteam image build`, or unset GENOTEAM_SANDBOX_IMAGE",
            ) from error
    current = recipe()
    image = builder.find_current(client, current)
    if image is None:
        raise GenoteamError(
            f"no sandbox image is built from the current sources (context hash {current.context_hash[:16]})",
            "run `genoteam image build` (or `genoteam sandbox build`; in the server image: "
            "`docker run --rm -v /var/run/docker.sock:/var/run/docker.sock genoteam-server image build`); "
            "it is needed after every toolkit change",
        )
    return image


def build_image(
    client: Any,
    base: str = DEFAULT_BASE,
    progress: Callable[[str], None] = print,
    pip_index_url: str | None = None,
    ca: bytes | None = None,
) -> tuple[str, str, bool]:
    """Build the sandbox image unless its content-hash tag exists; return (tag, image id, built)."""
    built = builder.build(
        client, recipe(pip_index_url), base, ca_bundle() if ca is None else ca, progress=progress
    )
    return built.tag, built.image_id, built.built


def ensure_image(client: Any, progress: Callable[[str], None] = print) -> Any:
    """The image for the current sources, building it (from `default_base`) when missing.

    For tests and benchmarks: after a toolkit edit only the last layers are rebuilt (seconds).
    """
    try:
        return find_image(client)
    except GenoteamError:
        if os.environ.get("GENOTEAM_SANDBOX_IMAGE"):
            raise
    tag, _image_id, _built = build_image(client, base=default_base(client), progress=progress)
    return client.images.get(tag)
