"""Answer one GenoTEX question (trait, condition) with a chosen method, from linked tables or
from a GenoTEX-layout preprocess folder, and return a SignificantGenesResult.

Methods: "moderated-t" (default: per-gene limma-style test with Age/Gender and, for a trait
condition, the predicted condition as covariates), "logistic" (per-gene logistic regression of a
binary trait, LRT p-values), "genotex" (GenoTEX's penalised procedure, select_by "cv" or
"known-genes"). Cohort choice is GenoTEX's for every method, so methods differ only in the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from genoteam.toolkit.errors import GenoteamError, InputFileError
from genoteam.toolkit.layout import OutputLayout
from genoteam.toolkit.sample_design import SampleInfo
from genoteam.toolkit.stats.association import METHOD_MODERATED_T, moderated_t_test
from genoteam.toolkit.stats.design import CLINICAL_COLUMNS, gene_columns
from genoteam.toolkit.stats.genotex import (
    GENOTEX_SEED,
    METHOD_GENOTEX,
    GenotexFit,
    genotex_one_step,
    genotex_two_step,
    predict_condition,
)
from genoteam.toolkit.stats.logistic import METHOD_LOGISTIC, logistic_association
from genoteam.toolkit.stats.predictive_cv import cv_top_genes_performance
from genoteam.toolkit.stats.result import SignificantGenesResult, effect_meaning
from genoteam.toolkit.stats.scale import log2_genes
from genoteam.toolkit.stats.selection import (
    condition_genes,
    select_cohort_pair,
    select_one_step_cohort,
)
from genoteam.toolkit.traits import condition_is_trait

METHODS = (METHOD_MODERATED_T, METHOD_LOGISTIC, METHOD_GENOTEX)
FDR = 0.05


GENOTEX_UNIT = "coefficient of the penalised model on standardised expression (per SD of the gene)"


def _tested_result(
    method: str, table: pd.DataFrame, trait: str, condition: str | None, fdr: float, info: dict
) -> SignificantGenesResult:
    sig = table[table["q_value"] < fdr].copy()
    sig = sig.rename(columns={"gene": "Variable", "coefficient": "Coefficient"})
    sig["Absolute Coefficient"] = sig["Coefficient"].abs()
    keep = ["Variable", "Coefficient", "Absolute Coefficient", "p_value", "q_value"]
    keep += [c for c in ("std_effect",) if c in sig]
    return SignificantGenesResult(
        method=method,
        trait=trait,
        condition=condition,
        significant=sig[keep].reset_index(drop=True),
        table=table,
        cv_performance={},
        details={"fdr": fdr, **info, "effect": effect_meaning(method, trait, info.get("trait_is_binary"))},
        notes=list(info.get("notes", [])),
        coefficient_unit=str(info.get("coefficient_unit", "")),
    )


def _per_gene_result(
    method: str,
    linked: pd.DataFrame,
    trait: str,
    condition: str | None,
    covariates,
    fdr: float,
    record: dict | None = None,
) -> tuple[SignificantGenesResult, pd.DataFrame, list[str]]:
    """Run a per-gene test on log-scale expression; returns the result, the table used and covariates.

    A condition that is a column of `linked` (Age, Gender, or a predicted condition added by
    the caller) is included among the covariates. `record` is the cohort's preprocessing record
    (layout.read_cohort_record): its scale decision stands (log2 at most once), and the moderated
    t uses its batch fields, individuals and comparison."""
    record = record or {}
    covariates = list(covariates) + ([condition] if condition and condition not in covariates else [])
    linked, scale = log2_genes(linked, gene_columns(linked, trait, covariates), record.get("scale"))
    if method == METHOD_LOGISTIC:
        table, key = logistic_association(linked, trait, covariates), "logistic"
    else:
        info = SampleInfo.from_record(record.get("sample_design"))
        table, key = moderated_t_test(linked, trait, covariates, info), "moderated_t"
    result = _tested_result(method, table, trait, condition, fdr, table.attrs[key])
    result.details["expression_scale"] = scale.reason
    result.notes.append(f"expression scale: {scale.reason}")
    comparison = (record.get("sample_design") or {}).get("comparison")
    if comparison:
        result.details["comparison"] = comparison
        result.notes.insert(0, f"comparison: {comparison}")
    if record.get("symbols"):
        result.details["symbols"] = _symbol_summary(record["symbols"])
    return result, linked, covariates


def _symbol_summary(symbols: dict) -> dict:
    """The result's summary of a cohort's symbol record (the full lists stay in the record)."""
    keys = (
        "policy",
        "table_version",
        "rows_in",
        "rows_renamed",
        "rows_merged",
        "genes_out",
        "dropped_counts",
    )
    return {key: symbols.get(key) for key in keys} | {"summary": symbols.get("summary")}


def moderated_t_result(
    linked: pd.DataFrame,
    trait: str,
    condition: str | None = None,
    covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS,
    fdr: float = FDR,
    cv: bool = True,
    seed: int = GENOTEX_SEED,
    record: dict | None = None,
) -> SignificantGenesResult:
    """Default method: genes with BH q < fdr for the trait coefficient, by p-value."""
    result, logged, covariates = _per_gene_result(
        METHOD_MODERATED_T, linked, trait, condition, covariates, fdr, record
    )
    if cv:
        result.cv_performance = cv_top_genes_performance(logged, trait, covariates, seed=seed)
    return result


def logistic_result(
    linked: pd.DataFrame,
    trait: str,
    condition: str | None = None,
    covariates: tuple[str, ...] | list[str] = CLINICAL_COLUMNS,
    fdr: float = FDR,
    record: dict | None = None,
) -> SignificantGenesResult:
    """Per-gene logistic regression of a binary trait (log odds ratio per unit expression)."""
    return _per_gene_result(METHOD_LOGISTIC, linked, trait, condition, covariates, fdr, record)[0]


def _symbol_snapshot() -> str:
    """The shipped symbol table the gene names were checked against (package, Entrez release)."""
    from genoteam.toolkit.symbols import load_symbol_table

    return load_symbol_table().describe()


def genotex_result(fit: GenotexFit) -> SignificantGenesResult:
    """GenoTEX's list (non-zero coefficients) with its stability, as a SignificantGenesResult."""
    sig = fit.significant()
    table = pd.DataFrame({"gene": fit.genes, "coefficient": fit.coefficients, "stability": fit.stability})
    return SignificantGenesResult(
        method=METHOD_GENOTEX,
        trait=fit.trait,
        condition=fit.condition,
        significant=sig,
        table=table,
        cv_performance=fit.cv_performance,
        select_by=fit.select_by,
        penalty={"model": fit.model, "name": fit.penalty_name, "value": fit.penalty},
        stability={
            "kind": fit.stability_kind,
            "resamples": fit.stability_resamples,
            "frequency": [float(v) for v in sig["stability"]],
        },
        details={
            "batch_effect": fit.batch_effect,
            "condition_coefficient": fit.condition_coefficient,
            "tuning": fit.tuning,
            "genotex_version": fit.genotex_version,
            "genotex_sources": list(fit.sources),
            "penalties": [t["penalty"] for t in fit.tuning],
            "gene_order_sha256": fit.gene_order_sha256,
            "genes_in_order": len(fit.genes),
            "solver_iterations": fit.solver_iterations,
            "column_order": fit.column_order,
            "symbol_snapshot": _symbol_snapshot(),
            "effect": effect_meaning(METHOD_GENOTEX, fit.trait, None),
        },
        notes=fit.notes,
        coefficient_unit=GENOTEX_UNIT,
    )


