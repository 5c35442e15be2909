"""The request and result of one analysis, shared by every engine that answers it.

Engines: the deterministic reference pipeline (`genoteam reference`) and the agent team
(`genoteam run`). The MCP server only knows this contract, so it serves either.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.traits import TRAIT_PATTERN

ProgressCallback = Callable[[float, str], None]  # (fraction done in [0, 1], message)


class AnalysisRequest(BaseModel):
    trait: str = Field(pattern=TRAIT_PATTERN)
    condition: str | None = Field(default=None, pattern=TRAIT_PATTERN)
    cohorts: list[str] | None = None  # restrict to these cohort ids (GSE..., TCGA codes)
    method: Literal["moderated-t", "logistic", "genotex"] = "moderated-t"
    select_by: Literal["cv", "known-genes"] = "cv"
    # symbol normalisation and probe collapse (toolkit/symbols.py): the analyst's rules, or GenoTEX's
    # (genotex-2024: GenoTEX 2024's exact-symbol filter, set by genotex_version 2024)
    symbol_policy: Literal["analyst", "genotex", "genotex-2024"] = "analyst"
    # find the cohorts by search (GEO E-utilities, UCSC Xena) and download them (data/discovery.py)
    discover: bool = False
    # reproduce that year's GenoTEX code (toolkit/genotex_versions.py): implies method genotex,
    # GenoTEX's known-gene penalty rule and that year's symbol policy; None is genoteam's own procedure
    genotex_version: Literal["2024", "2025"] | None = None

    @model_validator(mode="after")
    def _genotex_version_fixes_the_procedure(self) -> AnalysisRequest:
        """A GenoTEX version is GenoTEX's whole procedure: its method, penalty rule and symbols."""
        if self.genotex_version is None:
            return self
        policy = "genotex-2024" if self.genotex_version == "2024" else "genotex"
        for name, wanted in (("method", "genotex"), ("select_by", "known-genes"), ("symbol_policy", policy)):
            if name in self.model_fields_set and getattr(self, name) != wanted:
                raise ValueError(
                    f"genotex_version {self.genotex_version} runs GenoTEX's procedure ({name} {wanted}); "
                    f"drop {name}={getattr(self, name)!r} or the version"
                )
            setattr(self, name, wanted)
        return self


class MemoryNeed(BaseModel):
    """Why a cohort was refused before it started (pipeline/admission.py): the memory its
    preprocessing is estimated to need, the limit it must run within, and what to do."""

    needed_bytes: int
    limit_bytes: int
    limit: str  # whose limit: "the sandbox memory limit (4g)", "this machine"
    rows: int
    samples: int
    source_file: str
    remedy: str


class CohortOutcome(BaseModel):
    cohort: str
    trait: str
    usable: bool
    sample_size: int | None = None
    note: str = ""
    error: str | None = None  # set when preprocessing failed (not merely unusable)
    out_of_memory: MemoryNeed | None = None  # set when refused for memory (error says it in words)


class GeneHit(BaseModel):
    gene: str
    coefficient: float
    p_value: float | None = None
    q_value: float | None = None


class AnalysisResult(BaseModel):
    trait: str
    condition: str | None
    # preprocessed: a preprocess-only stage finished (no statistics were asked for);
    # budget_exhausted: the agent team's model budget ran out, the results are partial
    status: Literal["complete", "partial", "insufficient_data", "failed", "preprocessed", "budget_exhausted"]
    method: str
    selected_cohorts: list[str]
    cohorts: list[CohortOutcome]
    significant_genes: list[GeneHit]
    output_dir: str  # relative to the job folder when served; never a host path in MCP results
    message: str = ""
    # set when the cohorts were found by search (--discover): every candidate, its decision and reasons
    discovery: dict[str, Any] | None = None
    coefficient_unit: str = ""  # what one unit of a gene's coefficient means (e.g. log2 fold change)
    comparison: str = ""  # what the trait compares when the source fixes it (TCGA: tumour vs normal)
    # Where the analysis code ran: "docker" (the hardened sandbox), "local" (this machine, not
    # isolated; only on request, only for shipped code), "none" (no generated code: the reference
    # engine runs the toolkit in its own process).
    sandbox: Literal["docker", "local", "none"] = "none"


AnalysisEngine = Callable[[AnalysisRequest, Path, Path, ProgressCallback | None], AnalysisResult]
"""(request, input_dir, output_dir, progress) -> result. An engine may also take a keyword
`stage`: "all" (default), "preprocess" (cohorts only) or "statistics" (on output_dir/preprocess),
and the keywords of EngineOptions it knows (engine_keywords)."""

OPTION_VARIABLES = {  # EngineOptions field -> the variable that sets it where a program starts
    "sandbox": "GENOTEAM_SANDBOX",
    "sandbox_image": "GENOTEAM_SANDBOX_IMAGE",
    "task_info": "GENOTEAM_TASK_INFO",
}


class EngineOptions(BaseModel, frozen=True):
    """How a job runs, beyond its request: where code runs, which image, GenoTEX's task file.

    Why a value and not environment reads inside the engines: the options are read once, where a
    program starts (the CLI's flags, the server's config), and carried in the job spec, so the
    engine that runs a job, in whatever process or node, sees exactly what the job was given."""

    sandbox: Literal["auto", "docker", "local"] = "auto"
    sandbox_image: str | None = None  # a Docker image to pin (None: the one built from the sources)
    task_info: str | None = None  # GenoTEX's task_info.json (known genes; two-step questions)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineOptions:
        """The options the GENOTEAM_* variables set (OPTION_VARIABLES); unset ones keep defaults."""
        environ = os.environ if environ is None else environ
        found = {name: environ.get(var) for name, var in OPTION_VARIABLES.items()}
        try:
            return cls.model_validate({name: value for name, value in found.items() if value})
        except ValidationError as error:
            wrong = ", ".join(f"{OPTION_VARIABLES[str(e['loc'][0])]}={e['input']!r}" for e in error.errors())
            raise GenoteamError(
                f"{wrong}: not a valid setting", "GENOTEAM_SANDBOX is auto, docker or local"
            ) from error


def engine_keywords(engine: Callable[..., Any], options: EngineOptions) -> dict[str, Any]:
    """The options `engine` takes, as its keyword arguments (an engine that takes none gets none).

    The reference engine names the task file `task_info_path`; an option left at its default
    is not passed, so the engine's own default stands."""
    parameters = inspect.signature(engine).parameters
    wanted: dict[str, Any] = {
        "sandbox": options.sandbox if options.sandbox != "auto" else None,
        "sandbox_image": options.sandbox_image,
        "task_info": Path(options.task_info) if options.task_info else None,
    }
    wanted["task_info_path"] = wanted["task_info"]
    return {name: value for name, value in wanted.items() if value is not None and name in parameters}


Stage = Literal["all", "preprocess", "statistics"]
