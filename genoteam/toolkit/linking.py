"""Linking clinical and gene data, GenoTEX's missing-value handling and bias checks.

Shapes: clinical features are rows [trait, Age?, Gender?] x samples; gene data is genes x samples;
the linked table is samples x [trait, Age?, Gender?, genes...] (what GenoTEX saves and regresses).

Rules reproduced from GenoTEX (tools/preprocess.py):
- handle_missing_values: (1) drop samples without a trait value; (2) drop genes missing in more
  than 20% of the remaining samples (keep <= 0.2); (3) drop samples missing more than 5% of the
  remaining genes (keep <= 0.05); (4) impute Age with its mean, Gender with its mode (first mode,
  i.e. the smaller code on a tie; the Gender column is dropped when it is entirely missing), genes
  with their column means.
- Bias: a trait is binary when it has exactly 2 distinct values (NaN counted as a value, as in
  GenoTEX's `len(unique())`), else continuous. A binary variable is biased when it has fewer than 2
  classes, or its rarest class is both under 10% of all rows and under 5 samples. A continuous
  variable is biased when min == max. Biased Age/Gender columns are removed; a biased trait makes
  the cohort unusable (see cohort_info.py).

Deviation, documented in docs/data.md: an Age column that is entirely missing after step (3) is
dropped (GenoTEX would keep a column of NaN, mean-impute it to NaN, not detect it as biased
because NaN != NaN, and report has_age = True).

Every function that drops or changes data also returns a report saying what and why; the
GenoTEX-named functions print that report, as GenoTEX's do, and return GenoTEX's types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError

GENE_MISSING_MAX = 0.2  # a gene is kept when missing in at most 20% of samples
SAMPLE_MISSING_MAX = 0.05  # a sample is kept when missing at most 5% of genes
BINARY_MIN_PROPORTION = 0.1
BINARY_MIN_COUNT = 5
DEMOGRAPHICS = ("Age", "Gender")


# ----------------------------------------------------------------------------- linking
@dataclass(frozen=True)
class LinkReport:
    """Which samples the two tables share; unmatched samples are listed, never dropped silently."""

    n_clinical_samples: int
    n_gene_samples: int
    n_linked_samples: int
    clinical_only: list[str] = field(default_factory=list)
    gene_only: list[str] = field(default_factory=list)
    how: str = "outer"

    def summary(self) -> str:
        return (
            f"linked {self.n_linked_samples} samples ({self.how} join of {self.n_clinical_samples} clinical "
            f"and {self.n_gene_samples} gene-data samples; {len(self.clinical_only)} only in clinical data, "
            f"{len(self.gene_only)} only in gene data)"
        )


def link_clinical_genetic_data_with_report(
    clinical_df: pd.DataFrame, genetic_df: pd.DataFrame, how: str = "outer"
) -> tuple[pd.DataFrame, LinkReport]:
    """Samples x [clinical rows..., genes...].

    how="outer" is GenoTEX's geo_link_clinical_genetic_data (concat, then transpose): a sample in
    only one table gets NaN in the other's columns and is removed later by handle_missing_values.
    how="inner" keeps the shared samples only, as GenoTEX's TCGA code does."""
    if how not in {"outer", "inner"}:
        raise GenoteamError(
            f"unknown join {how!r}", "use how='outer' (GenoTEX GEO) or 'inner' (GenoTEX TCGA)"
        )
    genes = genetic_df
    if "Gene" in genes.columns:  # a gene table read without index_col
        genes = genes.set_index("Gene")
    elif "ID" in genes.columns:
        genes = genes.set_index("ID")
    clinical_cols = [str(c) for c in clinical_df.columns]
    gene_cols = [str(c) for c in genes.columns]
    for what, index in (("clinical rows", clinical_df.index), ("gene symbols", genes.index)):
        if not index.is_unique:
            dups = index[index.duplicated()].unique().tolist()[:5]
            raise GenoteamError(f"duplicated {what}: {dups}", "aggregate duplicates before linking")
    clash = set(map(str, clinical_df.index)) & set(map(str, genes.index))
    if clash:
        raise GenoteamError(
            f"gene data has rows named like clinical features: {sorted(clash)[:5]}",
            "pass gene data as genes x samples and clinical data as [trait, Age, Gender] x samples",
        )
    shared = set(clinical_cols) & set(gene_cols)
    if not shared:
        raise GenoteamError(
            "clinical and gene data share no sample ids "
            f"(clinical e.g. {clinical_cols[:3]}, genes e.g. {gene_cols[:3]})",
            "check the orientation (samples must be columns in both) and the sample id format",
        )
    clinical_t = clinical_df.copy()
    clinical_t.columns = clinical_cols
    genes_t = genes.copy()
    genes_t.columns = gene_cols
    if how == "inner":
        order = [s for s in clinical_cols if s in shared]
    else:
        order = clinical_cols + [s for s in gene_cols if s not in set(clinical_cols)]
    clinical_part = clinical_t.T.reindex(order).astype(float)
    gene_part = genes_t.T.reindex(order).astype(float)
    linked = pd.concat([clinical_part, gene_part], axis=1)
    linked.index.name = None
    report = LinkReport(
        n_clinical_samples=len(clinical_cols),
        n_gene_samples=len(gene_cols),
        n_linked_samples=len(linked),
        clinical_only=[s for s in clinical_cols if s not in shared],
        gene_only=[s for s in gene_cols if s not in shared],
        how=how,
    )
    return linked, report


