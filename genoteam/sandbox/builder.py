"""The one image builder: a build context as bytes, a content-hash tag, `:latest`, never pulling.

Used by the sandbox image (sandbox/image.py) and the server image (server/image.py). Why a
content hash: an image must hold the sources it claims to. The context hash (every file except
the CA bundle) is stored as an image label, so a stale image is never used silently; the tag adds
the base image id and the CA bundle, so a build is skipped exactly when nothing that went into it
changed. `:latest` follows the last image built (or found) from the current sources, so
`docker run genoteam-server` names what `genoteam image build` made.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoteam.toolkit.errors import GenoteamError

CA_FILE = "build-ca.crt"  # the name both Dockerfiles read the builder's CA bundle from
CA_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
LATEST = "latest"


@dataclass(frozen=True)
class Recipe:
    """What one image is built from."""

    what: str  # "sandbox image" / "server image", for messages
    repository: str  # image name without tag
    label: str  # the label holding the context hash
    files: dict[str, bytes]  # path in the build context -> content (no CA bundle)
    folders: tuple[str, ...] = ()  # folders present even when empty (the Dockerfile copies them)
    buildargs: dict[str, str] = field(default_factory=dict)

    @property
    def context_hash(self) -> str:
        return digest(self.files)


@dataclass(frozen=True)
class Built:
    tag: str
    image_id: str
    built: bool  # False: the content-hash tag existed already


def digest(files: dict[str, bytes]) -> str:
    """Hash of the context's names and contents (what decides what the image does)."""
    combined = hashlib.sha256()
    for name in sorted(files):
        combined.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return combined.hexdigest()


def content_tag(repository: str, context: str, base_id: str, ca: bytes) -> str:
    combined = hashlib.sha256(f"{context}\n{base_id}\n".encode() + hashlib.sha256(ca).digest())
    return f"{repository}:{combined.hexdigest()[:16]}"


def ca_bundle(path: Path | None = None) -> bytes:
    """The CA bundle pip trusts in the build: `path`, $GENOTEAM_SANDBOX_CA_BUNDLE, else the host's."""
    if path is not None:
        if not Path(path).is_file():
            raise GenoteamError(f"CA bundle {path} does not exist", "pass --ca-bundle a PEM file, or omit it")
        return Path(path).read_bytes()
    configured = os.environ.get("GENOTEAM_SANDBOX_CA_BUNDLE")
    for candidate in ([configured] if configured else []) + list(CA_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    return b""


def base_id(client: Any, base: str) -> str:
    """The base image's id when it is local; else its name (the engine will fetch it)."""
    import docker.errors

    try:
        return client.images.get(base).id
    except docker.errors.ImageNotFound:
        return f"unresolved:{base}"


def _tar(files: dict[str, bytes], folders: tuple[str, ...]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    buffer.seek(0)
    return buffer


def _tag_latest(client: Any, recipe: Recipe, image_id: str) -> None:
    client.api.tag(image_id, recipe.repository, LATEST)


def build(
    client: Any,
    recipe: Recipe,
    base: str,
    ca: bytes,
    progress: Callable[[str], None] = print,
) -> Built:
    """Build `recipe` on `base` unless its content-hash tag exists; tag it `:latest` either way."""
    import docker.errors

    context = recipe.context_hash
    tag = content_tag(recipe.repository, context, base_id(client, base), ca)
    try:
        existing = client.images.get(tag)
        progress(f"skipped: {recipe.what} {tag} already exists (nothing that goes into it changed)")
        _tag_latest(client, recipe, existing.id)
        return Built(tag, existing.id, False)
    except docker.errors.ImageNotFound:
        pass
    progress(f"building {recipe.what} {tag} from base {base}")
    files = {**recipe.files, CA_FILE: ca}
    lines: list[str] = []
    image_id = None
    for chunk in client.api.build(
        fileobj=_tar(files, recipe.folders),
        custom_context=True,
        tag=tag,
        buildargs={"BASE_IMAGE": base, "CONTEXT_HASH": context, **recipe.buildargs},
        pull=False,
        rm=True,
        forcerm=True,
        decode=True,
        labels={recipe.label: context},
    ):
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message", chunk["error"])
            raise GenoteamError(
                f"building the {recipe.what} failed: {detail.strip()}\n{''.join(lines[-15:])}",
                f"check that the base image {base} is local (sandbox_image/build_base.sh makes one) "
                "or can be fetched, and that PyPI is reachable (behind a proxy: --ca-bundle FILE)",
            )
        text = chunk.get("stream", "")
        if text:
            lines.append(text)
            for line in text.rstrip("\n").splitlines():
                if line.strip():
                    progress(f"  {line}")
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    image_id = image_id or client.images.get(tag).id
    _tag_latest(client, recipe, image_id)
    return Built(tag, image_id, True)


def find_current(client: Any, recipe: Recipe) -> Any | None:
    """The newest local image whose label says it was built from `recipe`'s sources, or None."""
    images = client.images.list(filters={"label": f"{recipe.label}={recipe.context_hash}"})
    return max(images, key=lambda image: image.attrs.get("Created", "")) if images else None
