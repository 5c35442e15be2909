"""TCGA CHOL as a linked cohort table, built here from the raw Xena files for the stats tests.

Trait from the barcode (01-09 tumour = 1, 10-19 normal = 0), Age from
age_at_initial_pathologic_diagnosis, Gender male = 1 / female = 0 (GenoTEX's coding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CHOL_DIR = "TCGA/TCGA_Bile_Duct_Cancer_(CHOL)"
TRAIT = "Bile_Duct_Cancer"


def chol_linked(shared_input: Path) -> pd.DataFrame:
    folder = shared_input / CHOL_DIR
    expr = pd.read_csv(folder / "TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz", sep="\t", index_col=0)
    clinical = pd.read_csv(folder / "TCGA.CHOL.sampleMap_CHOL_clinicalMatrix", sep="\t", index_col=0)
    code = expr.columns.str.rsplit("-", n=1).str[-1].astype(int)
    trait = pd.Series(np.where(code <= 9, 1.0, np.where(code <= 19, 0.0, np.nan)), index=expr.columns)
    age = pd.to_numeric(clinical["age_at_initial_pathologic_diagnosis"], errors="coerce")
    gender = clinical["gender"].str.upper().map({"MALE": 1.0, "FEMALE": 0.0})
    linked = pd.DataFrame(
        {TRAIT: trait, "Age": age.reindex(expr.columns), "Gender": gender.reindex(expr.columns)}
    )
    genes = expr.T
    genes = genes.loc[:, ~genes.columns.duplicated()]
    return pd.concat([linked, genes], axis=1)
