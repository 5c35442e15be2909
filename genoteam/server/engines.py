"""Which analysis engine answers a job, chosen by name and imported lazily.

Why a registry of "module:function" strings: the worker process that runs a job imports the
engine itself, from the target recorded in the job's job.json, so the server never imports the
agent team (heavy) and a restarted server or worker needs no in-memory state. Extra engines
(e.g. a test engine) come from GENOTEAM_ENGINES="name=module:function,...".
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from genoteam.pipeline.api import AnalysisEngine
from genoteam.toolkit.errors import GenoteamError

BUILTIN_ENGINES: dict[str, str] = {
    "team": "genoteam.agents.engine:run_team",
    "reference": "genoteam.pipeline.reference:run_reference",
}
PREFERENCE = ("team", "reference")  # the default is the first that exists


def engine_targets() -> dict[str, str]:
    """Every known engine name -> "module:function", built-ins plus GENOTEAM_ENGINES."""
    targets = dict(BUILTIN_ENGINES)
    for entry in filter(None, (part.strip() for part in os.environ.get("GENOTEAM_ENGINES", "").split(","))):
        name, sep, target = entry.partition("=")
        if not sep or ":" not in target:
            raise GenoteamError(
                f"GENOTEAM_ENGINES entry {entry!r} is not name=module:function",
                "write it like slow=mypackage.engines:run_slow",
            )
        targets[name.strip()] = target.strip()
    return targets


def _module_exists(target: str) -> bool:
    module = target.partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def available_engines() -> list[str]:
    """Names of the engines whose module is installed (not imported, so this is cheap)."""
    return [name for name, target in engine_targets().items() if _module_exists(target)]


def default_engine_name() -> str:
    """GENOTEAM_ENGINE when set, else "team" when it exists, else "reference"."""
    chosen = os.environ.get("GENOTEAM_ENGINE", "").strip()
    if chosen:
        return chosen
    installed = set(available_engines())
    for name in PREFERENCE:
        if name in installed:
            return name
    raise GenoteamError(
        "no analysis engine is installed (neither genoteam.agents.engine nor genoteam.pipeline.reference)",
        "install genoteam completely, or set GENOTEAM_ENGINES/GENOTEAM_ENGINE to an engine you provide",
    )


def resolve_target(name: str) -> str:
    """The "module:function" of engine `name`, or a clear error listing the known names."""
    targets = engine_targets()
    if name not in targets:
        raise GenoteamError(f"unknown engine {name!r}", f"use one of: {', '.join(sorted(targets))}")
    if not _module_exists(targets[name]):
        raise GenoteamError(
            f"engine {name!r} is not installed ({targets[name]})",
            f"use one of the installed engines: {', '.join(available_engines()) or 'none'}",
        )
    return targets[name]


def load_target(target: str) -> AnalysisEngine:
    """Import "module:function" and return the function."""
    module_name, _, function_name = target.partition(":")
    module = importlib.import_module(module_name)
    engine = getattr(module, function_name, None)
    if not callable(engine):
        raise GenoteamError(f"{target} is not a callable engine", "check the engine registry entry")
    return engine
