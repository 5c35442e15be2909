"""The validated parameter types of the MCP tools.

Why here: every tool argument is flat and constrained (patterns, lengths, bounds), so a bad
name, a path-traversal attempt in an id or an oversized argument is refused by pydantic before
any code touches the disk, with an error that names the field and the rule.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from genoteam.pipeline.api import AnalysisRequest
from genoteam.toolkit.traits import TYPED_TRAIT_PATTERN

JOB_ID_PATTERN = r"^job-[0-9a-f]{16}$"
# pipeline.cohorts' ids: GSE781, GSE781_GPL96 (a platform cohort), TCGA, a TCGA code (CHOL) or TCGA_CHOL
COHORT_PATTERN = r"^(GSE[0-9]{1,8}(_GPL[0-9]{1,8}){0,8}|TCGA(_[A-Z]{2,10})?|[A-Z]{2,10})$"
MAX_WAIT_S = 50.0  # well under 60 s, a common client-side timeout for one tool call
DEFAULT_WAIT_S = 20.0
# Names as people type them ("Bile Duct Cancer", "sex"); server.names maps them to canonical names.
NAME_PATTERN = TYPED_TRAIT_PATTERN

Trait = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        max_length=100,
        description="Trait as in list_traits (case, spaces and disease synonyms are accepted)",
    ),
]
Condition = Annotated[
    str | None,
    Field(
        pattern=NAME_PATTERN,
        max_length=100,
        description="Optional condition: Age, Gender (or sex), or another trait",
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
    list[Annotated[str, Field(pattern=COHORT_PATTERN)]] | None,  # the list says what the items are
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
    Field(ge=0, le=MAX_WAIT_S, description=f"Seconds to wait for the job to end (0-{MAX_WAIT_S:g})"),
]
Force = Annotated[bool, Field(description="Re-run even if this request has a job")]
# analyze_batch: a task file (a path in the input folder, or its JSON) and/or TRAIT[:CONDITION] items
TaskFile = Annotated[  # plain str: the SDK would parse a JSON text given for `str | None` into a dict
    str,
    Field(max_length=8_000_000, description="GenoTEX task file: a path in the input folder, or its JSON"),
]
QUESTION_PATTERN = r"^[\w' *?:()\-]{1,201}$"  # GenoTEX names have ( ) and any letter; checked again later
Questions = Annotated[
    list[Annotated[str, Field(pattern=QUESTION_PATTERN)]] | None,
    Field(
        max_length=5000, description="TRAIT or TRAIT:CONDITION items; with task_file a filter (* ? allowed)"
    ),
]
TopK = Annotated[int, Field(ge=1, le=500, description="Genes per page (1-500)")]
Offset = Annotated[int, Field(ge=0, le=1_000_000, description="Index of the first item to return")]
Limit = Annotated[int, Field(ge=1, le=200, description="Items per page (1-200)")]
Query = Annotated[str, Field(max_length=100, pattern=r"^[A-Za-z0-9_' \-]*$", description="Substring filter")]
JobState = Literal["queued", "running", "complete", "failed", "cancelled", "interrupted"]
StateFilter = Annotated[JobState | None, Field(description="Only jobs in this state")]


_RULES = {
    "missing": "is required",
    "string_pattern_mismatch": "has characters or a shape that is not allowed",
    "string_too_long": "is too long",
    "too_long": "has too many items",
    "greater_than_equal": "is too small",
    "less_than_equal": "is too large",
    "literal_error": "is not one of the allowed values",
    "extra_forbidden": "is not a parameter of this tool",
}


def describe_invalid(error: ValidationError, input_schema: dict[str, Any]) -> str:
    """A rejected call in plain words: each field, what is wrong, what the field takes.

    Why not the validator's own text: it quotes patterns and links to its documentation, which a
    model cannot act on; the field's description says what to send instead."""
    properties = input_schema.get("properties", {})
    parts = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "arguments"
        rule = _RULES.get(item["type"], "is not valid")
        limit = {**item.get("ctx", {})}
        bound = limit.get("max_length") or limit.get("le") or limit.get("ge") or limit.get("expected")
        detail = f" (limit {bound})" if bound is not None else ""
        takes = properties.get(field, {}).get("description")
        parts.append(f"{field} {rule}{detail}" + (f"; it takes: {takes}" if takes else ""))
    return "invalid arguments: " + "; ".join(dict.fromkeys(parts))