def geo_link_clinical_genetic_data(clinical_df: pd.DataFrame, genetic_df: pd.DataFrame) -> pd.DataFrame:
    """GenoTEX's name and behaviour (outer join); prints what did not match."""
    linked, report = link_clinical_genetic_data_with_report(clinical_df, genetic_df, how="outer")
    print(report.summary())
    return linked


def link_clinical_genetic_data(
    clinical_df: pd.DataFrame, genetic_df: pd.DataFrame, how: str = "outer"
) -> pd.DataFrame:
    linked, report = link_clinical_genetic_data_with_report(clinical_df, genetic_df, how=how)
    print(report.summary())
    return linked


# ----------------------------------------------------------------------------- missing values
@dataclass(frozen=True)
class MissingValueReport:
    """What handle_missing_values removed or filled, step by step."""

    samples_in: int
    genes_in: int
    samples_without_trait: list[str]
    genes_dropped: int
    samples_missing_genes: list[str]
    age_imputed: int = 0
    gender_imputed: int = 0
    gene_values_imputed: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    samples_out: int = 0
    genes_out: int = 0

    def summary(self) -> str:
        text = (
            f"missing values: {self.samples_in} samples x {self.genes_in} genes in; dropped "
            f"{len(self.samples_without_trait)} samples without a trait value, {self.genes_dropped} genes missing "
            f"in >{GENE_MISSING_MAX:.0%} of samples, {len(self.samples_missing_genes)} samples missing "
            f">{SAMPLE_MISSING_MAX:.0%} of genes; imputed {self.age_imputed} Age (mean), {self.gender_imputed} "
            f"Gender (mode), {self.gene_values_imputed} gene values (gene mean); "
            f"{self.samples_out} samples x {self.genes_out} genes out"
        )
        if self.dropped_columns:
            text += f"; dropped entirely missing columns {self.dropped_columns}"
        return text


