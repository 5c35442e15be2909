"""The first cell of every task: the variables its guideline promises (paths as the sandbox sees them)."""

from __future__ import annotations

from pathlib import PurePosixPath

from genoteam.pipeline.cohorts import CohortTask, relative_input
from genoteam.toolkit.layout import OutputLayout
from genoteam.toolkit.symbols import DEFAULT_SYMBOL_POLICY


def assignments(values: dict[str, object]) -> str:
    """`name = repr(value)` lines: values are plain data, so the cell cannot be code injection."""
    for name, value in values.items():
        if not name.isidentifier():
            raise ValueError(f"not a variable name: {name!r}")
        if not isinstance(value, str | int | float | bool | type(None)):
            raise TypeError(f"setup value {name} must be plain data, not {type(value).__name__}")
    return "".join(f"{name} = {value!r}\n" for name, value in values.items())


def _out(work: str, *parts: str) -> str:
    return "/".join([work.rstrip("/"), *parts])


def sandbox_layout(work: str) -> OutputLayout:
    """The output layout as the sandbox sees it (its paths are the kernel's, not the host's)."""
    return OutputLayout(PurePosixPath(work))


def cohort_setup(
    task: CohortTask,
    condition: str | None,
    input_mount: str,
    work: str,
    input_dir,
    symbol_policy: str = DEFAULT_SYMBOL_POLICY,
) -> str:
    entity, cohort = task.entity, task.output_id
    layout = sandbox_layout(work)
    return assignments(
        {
            "trait": entity,
            "condition": condition,
            "cohort": cohort,
            "symbol_policy": symbol_policy,
            "cohort_dir": _out(input_mount, relative_input(task.cohort, input_dir)),
            "platform": task.platform,
            "output_root": work,
            "out_gene_data_file": str(layout.gene_data_path(entity, cohort)),
            "out_clinical_data_file": str(layout.clinical_data_path(entity, cohort)),
            "out_data_file": str(layout.linked_data_path(entity, cohort)),
            "cohort_info_file": str(layout.cohort_info_path(entity)),
        }
    )


def statistics_setup(
    trait: str,
    condition: str | None,
    method: str,
    select_by: str,
    work: str,
    task_info_file: str | None,
    genotex_version: str | None = None,
) -> str:
    layout = sandbox_layout(work)
    return assignments(
        {
            "trait": trait,
            "condition": condition,
            "output_root": work,
            "preprocess_root": str(layout.preprocess_dir),
            "method": method,
            "select_by": select_by,
            "genotex_version": genotex_version,
            "task_info_file": task_info_file,
            "out_significant_file": str(layout.significant_genes_path(trait, condition)),
            "out_table_file": str(layout.association_table_path(trait, condition)),
        }
    )
