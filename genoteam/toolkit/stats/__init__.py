"""Statistics of the toolkit: which genes are associated with a trait.

Default: a per-gene moderated t with covariates (limma's model and empirical Bayes, checked
against R limma), Benjamini-Hochberg q-values and effect sizes. Also: per-gene logistic
regression for a binary trait, and GenoTEX's own penalised procedure for comparison with the
benchmark (`select_by="cv"` by default, `"known-genes"` to reproduce GenoTEX's rule).
See docs/statistics.md.
"""

from genoteam.toolkit.stats.association import moderated_t_test, ordinary_t_test
from genoteam.toolkit.stats.design import Design, build_design, gene_columns
from genoteam.toolkit.stats.fdr import bh_adjust
from genoteam.toolkit.stats.genotex import (
    GenotexFit,
    genotex_one_step,
    genotex_regression,
    genotex_two_step,
    predict_condition,
)
from genoteam.toolkit.stats.genotex_models import detect_batch_effect
from genoteam.toolkit.stats.linear_model import LinearFit, lm_fit
from genoteam.toolkit.stats.logistic import logistic_association
from genoteam.toolkit.stats.moderated_t import ebayes, fit_f_dist, squeeze_var, trigamma_inverse
from genoteam.toolkit.stats.predictive_cv import cv_top_genes_performance
from genoteam.toolkit.stats.questions import (
    METHODS,
    PreprocessFolder,
    answer_question,
    genotex_result,
    logistic_result,
    moderated_t_result,
)
from genoteam.toolkit.stats.result import SignificantGenesResult
from genoteam.toolkit.stats.selection import (
    condition_genes,
    known_genes,
    load_task_info,
    rank_cohort_pairs,
    select_cohort_pair,
    select_one_step_cohort,
)


def significant_genes_json(result: SignificantGenesResult) -> dict:
    """The content of significant_genes_condition_<Condition|None>.json for `result`."""
    return result.to_json_dict()


__all__ = [
    "METHODS",
    "Design",
    "GenotexFit",
    "LinearFit",
    "PreprocessFolder",
    "SignificantGenesResult",
    "answer_question",
    "bh_adjust",
    "build_design",
    "condition_genes",
    "cv_top_genes_performance",
    "detect_batch_effect",
    "ebayes",
    "fit_f_dist",
    "gene_columns",
    "genotex_one_step",
    "genotex_regression",
    "genotex_result",
    "genotex_two_step",
    "known_genes",
    "lm_fit",
    "load_task_info",
    "logistic_association",
    "logistic_result",
    "moderated_t_result",
    "moderated_t_test",
    "ordinary_t_test",
    "predict_condition",
    "rank_cohort_pairs",
    "select_cohort_pair",
    "select_one_step_cohort",
    "significant_genes_json",
    "squeeze_var",
    "trigamma_inverse",
]