def handle_missing_values_with_report(
    df: pd.DataFrame, trait_col: str
) -> tuple[pd.DataFrame, MissingValueReport]:
    """GenoTEX's four steps on a linked table (samples x [trait, Age?, Gender?, genes...])."""
    if trait_col not in df.columns:
        raise GenoteamError(
            f"the linked table has no trait column {trait_col!r} (columns start {list(df.columns[:4])})",
            "link the clinical data (with the trait row) to the gene data first",
        )
    covariates = [c for c in (trait_col, *DEMOGRAPHICS) if c in df.columns]
    gene_cols = [c for c in df.columns if c not in covariates]
    samples_in, genes_in = len(df), len(gene_cols)

    # 1. samples without a trait value
    has_trait = df[trait_col].notna()
    no_trait = df.index[~has_trait].astype(str).tolist()
    df = df.loc[has_trait]

    # 2. genes missing in more than 20% of the remaining samples (an empty table keeps none)
    genes = df[gene_cols]
    gene_missing = genes.isna().mean(axis=0) if len(df) else pd.Series(np.nan, index=gene_cols, dtype=float)
    kept_genes = [
        g for g, frac in zip(gene_cols, gene_missing.to_numpy(), strict=True) if frac <= GENE_MISSING_MAX
    ]
    genes = genes[kept_genes]

    # 3. samples missing more than 5% of the remaining genes
    if kept_genes:
        sample_missing = genes.isna().mean(axis=1)
        keep_samples = sample_missing <= SAMPLE_MISSING_MAX
    else:  # GenoTEX: the mean over no genes is NaN, and NaN <= 0.05 is False: no sample survives
        keep_samples = pd.Series(False, index=df.index)
    missing_genes = df.index[~keep_samples.to_numpy()].astype(str).tolist()
    df = df.loc[keep_samples.to_numpy()]
    genes = genes.loc[keep_samples.to_numpy()]
    out = df[covariates].copy()

    # 4. imputation
    dropped: list[str] = []
    age_imputed = gender_imputed = 0
    if "Age" in out.columns:
        age_imputed = int(out["Age"].isna().sum())
        if len(out) and age_imputed == len(out):
            out = out.drop(columns="Age")
            dropped.append("Age")
            age_imputed = 0
        else:
            out["Age"] = out["Age"].fillna(out["Age"].mean())
    if "Gender" in out.columns:
        modes = out["Gender"].mode()
        gender_imputed = int(out["Gender"].isna().sum())
        if len(modes) > 0:
            out["Gender"] = out["Gender"].fillna(modes.iloc[0])
        else:
            out = out.drop(columns="Gender")
            dropped.append("Gender")
            gender_imputed = 0
    gene_values_imputed = int(genes.isna().to_numpy().sum())
    if gene_values_imputed:
        genes = genes.fillna(genes.mean(axis=0))
    result = pd.concat([out, genes], axis=1)
    report = MissingValueReport(
        samples_in=samples_in,
        genes_in=genes_in,
        samples_without_trait=no_trait,
        genes_dropped=genes_in - len(kept_genes),
        samples_missing_genes=missing_genes,
        age_imputed=age_imputed,
        gender_imputed=gender_imputed,
        gene_values_imputed=gene_values_imputed,
        dropped_columns=dropped,
        samples_out=len(result),
        genes_out=len(kept_genes),
    )
    return result, report


def handle_missing_values(df: pd.DataFrame, trait_col: str) -> pd.DataFrame:
    """GenoTEX's name and return type; prints the report."""
    result, report = handle_missing_values_with_report(df, trait_col)
    print(report.summary())
    return result


# ----------------------------------------------------------------------------- bias
@dataclass(frozen=True)
class BiasCheck:
    """The verdict on one variable, with the figures it rests on."""

    column: str
    kind: str  # "binary" or "continuous"
    biased: bool
    detail: str


def check_binary_bias(
    df: pd.DataFrame,
    col_name: str,
    min_proportion: float = BINARY_MIN_PROPORTION,
    min_num: int = BINARY_MIN_COUNT,
) -> BiasCheck:
    """Biased when fewer than 2 classes, or the rarest class is < min_proportion of all rows AND
    < min_num samples (GenoTEX's judge_binary_variable_biased; the proportion's denominator counts
    rows with a missing value too, as GenoTEX's len(dataframe) does)."""
    counts = df[col_name].value_counts()
    total = len(df)
    if len(counts) == 0:
        return BiasCheck(col_name, "binary", True, f"'{col_name}' has no values")
    rare_label, rare_num = counts.idxmin(), int(counts.min())
    proportion = rare_num / total if total else 0.0
    biased = len(counts) < 2 or (proportion < min_proportion and rare_num < min_num)
    detail = (
        f"'{col_name}': least common label {_label(rare_label)} with {rare_num} of {total} samples ({proportion:.2%}); "
        f"{len(counts)} classes"
    )
    return BiasCheck(col_name, "binary", bool(biased), detail)


