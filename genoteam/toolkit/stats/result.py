"""One result type for every method, and its significant-genes JSON content.

The JSON keeps GenoTEX's fields, so GenoTEX's evaluator reads it unchanged:
`significant_genes` = {"Variable": [...], "Coefficient": [...], "Absolute Coefficient": [...]}
and `cv_performance`. Ours are added beside them: p_value and q_value lists inside
significant_genes when the method has tests, and top-level `method`, `select_by`, `stability`,
`penalty`, `cohorts`, `coefficient_unit`, `notes` and `partial`. The layout writer turns the dict into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from genoteam.toolkit.layout import json_safe


def effect_meaning(method: str, trait: str, trait_is_binary: bool | None) -> dict[str, str]:
    """What a positive and a negative coefficient mean under `method`, in plain words.

    The unit itself is `coefficient_unit` (recorded by each method); this adds the direction
    words, so every reader says "higher in ..." the same way."""
    if method == "logistic":
        return {
            "positive": f"higher expression goes with higher odds of {trait}",
            "negative": f"higher expression goes with lower odds of {trait}",
        }
    if method == "genotex":
        return {
            "positive": f"higher expression goes with {trait}",
            "negative": f"lower expression goes with {trait}",
        }
    if trait_is_binary:
        return {"positive": f"higher in {trait}=1 samples", "negative": f"lower in {trait}=1 samples"}
    return {"positive": f"rises with {trait}", "negative": f"falls with {trait}"}


@dataclass
class SignificantGenesResult:
    """Tidy result of one question (trait, condition) by one method.

    `significant` holds the reported genes in order with columns Variable, Coefficient,
    Absolute Coefficient and, depending on the method, p_value, q_value, std_effect, stability.
    `table` holds every gene tested (the full table behind the list)."""

    method: str
    trait: str
    condition: str | None
    significant: pd.DataFrame
    table: pd.DataFrame
    cv_performance: dict
    select_by: str | None = None
    penalty: dict | None = None
    stability: dict | None = None
    cohorts: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    partial: bool = False
    coefficient_unit: str = ""  # what one unit of Coefficient means (log2 fold change, per unit, ...)

    @property
    def genes(self) -> list[str]:
        return list(self.significant["Variable"])

    def to_json_dict(self) -> dict:
        """The content of regress/<Trait>/significant_genes_condition_<Condition|None>.json."""
        sig = self.significant
        genes: dict[str, list] = {
            "Variable": sig["Variable"].tolist(),
            "Coefficient": sig["Coefficient"].astype(float).tolist(),
            "Absolute Coefficient": sig["Absolute Coefficient"].astype(float).tolist(),
        }
        for extra in ("p_value", "q_value", "std_effect"):
            if extra in sig:
                genes[extra] = sig[extra].astype(float).tolist()
        return json_safe(
            {
                "significant_genes": genes,
                "cv_performance": self.cv_performance,
                "method": self.method,
                "coefficient_unit": self.coefficient_unit,
                "select_by": self.select_by,
                "trait": self.trait,
                "condition": self.condition,
                "penalty": self.penalty,
                "stability": self.stability,
                "cohorts": self.cohorts,
                "details": self.details,
                "notes": self.notes,
                "partial": self.partial,
            }
        )
