"""The sandbox image: its build context, its content-hash tag, building it and finding it.

Why a content hash: the image must hold the same toolkit as the host. The context hash covers
the Dockerfile, pinned requirements, kernel and toolkit sources; it is stored as an image label,
and sessions use only an image whose label matches the current sources, so a stale image is
never used silently. The tag adds the base image id and the build CA bundle, so
`genoteam sandbox build` skips the build exactly when nothing that went into it changed.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genoteam.toolkit.errors import GenoteamError

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # .../genoteam
REPO_ROOT = PACKAGE_ROOT.parent
# the Dockerfile lives in the source checkout; an installed copy can point at it
IMAGE_DIR = Path(os.environ.get("GENOTEAM_SANDBOX_IMAGE_DIR", REPO_ROOT / "sandbox_image"))
IMAGE_REPOSITORY = "genoteam-sandbox"
CONTEXT_LABEL = "genoteam.sandbox.context-hash"
DEFAULT_BASE = "python:3.11-slim"
LOCAL_BASE_REPOSITORY = "genoteam-sandbox-base"  # what sandbox_image/build_base.sh makes
CA_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
# The package marker in the image: the toolkit is importable as genoteam.toolkit, nothing else is.
IMAGE_PACKAGE_INIT = b'"""genoteam inside the sandbox image: only the toolkit is installed here."""\n'


# The kinds of toolkit files an installed genoteam has too (pyproject's package data), so the
# hash is the same from a checkout and from an installed copy (e.g. inside the server image).
TOOLKIT_SUFFIXES = (".py", ".tsv.gz", ".json", ".md", ".yaml")


def _toolkit_files() -> dict[str, bytes]:
    toolkit = PACKAGE_ROOT / "toolkit"
    files = {}
    for path in sorted(toolkit.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or not path.name.endswith(TOOLKIT_SUFFIXES):
            continue
        files[f"genoteam/{path.relative_to(PACKAGE_ROOT).as_posix()}"] = path.read_bytes()
    return files


def context_files() -> dict[str, bytes]:
    """Every file of the build context except the CA bundle, by its path in the context."""
    if not (IMAGE_DIR / "Dockerfile").is_file():
        raise GenoteamError(
            f"{IMAGE_DIR / 'Dockerfile'} is missing",
            "build the sandbox image from a genoteam source checkout (the Dockerfile is not in wheels): set "
            "GENOTEAM_SANDBOX_IMAGE_DIR to its sandbox_image folder, or GENOTEAM_SANDBOX_IMAGE to a built image",
        )
    files = {
        "Dockerfile": (IMAGE_DIR / "Dockerfile").read_bytes(),
        "requirements.txt": (IMAGE_DIR / "requirements.txt").read_bytes(),
        "kernel.py": (PACKAGE_ROOT / "sandbox" / "kernel.py").read_bytes(),
        "genoteam/__init__.py": IMAGE_PACKAGE_INIT,
    }
    files.update(_toolkit_files())
    return files


def _digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def context_hash() -> str:
    """Hash of the sources that decide what the image does (not how it was fetched)."""
    return _digest(context_files())


def ca_bundle() -> bytes:
    """The host's CA bundle: pip in the build trusts what the host trusts (proxies included)."""
    configured = os.environ.get("GENOTEAM_SANDBOX_CA_BUNDLE")
    for candidate in ([configured] if configured else []) + list(CA_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    return b""


def image_tag(base_id: str, ca: bytes, context: str | None = None) -> str:
    combined = hashlib.sha256(
        f"{context or context_hash()}\n{base_id}\n".encode() + hashlib.sha256(ca).digest()
    )
    return f"{IMAGE_REPOSITORY}:{combined.hexdigest()[:16]}"


def _base_id(client: Any, base: str) -> str:
    """The base image's id when it is local; else its name (the build will fetch it)."""
    import docker.errors

    try:
        return client.images.get(base).id
    except docker.errors.ImageNotFound:
        return f"unresolved:{base}"


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


def _context_tar(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[name]))
    buffer.seek(0)
    return buffer


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
                "build it with `genoteam sandbox build`, or unset GENOTEAM_SANDBOX_IMAGE",
            ) from error
    current = context_hash()
    images = client.images.list(filters={"label": f"{CONTEXT_LABEL}={current}"})
    if not images:
        raise GenoteamError(
            f"no sandbox image is built from the current sources (context hash {current[:16]})",
            "run `genoteam sandbox build` (or `bash scripts/setup.sh`); it is needed after every toolkit change",
        )
    return max(images, key=lambda image: image.attrs.get("Created", ""))


def build_image(
    client: Any,
    base: str = DEFAULT_BASE,
    progress: Callable[[str], None] = print,
    pip_index_url: str | None = None,
) -> tuple[str, str, bool]:
    """Build the sandbox image unless its content-hash tag exists; return (tag, image id, built).

    Never pulls on purpose (pull=False): a base that is already local is used as it is.
    """
    files = context_files()
    context = _digest(files)
    ca = ca_bundle()
    tag = image_tag(_base_id(client, base), ca, context)
    try:
        existing = client.images.get(tag)
        progress(f"skipped: sandbox image {tag} already exists (nothing that goes into it changed)")
        return tag, existing.id, False
    except Exception as error:  # ImageNotFound: build it
        if type(error).__name__ != "ImageNotFound":
            raise
    files["build-ca.crt"] = ca
    buildargs = {"BASE_IMAGE": base, "CONTEXT_HASH": context}
    if pip_index_url:
        buildargs["PIP_INDEX_URL"] = pip_index_url
    progress(f"building sandbox image {tag} from base {base}")
    image_id = None
    last_lines: list[str] = []
    stream = client.api.build(
        fileobj=_context_tar(files),
        custom_context=True,
        tag=tag,
        buildargs=buildargs,
        pull=False,
        rm=True,
        forcerm=True,
        decode=True,
        labels={CONTEXT_LABEL: context},
    )
    for chunk in stream:
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message", chunk["error"])
            tail = "".join(last_lines[-15:])
            raise GenoteamError(
                f"building the sandbox image failed: {detail.strip()}\n{tail}",
                f"check that the base image {base} exists locally or can be fetched, and that PyPI is reachable",
            )
        text = chunk.get("stream", "")
        if text:
            last_lines.append(text)
            for line in text.rstrip("\n").splitlines():
                if line.strip():
                    progress(f"  {line}")
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    image = client.images.get(tag)
    return tag, image_id or image.id, True


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