def check_continuous_bias(df: pd.DataFrame, col_name: str) -> BiasCheck:
    """Biased when all values are equal (GenoTEX's judge_continuous_variable_biased)."""
    values = df[col_name]
    if values.notna().sum() == 0:  # GenoTEX would compare NaN == NaN (False): "not biased"
        return BiasCheck(col_name, "continuous", True, f"'{col_name}' has no values")
    quartiles = values.quantile([0.25, 0.5, 0.75])
    low, high = values.min(), values.max()
    biased = bool(low == high)
    detail = f"'{col_name}': min {low}, quartiles {quartiles.iloc[0]}/{quartiles.iloc[1]}/{quartiles.iloc[2]}, max {high}"
    return BiasCheck(col_name, "continuous", biased, detail)


def judge_binary_variable_biased(
    dataframe: pd.DataFrame,
    col_name: str,
    min_proportion: float = BINARY_MIN_PROPORTION,
    min_num: int = BINARY_MIN_COUNT,
) -> bool:
    check = check_binary_bias(dataframe, col_name, min_proportion, min_num)
    print(check.detail)
    return check.biased


def judge_continuous_variable_biased(dataframe: pd.DataFrame, col_name: str) -> bool:
    check = check_continuous_bias(dataframe, col_name)
    print(check.detail)
    return check.biased


def trait_kind(df: pd.DataFrame, trait: str) -> str:
    """'binary' when the trait column has exactly two distinct values (GenoTEX's rule)."""
    return "binary" if len(df[trait].unique()) == 2 else "continuous"


@dataclass(frozen=True)
class BiasReport:
    trait: BiasCheck
    age: BiasCheck | None
    gender: BiasCheck | None
    removed: list[str]

    @property
    def trait_biased(self) -> bool:
        return self.trait.biased

    def summary(self) -> str:
        parts = [f"trait {'BIASED' if self.trait.biased else 'fine'} ({self.trait.detail})"]
        for check in (self.age, self.gender):
            if check is not None:
                parts.append(
                    f"{check.column} {'biased, removed' if check.biased else 'fine'} ({check.detail})"
                )
        return "; ".join(parts)


def judge_and_remove_biased_features_with_report(
    df: pd.DataFrame, trait: str
) -> tuple[pd.DataFrame, BiasReport]:
    """Judge the trait; drop Age when constant and Gender when biased."""
    if trait not in df.columns:
        raise GenoteamError(f"no trait column {trait!r} in the linked table", "pass the linked table")
    if trait_kind(df, trait) == "binary":
        trait_check = check_binary_bias(df, trait)
    else:
        trait_check = check_continuous_bias(df, trait)
    removed: list[str] = []
    age_check = gender_check = None
    if "Age" in df.columns:
        age_check = check_continuous_bias(df, "Age")
        if age_check.biased:
            df = df.drop(columns="Age")
            removed.append("Age")
    if "Gender" in df.columns:
        gender_check = check_binary_bias(df, "Gender")
        if gender_check.biased:
            df = df.drop(columns="Gender")
            removed.append("Gender")
    return df, BiasReport(trait_check, age_check, gender_check, removed)


def judge_and_remove_biased_features(df: pd.DataFrame, trait: str) -> tuple[bool, pd.DataFrame]:
    """GenoTEX's name and return type (trait_biased, df); prints the verdicts."""
    result, report = judge_and_remove_biased_features_with_report(df, trait)
    print(report.summary())
    return report.trait_biased, result


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
