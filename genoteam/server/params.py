"""The validated parameter types of the MCP tools.

Why here: every tool argument is flat and constrained (patterns, lengths, bounds), so a bad
name, a path-traversal attempt in an id or an oversized argument is refused by pydantic before
any code touches the disk, with an error that names the field and the rule.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from genoteam.pipeline.api import TRAIT_PATTERN, AnalysisRequest

JOB_ID_PATTERN = r"^job-[0-9a-f]{16}$"
# pipeline.cohorts' ids: GSE781, GSE781_GPL96 (a platform cohort), TCGA, a TCGA code (CHOL) or TCGA_CHOL
COHORT_PATTERN = r"^(GSE[0-9]{1,8}(_GPL[0-9]{1,8}){0,8}|TCGA(_[A-Z]{2,10})?|[A-Z]{2,10})$"
MAX_WAIT_S = 50.0  # well under 60 s, a common client-side timeout for one tool call
DEFAULT_WAIT_S = 20.0

Trait = Annotated[
    str,
    Field(
        pattern=TRAIT_PATTERN,
        max_length=100,
        description="Trait name as in list_traits, e.g. Bile_Duct_Cancer",
    ),
]
Condition = Annotated[
    str | None,
    Field(
        pattern=TRAIT_PATTERN,
        max_length=100,
        description="Optional condition: Age, Gender or another trait",
    ),
]
CohortId = Annotated[
    str,
    Field(
        pattern=COHORT_PATTERN,
        description="Cohort id as list_cohorts and results show it: GSE781, GSE781_GPL96, TCGA (or the code, CHOL)",
    ),
]
Cohorts = Annotated[
    list[CohortId] | None,
    Field(max_length=50, description="Optional: restrict to these cohorts (see list_cohorts)"),
]
_METHODS = AnalysisRequest.model_fields["method"].annotation  # the engines' own list of methods
Method = Annotated[
    _METHODS,
    Field(description="moderated-t (default: per-gene test, BH FDR), logistic, or genotex (GenoTEX's Lasso)"),
]
Discover = Annotated[
    bool,
    Field(
        description="Also search GEO and TCGA (UCSC Xena) for the trait's cohorts; each gets a decision with reasons"
    ),
]
JobId = Annotated[
    str, Field(pattern=JOB_ID_PATTERN, description="Job id from a job tool, e.g. job-0123456789abcdef")
]
WaitSeconds = Annotated[
    float,
    Field(
        ge=0, le=MAX_WAIT_S, description=f"Seconds to wait for completion before returning (0-{MAX_WAIT_S:g})"
    ),
]
Force = Annotated[bool, Field(description="Re-run even if this request has a job")]
TopK = Annotated[int, Field(ge=1, le=500, description="Genes per page (1-500)")]
Offset = Annotated[int, Field(ge=0, le=1_000_000, description="Index of the first item to return")]
Limit = Annotated[int, Field(ge=1, le=200, description="Items per page (1-200)")]
Query = Annotated[str, Field(max_length=100, pattern=r"^[A-Za-z0-9_' \-]*$", description="Substring filter")]
JobState = Literal["queued", "running", "complete", "failed", "cancelled", "interrupted"]
StateFilter = Annotated[JobState | None, Field(description="Only jobs in this state")]
