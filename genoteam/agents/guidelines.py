"""Analysis guidelines: readable prose plus an ordered list of action units, one file per role.

A guideline folder holds `<name>.yaml` (the action units, validated here) and, optionally,
`<name>.md` (the prose the models read). Users may point genoteam at their own folder; a
malformed file is rejected when it is loaded, naming the file, the line and the problem, so a
typo never surfaces halfway through a job.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genoteam.shipped import shipped_dir
from genoteam.toolkit.errors import GenoteamError

GUIDELINE_ROLES = ("geo", "tcga", "statistics")
UNIT_NAME = r"^[a-z][a-z0-9_]{0,63}$"
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CheckBase(_Strict):
    when: str | None = None  # a Python expression in the kernel; the check runs only when it is true
    message: str = ""  # what a failure means, shown to the reviewer and in provenance


class ShapeCheck(_CheckBase):
    kind: Literal["shape"]
    variable: str = Field(pattern=IDENTIFIER)
    min_rows: int | None = Field(default=None, ge=0)
    max_rows: int | None = Field(default=None, ge=0)
    min_cols: int | None = Field(default=None, ge=0)
    max_cols: int | None = Field(default=None, ge=0)


class ValueRangeCheck(_CheckBase):
    kind: Literal["value_range"]
    variable: str = Field(pattern=IDENTIFIER)
    columns: list[str] | None = None  # None: every numeric column
    min: float | None = None
    max: float | None = None
    max_missing_fraction: float = Field(default=1.0, ge=0.0, le=1.0)


class SymbolCoverageCheck(_CheckBase):
    kind: Literal["symbol_coverage"]
    variable: str = Field(pattern=IDENTIFIER)
    axis: Literal["index", "columns"] = "index"
    min_fraction: float = Field(default=0.5, ge=0.0, le=1.0)


class ClassBalanceCheck(_CheckBase):
    kind: Literal["class_balance"]
    variable: str = Field(pattern=IDENTIFIER)
    column: str
    min_minority_count: int = Field(default=2, ge=0)
    min_minority_fraction: float = Field(default=0.0, ge=0.0, le=0.5)


class FileExistsCheck(_CheckBase):
    kind: Literal["file_exists"]
    path_variable: str = Field(pattern=IDENTIFIER)  # the kernel variable holding the path


class ExpressionCheck(_CheckBase):
    kind: Literal["expression"]
    expr: str = Field(min_length=1)


class TcgaBarcodeTraitCheck(_CheckBase):
    """The TCGA trait row recomputed from each sample's barcode (01-09 tumour 1, 10-19 normal 0):
    a label that code could flip is checked against what the barcode says."""

    kind: Literal["tcga_barcode_trait"]
    variable: str = Field(pattern=IDENTIFIER)  # samples in columns, the trait row named by `row`
    row: str = "{trait}"


class SamplesSubsetCheck(_CheckBase):
    """The labels on one axis of a table are a subset of another collection (the cohort's samples)."""

    kind: Literal["samples_subset"]
    variable: str = Field(pattern=IDENTIFIER)
    axis: Literal["index", "columns"] = "columns"
    of: str = Field(min_length=1)  # a kernel expression giving the allowed labels
    min_count: int = Field(default=1, ge=0)


Check = Annotated[
    ShapeCheck
    | ValueRangeCheck
    | SymbolCoverageCheck
    | ClassBalanceCheck
    | FileExistsCheck
    | ExpressionCheck
    | TcgaBarcodeTraitCheck
    | SamplesSubsetCheck,
    Field(discriminator="kind"),
]


class ActionUnit(_Strict):
    """One step of a guideline: what to do, what it must leave behind, and how to check it."""

    name: str = Field(pattern=UNIT_NAME)
    title: str = ""
    instructions: str = Field(min_length=1)
    needs_domain_knowledge: bool = False
    optional: bool = False  # only optional units may be skipped by a model planner
    produces: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(default_factory=list)
    # kernel variables deleted once the unit is approved, because no later unit reads them (the
    # raw tables a later table replaces: memory for the rest of the task, docs/agents.md)
    releases: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    skip_if: str | None = None  # expression in the kernel before the unit: true -> the planner skips it
    stop_if: str | None = None  # expression after the unit: true -> the task ends early (not a failure)
    stop_reason: str = ""  # expression or text for why the task stopped, shown in results
    show_output: bool = True  # whether later prompts see this unit's printed output
    # a kernel table whose columns are the fields a judgement unit chooses among: its prompt lists
    # each column with its distinct values (e.g. GEO `samples`, TCGA `clinical`)
    candidates: str | None = Field(default=None, pattern=IDENTIFIER)
    # what model-written code of this unit depends on: a learned snippet is reused only where these
    # parts of the context are equal (cohort: never outside the same cohort, for judgement calls)
    memory_keys: list[Literal["platform", "file_format", "cohort"]] = Field(
        default_factory=lambda: ["platform", "file_format"]
    )

    @field_validator("skip_if", "stop_if")
    @classmethod
    def _expression_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile(value, "<guideline>", "eval")
            except SyntaxError as error:
                raise ValueError(f"not a Python expression: {error.msg}") from None
        return value


class Guideline(_Strict):
    """The guideline of one role: prose for the models plus the ordered units."""

    role: Literal["geo", "tcga", "statistics"]
    version: str = "1"
    title: str = ""
    prose: str = ""  # filled from <name>.md when present
    action_units: list[ActionUnit] = Field(min_length=1)
    source: str = ""  # the file it came from

    @model_validator(mode="after")
    def _unique_unit_names(self) -> Guideline:
        seen: set[str] = set()
        for unit in self.action_units:
            if unit.name in seen:
                raise ValueError(f"action unit name {unit.name!r} appears twice")
            seen.add(unit.name)
        return self

    def unit(self, name: str) -> ActionUnit:
        for unit in self.action_units:
            if unit.name == name:
                return unit
        raise GenoteamError(
            f"guideline {self.role!r} has no action unit {name!r}",
            f"known units: {', '.join(self.unit_names())}",
        )

    def unit_names(self) -> list[str]:
        return [unit.name for unit in self.action_units]

    def index(self, name: str) -> int:
        return self.unit_names().index(self.unit(name).name)


class GuidelineFileError(GenoteamError):
    """A guideline file that cannot be used: says which file, which line and what is wrong."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}", "fix the guideline file (see docs/agents.md for the format)")


def default_guidelines_dir() -> Path:
    """The folder used when the user names none: $GENOTEAM_GUIDELINES, else the shipped one."""
    return shipped_dir("guidelines")


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The deepest YAML node reachable along a pydantic error location, for its line number."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is not None:
                node = match  # else: a tag pydantic adds (the union member), not a key of the file
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            continue  # pydantic adds tags such as the union member name; they are not in the file
    return node


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    return f"{loc}: {error['msg']}" if loc else error["msg"]


def load_guideline(path: Path) -> Guideline:
    """Read and validate one `<name>.yaml`, with the prose of `<name>.md` beside it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise GuidelineFileError(path, None, f"cannot be read: {error}") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise GuidelineFileError(path, line, f"not valid YAML: {error.problem or error.context}") from None
    if not isinstance(data, dict) or root is None:
        raise GuidelineFileError(path, 1, "expected a mapping with keys role, action_units, ...")
    prose_path = path.with_suffix(".md")
    if "prose" not in data and prose_path.is_file():
        data["prose"] = prose_path.read_text(encoding="utf-8")
    data["source"] = str(path)
    try:
        return Guideline.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        node = _node_at(root, tuple(first["loc"]))
        more = len(error.errors()) - 1
        problem = _describe(first) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
        raise GuidelineFileError(path, node.start_mark.line + 1, problem) from None


def load_guidelines(folder: Path | None = None) -> dict[str, Guideline]:
    """Every guideline of a folder, by role; each of geo, tcga and statistics must be present."""
    folder = Path(folder) if folder else default_guidelines_dir()
    if not folder.is_dir():
        raise GenoteamError(
            f"guidelines folder {folder} does not exist",
            "pass --guidelines DIR or set GENOTEAM_GUIDELINES to a folder with geo.yaml, tcga.yaml, statistics.yaml",
        )
    found: dict[str, Guideline] = {}
    for path in sorted(folder.glob("*.yaml")):
        guideline = load_guideline(path)
        if guideline.role in found:
            raise GuidelineFileError(path, None, f"a second guideline for role {guideline.role!r}")
        found[guideline.role] = guideline
    missing = [role for role in GUIDELINE_ROLES if role not in found]
    if missing:
        raise GenoteamError(
            f"guidelines folder {folder} lacks the role(s) {', '.join(missing)}",
            "add a <name>.yaml with `role: <role>` for each (copy the shipped guidelines/ as a start)",
        )
    return found


def render_prompt_text(text: str, values: dict[str, Any]) -> str:
    """Fill `{name}` placeholders the guideline uses (trait, condition, cohort); others stay as written."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)