def _float_block(table: pd.DataFrame) -> pd.DataFrame:
    """One float block: a column-per-block frame makes every row selection ~100x slower."""
    return pd.DataFrame(table.to_numpy(dtype=float), index=table.index, columns=table.columns)


class PreprocessFolder:
    """The preprocess/ tree of GenoTEX's layout (toolkit.layout.OutputLayout), with its linked
    tables read once.

    `tables` holds linked tables already in memory ((entity, cohort) -> the table written to
    disk): preprocessing and statistics in one process then skip reading back a CSV that can
    be hundreds of MB. The CSV round trip is exact, so the answer is the same either way."""

    def __init__(
        self, root: str | Path, tables: Mapping[tuple[str, str], pd.DataFrame] | None = None
    ) -> None:
        self.layout = OutputLayout.of_preprocess_dir(root)
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}
        self._in_memory = dict(tables or {})

    def cohort_info(self, entity: str) -> dict:
        return self.layout.cohort_info(entity)

    def record(self, entity: str, cohort: str) -> dict:
        """The cohort's preprocessing record ({} for folders written without one)."""
        return self.layout.cohort_record(entity, cohort)

    def load(self, entity: str, cohort: str) -> pd.DataFrame:
        key = (entity, cohort)
        if key not in self._cache and key in self._in_memory:
            self._cache[key] = _float_block(self._in_memory.pop(key))
        if key not in self._cache:
            path = self.layout.linked_data_path(entity, cohort)
            try:
                # low_memory=False: a linked table is wide (20,000 gene columns), and pandas' chunked
                # reading then concatenates every column's chunks: ~3x the time, a higher peak
                self._cache[key] = _float_block(pd.read_csv(path, index_col=0, low_memory=False))
            except (FileNotFoundError, ValueError) as error:
                raise InputFileError(
                    path, f"cannot read the linked table ({error})", "re-run preprocessing"
                ) from error
        return self._cache[key]


