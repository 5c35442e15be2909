"""GenoTEX's evaluation: metrics (pure functions) and the harness over output folders."""

from genoteam.evaluation.harness import evaluate, evaluate_against_truth
from genoteam.evaluation.metrics import (
    auroc_padded,
    composite_similarity,
    evaluate_gene_selection,
    gsea_enrichment_score,
    question_category,
)

__all__ = [
    "auroc_padded",
    "composite_similarity",
    "evaluate",
    "evaluate_against_truth",
    "evaluate_gene_selection",
    "gsea_enrichment_score",
    "question_category",
]
