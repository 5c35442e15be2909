"""The server image (the repository's Dockerfile): its build context, built by the shared builder.

Why here and not only `docker build .`: tests, CI and `genoteam image build` need the image built
from the current sources, skipped when nothing changed, on machines without a registry (the base
is the local one sandbox_image/build_base.sh makes) and behind a proxy (the CA bundle goes into
the build). The image installs genoteam from these sources, so it carries the shipped
sandbox_image/ folder and can build or find the sandbox image itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from genoteam.sandbox import builder
from genoteam.shipped import checkout_root
from genoteam.toolkit.errors import GenoteamError

IMAGE_REPOSITORY = "genoteam-server"
CONTEXT_LABEL = "genoteam.server.context-hash"
TOP_FILES = ("Dockerfile", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
FOLDERS = ("genoteam", "guidelines", "sandbox_image")


def source_root(root: Path | None = None) -> Path:
    """The checkout the server image is built from: `root`, else the one this package runs from."""
    found = root or checkout_root()
    if found is None or not (Path(found) / "Dockerfile").is_file():
        raise GenoteamError(
            f"the server image is built from a genoteam source checkout, and {found or 'this installed copy'} "
            "is none",
            "run `genoteam image build` in a checkout (or `docker build -t genoteam-server .` there)",
        )
    return Path(found)


def context_files(root: Path | None = None) -> dict[str, bytes]:
    """The top files, the package, the guidelines and sandbox_image/: what the image is built from."""
    root = source_root(root)
    files = {name: (root / name).read_bytes() for name in TOP_FILES}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and "_shipped" not in path.parts
                and path.suffix not in {".pyc", ".pyo"}
            ):
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def recipe(root: Path | None = None) -> builder.Recipe:
    return builder.Recipe(
        what="server image",
        repository=IMAGE_REPOSITORY,
        label=CONTEXT_LABEL,
        files=context_files(root),
        folders=FOLDERS,
    )


def build_server_image(
    client: Any,
    base: str | None = None,
    progress: Callable[[str], None] = print,
    ca: bytes | None = None,
    root: Path | None = None,
) -> str:
    """Build the image unless its content-hash tag exists (tagging `:latest` too); return the tag."""
    from genoteam.sandbox.image import default_base

    chosen = base or default_base(client)
    built = builder.build(client, recipe(root), chosen, builder.ca_bundle() if ca is None else ca, progress)
    return built.tag
