"""The folders genoteam ships beside its code: guidelines/ and sandbox_image/ (one resolver).

Why one resolver: the folders sit at the repository root (the layout the project is known by),
and a wheel or sdist carries copies of them as package data under `genoteam/_shipped/` (setup.py
adds them at build time). Every caller (guidelines loader, sandbox image, server resources) asks
here, so an installed copy works from any working directory with no environment variable.
Order: the environment override when set, else the installed copy, else the checkout's folder
(editable installs and source trees, where no copy is made).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Literal

from genoteam.toolkit.errors import GenoteamError

Shipped = Literal["guidelines", "sandbox_image"]
SHIPPED_DIR = "_shipped"  # inside the package, written by setup.py's build step
OVERRIDE_ENV: dict[str, str] = {
    "guidelines": "GENOTEAM_GUIDELINES",
    "sandbox_image": "GENOTEAM_SANDBOX_IMAGE_DIR",
}


def package_root() -> Path:
    """The installed (or checked-out) `genoteam` package folder."""
    return Path(str(resources.files("genoteam")))


def checkout_root() -> Path | None:
    """The source checkout this package runs from, or None for an installed copy."""
    parent = package_root().parent
    return parent if (parent / "pyproject.toml").is_file() and (parent / "guidelines").is_dir() else None


def shipped_dir(name: Shipped) -> Path:
    """The folder `name`: $GENOTEAM_GUIDELINES / $GENOTEAM_SANDBOX_IMAGE_DIR, installed copy, checkout."""
    override = os.environ.get(OVERRIDE_ENV[name])
    if override:
        return Path(override)
    packaged = package_root() / SHIPPED_DIR / name
    if packaged.is_dir():
        return packaged
    checkout = checkout_root()
    if checkout is not None and (checkout / name).is_dir():
        return checkout / name
    raise GenoteamError(
        f"genoteam's {name}/ folder is neither installed ({packaged}) nor in a source checkout",
        f"reinstall genoteam from a wheel or sdist built by its setup.py, or set {OVERRIDE_ENV[name]} "
        f"to a {name} folder",
    )
