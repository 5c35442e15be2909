"""The one scrubber for everything that leaves the server: host folders become neutral labels.

Why one: texts reach a client from many places (job messages, engine errors with tracebacks,
provenance written by an engine, reports, resource errors). The server applies this scrubber at
its boundary (server.app: every tool result, error and resource), so no path can slip through a
place that forgot to call it.

Which folders: the workspace and the input folder (as configured and resolved), the checkout or
installed package, the Python installation (site-packages, the standard library, a virtualenv),
caches (uv, pip, XDG, genoteam's own), and the home folder. One regular-expression pass, longest
path first and only at path boundaries, so a replaced label is never scanned again (no
`<input><input>`) and `/home/ann` does not eat into `/home/anna`.
"""

from __future__ import annotations

import os
import re
import site
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import genoteam

# characters that may follow a folder inside a longer path or in prose
_BOUNDARY = r"(?=[/\\\s'\"`),:;\]}>]|$)"


def _variants(path: Path) -> set[str]:
    text = str(path).rstrip("/")
    found = {text}
    try:
        found.add(str(path.resolve()).rstrip("/"))
    except OSError:
        pass
    return {p for p in found if p and p != "/" and len(p) > 1}


def python_folders() -> list[Path]:
    """Where this interpreter and its packages live (site-packages, stdlib, prefixes)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values()}
    try:
        found |= set(site.getsitepackages())
    except AttributeError:  # some virtualenv builds lack it
        pass
    user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    if user_site:
        found.add(user_site)
    return [Path(p) for p in found if p]


def cache_folders(home: Path) -> list[Path]:
    """Package-manager and application caches a traceback or a download message may name."""
    env = os.environ
    xdg = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
    found = [xdg, xdg / "uv", xdg / "pip", xdg / "genoteam"]
    for name in ("UV_CACHE_DIR", "PIP_CACHE_DIR", "GENOTEAM_CACHE", "GENOTEAM_GEO_CACHE"):
        if env.get(name):
            found.append(Path(env[name]))
    return found


class Scrubber:
    """Replaces host folders in text (and in every string of structured data) with labels."""

    def __init__(self, roots: dict[str, Path | None], home: Path | None = None) -> None:
        home = home or Path.home()
        labelled: list[tuple[str, Iterable[Path]]] = [
            (label, [p]) for label, p in roots.items() if p is not None
        ]
        labelled += [
            ("<python>", python_folders()),  # before the package root: an installed copy lives here
            ("<checkout>", [Path(genoteam.__file__).parent.parent]),
            ("<cache>", cache_folders(home)),
            ("~", [home]),
        ]
        pairs: dict[str, str] = {}
        for label, paths in labelled:  # the first label given to a path wins (roots before home)
            for path in paths:
                for variant in _variants(path):
                    pairs.setdefault(variant, label)
        self.labels = dict(sorted(pairs.items(), key=lambda kv: -len(kv[0])))
        alternatives = "|".join(re.escape(p) for p in self.labels)
        self._pattern = re.compile(f"(?:{alternatives}){_BOUNDARY}") if alternatives else None

    def __call__(self, text: str | None) -> str | None:
        if text is None or self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.labels[m.group(0)], text)

    def data(self, value: Any) -> Any:
        """The same structure with every string scrubbed (dict keys too)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
