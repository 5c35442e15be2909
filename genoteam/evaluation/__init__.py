"""GenoTEX's evaluation: metrics (pure functions) and the harness over output folders.

Names are imported on first use, so that `genoteam` commands that do not evaluate stay fast.
"""

from importlib import import_module

_EXPORTS = {
    "evaluate": "harness",
    "evaluate_against_truth": "harness",
    "auroc_padded": "metrics",
    "composite_similarity": "metrics",
    "evaluate_gene_selection": "metrics",
    "gsea_enrichment_score": "metrics",
    "question_category": "metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"genoteam.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'genoteam.evaluation' has no attribute {name!r}")
