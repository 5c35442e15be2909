"""The batch plan: every question of a GenoTEX task file as a graph of tasks.

A question is (trait, condition): each trait unconditioned and with each of its conditions
(GenoTEX's list, genoteam.evaluation.harness.task_questions). Its cohorts are those of the trait
and, for a condition that is itself a trait, the condition's (genoteam.pipeline.cohorts, the same
rules as one analysis). Each needed cohort is one task, shared by every question that needs it (a
trait's cohorts serve its unconditioned, Age, Gender and two-step questions, and a trait used as
another's condition is preprocessed once for both); each question is one task after its cohorts.

A cohort task is one cohort folder of the input (a GEO series, or the trait's TCGA cohort): a
series whose platforms make separate cohorts yields them all from its one task, because which
platforms a series holds is known only after reading it (the engines do that, the team in its
sandbox), and the planner reads no data file.

Content keys (genoteam.pipeline.fingerprint, the rules the server keys its jobs by): a cohort's
key is its kind, engine, entity, folder and symbol policy, its folder's file sizes and mtimes,
the genoteam version and the guidelines' hash; a question's is its question, engine and method
settings, the keys of its cohorts and the task file's hash. So a changed input file changes its
cohort's key and every question above it, and nothing else. Paths are not part of any key: a
moved batch or input folder keeps its keys.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoteam.batch.executor import BatchTask
from genoteam.data.cache import sha256_of_file
from genoteam.data.catalogue import CohortCatalogue
from genoteam.evaluation.harness import Question, load_task_info, task_questions
from genoteam.evaluation.metrics import question_category
from genoteam.pipeline.admission import BASE_BYTES, estimate_cohort
from genoteam.pipeline.api import TRAIT_PATTERN, AnalysisRequest, EngineOptions
from genoteam.pipeline.cohorts import entities_for, plan_cohorts
from genoteam.pipeline.fingerprint import code_inputs, content_key, folders_fingerprint
from genoteam.toolkit.errors import GenoteamError

QUESTION_BYTES = BASE_BYTES + (1 << 30)  # the statistics hold the linked tables of a question's cohorts


@dataclass(frozen=True)
class BatchOptions:
    """What the user chose for the whole batch (every field is part of the keys it touches)."""

    engine: str = "reference"  # "reference" | "team"
    method: str = "moderated-t"
    select_by: str = "cv"
    symbol_policy: str = "analyst"
    genotex_version: str | None = None
    # where code runs and which image (pipeline.api.EngineOptions, read once where the batch starts);
    # not part of any key: the same code gives the same answer wherever it runs
    sandbox: str = "auto"
    sandbox_image: str | None = None

    def request_fields(self) -> dict[str, Any]:
        request = AnalysisRequest(
            trait="X",
            method=self.method,
            select_by=self.select_by,
            symbol_policy=self.symbol_policy,
            genotex_version=self.genotex_version,
        )  # the request's own rules (a GenoTEX version fixes the method) decide the fields
        return {
            "method": request.method,
            "select_by": request.select_by,
            "symbol_policy": request.symbol_policy,
            "genotex_version": request.genotex_version,
        }


@dataclass
class BatchPlan:
    tasks: list[BatchTask]  # cohorts first, then questions (a valid run order)
    questions: list[dict[str, Any]]  # trait, condition, category, key, cohorts (labels)
    skipped: dict[str, str] = field(default_factory=dict)  # entity/folder -> why no task
    notes: list[str] = field(default_factory=list)

    def by_key(self) -> dict[str, BatchTask]:
        return {t.key: t for t in self.tasks}

    def to_json(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "tasks": [
                {
                    "key": t.key,
                    "kind": t.kind,
                    "label": t.label,
                    "needs": list(t.needs),
                    "cpus": t.cpus,
                    "memory_bytes": t.memory_bytes,
                    "payload": t.payload,
                }
                for t in self.tasks
            ],
            "skipped": self.skipped,
            "notes": self.notes,
        }


def select_questions(questions: list[Question], spec: str | None) -> list[Question]:
    """The questions `spec` names: comma-separated TRAIT or TRAIT:CONDITION items, shell wildcards
    allowed, case-insensitive, `None` for the unconditioned question; an item matching nothing
    is an error (a typo must not shrink the batch silently)."""
    if not spec:
        return questions
    items = [item.strip() for item in spec.split(",") if item.strip()]
    chosen: set[Question] = set()
    for item in items:
        trait_pattern, _, condition_pattern = item.partition(":")
        matched = {
            q
            for q in questions
            if fnmatch.fnmatch(q[0].lower(), trait_pattern.lower())
            and (not condition_pattern or fnmatch.fnmatch(str(q[1]).lower(), condition_pattern.lower()))
        }
        if not matched:
            sample = ", ".join(f"{t}:{c}" for t, c in questions[:4])
            raise GenoteamError(
                f"--questions item {item!r} names no question of the task file",
                f"use TRAIT or TRAIT:CONDITION (wildcards allowed; None for no condition), e.g. {sample}",
            )
        chosen |= matched
    return [q for q in questions if q in chosen]


def read_questions(task_info_path: Path, spec: str | None) -> tuple[dict[str, Any], list[Question]]:
    """The task file and the questions of it the batch answers (names checked before any work)."""
    task_info = load_task_info(Path(task_info_path))
    if task_info is None or not task_info:
        raise GenoteamError(f"task file {task_info_path} lists no trait", "pass GenoTEX's task_info.json")
    for trait, entry in task_info.items():
        conditions = entry.get("conditions", []) if isinstance(entry, dict) else None
        if not isinstance(conditions, list):
            raise GenoteamError(
                f"task file {task_info_path}: {trait!r} has no list of conditions",
                "each trait maps to {related_genes: [...], conditions: [...]}",
            )
        for name in [trait, *conditions]:
            if not isinstance(name, str) or not re.fullmatch(TRAIT_PATTERN, name):
                raise GenoteamError(
                    f"task file {task_info_path}: {name!r} is not a trait or condition name",
                    "names are letters, digits, _ ' and - (GenoTEX's folder names)",
                )
    questions = list(dict.fromkeys(task_questions(task_info)))  # a condition listed twice is one question
    return task_info, select_questions(questions, spec)


def _folder_survey(folders: dict[str, Path]) -> dict[str, dict]:
    """The plan's survey without reading any file: each series folder is one task (module docstring)."""
    return {name: {"cohorts": {name: ""}} for name in folders}