def answer_question(
    preprocess_root: str | Path,
    trait: str,
    condition: str | None = None,
    method: str = METHOD_MODERATED_T,
    select_by: str = "cv",
    task_info: dict | None = None,
    seed: int = GENOTEX_SEED,
    bootstrap: int = 0,
    exclude_trait_genes: bool = True,
    tables: Mapping[tuple[str, str], pd.DataFrame] | None = None,
    genotex_version: str | None = None,
) -> SignificantGenesResult:
    """Select cohorts as GenoTEX does and answer (trait, condition) with `method`; `tables`:
    linked tables already in memory (see PreprocessFolder); `genotex_version`: with method
    genotex, that year's GenoTEX code (toolkit.genotex_versions)."""
    if method not in METHODS:
        raise GenoteamError(f"unknown method '{method}'", f"use one of {METHODS}")
    folder = PreprocessFolder(preprocess_root, tables)
    two_step = condition_is_trait(condition)
    if not two_step:
        cohort = select_one_step_cohort(folder.cohort_info(trait), condition)
        if cohort is None:
            raise GenoteamError(
                f"no usable cohort for '{trait}'" + (f" with {condition}" if condition else ""),
                "check cohort_info.json: is_usable and has_age/has_gender",
            )
        linked = folder.load(trait, cohort)
        if method == METHOD_GENOTEX:
            result = genotex_result(
                genotex_one_step(
                    linked, trait, condition, select_by, task_info, seed, bootstrap, version=genotex_version
                )
            )
        elif method == METHOD_LOGISTIC:
            result = logistic_result(linked, trait, condition, record=folder.record(trait, cohort))
        else:
            result = moderated_t_result(
                linked, trait, condition, seed=seed, record=folder.record(trait, cohort)
            )
        result.cohorts = {"trait": cohort}
        return result
    pair = select_cohort_pair(
        folder.cohort_info(trait),
        folder.cohort_info(condition),
        folder.load,
        trait,
        condition,
        task_info,
        exclude_trait_genes,
    )
    if pair is None:
        raise GenoteamError(
            f"no cohort pair of '{trait}' and '{condition}' shares a gene known for '{condition}'",
            "this question cannot be answered by two-step regression with these cohorts",
        )
    trait_cohort, condition_cohort, _ = pair
    trait_linked, condition_linked = (
        folder.load(trait, trait_cohort),
        folder.load(condition, condition_cohort),
    )
    if method == METHOD_GENOTEX:
        fit = genotex_two_step(
            trait_linked,
            condition_linked,
            trait,
            condition,
            task_info,
            select_by,
            seed,
            bootstrap,
            exclude_trait_genes,
            version=genotex_version,
        )
        result = genotex_result(fit)
    else:
        regressors = condition_genes(
            task_info, trait, condition, trait_linked.columns, condition_linked.columns, exclude_trait_genes
        )
        if trait_linked[regressors].isna().any().any():
            raise GenoteamError(
                f"condition genes {regressors[:5]} have missing values in the trait cohort",
                "impute missing gene values before two-step regression",
            )
        condition_table = condition_linked.dropna(subset=[condition, *regressors])
        with_condition = trait_linked.copy()
        with_condition[condition] = predict_condition(trait_linked, condition_table, condition, regressors)
        answer = logistic_result if method == METHOD_LOGISTIC else moderated_t_result
        result = answer(with_condition, trait, condition, record=folder.record(trait, trait_cohort))
        result.notes.append(
            f"condition '{condition}' predicted from {len(regressors)} known genes: {regressors[:10]}"
        )
        result.details["condition_genes"] = list(regressors)
    result.cohorts = {"trait": trait_cohort, "condition": condition_cohort}
    return result