def build_plan(
    task_info_path: Path,
    input_dir: Path,
    batch_dir: Path,
    options: BatchOptions,
    questions_spec: str | None = None,
) -> BatchPlan:
    task_info_path, input_dir, batch_dir = (Path(p).resolve() for p in (task_info_path, input_dir, batch_dir))
    _task_info, questions = read_questions(task_info_path, questions_spec)
    catalogue = CohortCatalogue(input_dir)
    code = code_inputs()
    request = options.request_fields()
    base = {
        "batch_dir": str(batch_dir),
        "input_dir": str(input_dir),
        "engine": options.engine,
        "engine_options": EngineOptions(
            sandbox=options.sandbox, sandbox_image=options.sandbox_image, task_info=str(task_info_path)
        ).model_dump(),
    }
    plan = BatchPlan(tasks=[], questions=[])
    cohorts_of: dict[str, list[BatchTask]] = {}

    def entity_tasks(entity: str) -> list[BatchTask]:
        if entity in cohorts_of:
            return cohorts_of[entity]
        tasks: list[BatchTask] = []
        try:
            found = plan_cohorts(catalogue, entity, None, None, _folder_survey)
        except GenoteamError as error:
            plan.skipped[f"{entity}/*"] = error.problem
            cohorts_of[entity] = tasks
            return tasks
        plan.skipped.update(found.skipped)
        for cohort_task in found.tasks:
            cohort = cohort_task.cohort
            request_id = cohort.id if cohort.source == "GEO" else cohort.output_id
            content = {
                "engine": options.engine,
                "entity": entity,
                "cohort": request_id,
                "symbol_policy": request["symbol_policy"],
            }
            key = content_key(
                "cohort", content, {"inputs": folders_fingerprint(input_dir, [cohort.path]), **code}
            )
            size = estimate_cohort(cohort)
            tasks.append(
                BatchTask(
                    key=key,
                    kind="cohort",
                    payload={**base, **content},
                    memory_bytes=size.needed_bytes if size else BASE_BYTES,
                    label=f"cohort {entity}/{request_id}",
                )
            )
        cohorts_of[entity] = tasks
        return tasks

    for trait, condition in questions:
        entities = entities_for(trait, condition)
        needs = [t for entity in entities for t in entity_tasks(entity)]
        content = {
            "engine": options.engine,
            "trait": trait,
            "condition": condition,
            "request": request,
        }
        depends = {
            "cohorts": sorted(t.key for t in needs),
            "task_info": sha256_of_file(task_info_path),
            **code,
        }
        key = content_key("question", content, depends)
        cohorts = {t.key: {"entity": t.payload["entity"], "cohort": t.payload["cohort"]} for t in needs}
        task = BatchTask(
            key=key,
            kind="question",
            payload={**base, **content, "entities": entities, "cohorts": cohorts},
            needs=tuple(t.key for t in needs),
            memory_bytes=max([QUESTION_BYTES, *(t.memory_bytes for t in needs)]),
            label=f"question {trait} | {condition or 'None'}",
        )
        plan.questions.append(
            {
                "trait": trait,
                "condition": condition,
                "category": question_category(condition),
                "key": key,
                "cohorts": [f"{c['entity']}/{c['cohort']}" for c in cohorts.values()],
            }
        )
        plan.tasks.append(task)
    cohort_tasks = [t for tasks in cohorts_of.values() for t in tasks]
    plan.tasks = cohort_tasks + plan.tasks
    return plan
