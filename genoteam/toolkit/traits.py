"""Matching a GenoTEX trait name to a TCGA cohort folder, by explicit domain rules.

GenoTEX asks its agent to pick the folder "whose name contains either synonymous or highly
overlapping phenotypic terms" and to skip the trait when none fits. We make that deterministic:

1. Name rule: the trait and the folder's cohort name are equal after normalisation (lower case,
   alphanumeric words only, the filler words "and", "the", "of" dropped; so 'Large_B-cell_Lymphoma'
   equals 'Large_Bcell_Lymphoma' and 'Pheochromocytoma_and_Paraganglioma' equals
   'Pheochromocytoma_Paraganglioma').
2. Code rule: the trait is the cohort's TCGA code itself, in upper case ('CHOL'; 'Lung' is not
   the code LUNG).
3. Synonym rule: the normalised trait is a recognised name of the cohort's disease: the official
   TCGA project name (e.g. 'Uterine Corpus Endometrial Carcinoma' for UCEC, 'Cholangiocarcinoma'
   for CHOL) or a standard clinical synonym listed in TCGA_SYNONYMS.

Nothing else: a related disease that TCGA does not study as such (Von Hippel-Lindau, hepatitis,
liver cirrhosis...) returns None rather than a guessed proxy cohort. Rules are tried in order;
the first one that matches exactly one folder wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from genoteam.toolkit.errors import GenoteamError

# GenoTEX's trait folder names: letters (any script: "Sjögrens_Syndrome"), digits, _ ' - and
# parentheses ("Chronic_obstructive_pulmonary_disease_(COPD)"); never a path separator or a dot
TRAIT_PATTERN = r"^[^\W_][\w'()\-]{0,99}$"
# The same names as people type them ("Bile Duct Cancer"): spaces too; server.names canonicalises
TYPED_TRAIT_PATTERN = r"^[^\W_][\w'() \-]{0,99}$"

CLINICAL_CONDITIONS = ("Age", "Gender")  # conditions read from the cohort's own clinical data


def condition_is_trait(condition: str | None) -> bool:
    """Whether a condition is itself a trait (its cohorts are preprocessed and it is predicted
    from its genes: two-step regression) rather than a clinical field of the trait's cohorts.
    The one place this is decided."""
    return condition is not None and condition not in CLINICAL_CONDITIONS


TCGA_FOLDER = re.compile(r"^TCGA_(?P<name>.+)_\((?P<code>[A-Za-z0-9]+)\)$")
FILLER_WORDS = frozenset({"and", "the", "of"})

# TCGA code -> recognised names of the cohort's disease (official TCGA project names and standard
# clinical synonyms). Names are normalised on use.
TCGA_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ACC": ("Adrenocortical Carcinoma",),
    "BLCA": ("Bladder Urothelial Carcinoma", "Urothelial Bladder Carcinoma"),
    "BRCA": ("Breast Invasive Carcinoma", "Breast Carcinoma"),
    "CESC": ("Cervical Squamous Cell Carcinoma and Endocervical Adenocarcinoma", "Cervical Carcinoma"),
    "CHOL": ("Cholangiocarcinoma", "Biliary Tract Cancer"),
    "COAD": ("Colon Adenocarcinoma",),
    "COADREAD": ("Colorectal Cancer", "Colorectal Adenocarcinoma", "Colorectal Carcinoma"),
    "DLBC": ("Lymphoid Neoplasm Diffuse Large B-cell Lymphoma", "Diffuse Large B-cell Lymphoma"),
    "ESCA": ("Esophageal Carcinoma", "Oesophageal Cancer", "Oesophageal Carcinoma"),
    "GBM": ("Glioblastoma Multiforme",),
    "GBMLGG": ("Glioma",),
    "HNSC": ("Head and Neck Squamous Cell Carcinoma",),
    "KICH": ("Kidney Chromophobe Carcinoma", "Chromophobe Renal Cell Carcinoma"),
    "KIRC": (
        "Kidney Renal Clear Cell Carcinoma",
        "Clear Cell Renal Cell Carcinoma",
        "Renal Clear Cell Carcinoma",
    ),
    "KIRP": ("Kidney Renal Papillary Cell Carcinoma", "Papillary Renal Cell Carcinoma"),
    "LAML": ("Acute Myeloid Leukaemia", "AML"),
    "LGG": ("Brain Lower Grade Glioma",),
    "LIHC": ("Liver Hepatocellular Carcinoma", "Hepatocellular Carcinoma"),
    "LUAD": (),
    "LUNG": (),
    "LUSC": (),
    "MESO": ("Malignant Mesothelioma",),
    "OV": ("Ovarian Serous Cystadenocarcinoma",),
    "PAAD": ("Pancreatic Adenocarcinoma", "Pancreatic Ductal Adenocarcinoma"),
    "PCPG": ("Pheochromocytoma and Paraganglioma",),
    "PRAD": ("Prostate Adenocarcinoma",),
    "READ": ("Rectum Adenocarcinoma", "Rectal Adenocarcinoma"),
    "SARC": ("Soft Tissue Sarcoma",),
    "SKCM": ("Skin Cutaneous Melanoma", "Cutaneous Melanoma"),
    "STAD": ("Stomach Adenocarcinoma", "Gastric Cancer", "Gastric Adenocarcinoma"),
    "TGCT": ("Testicular Germ Cell Tumors", "Testicular Germ Cell Tumours"),
    "THCA": ("Thyroid Carcinoma",),
    "THYM": (),
    "UCEC": ("Uterine Corpus Endometrial Carcinoma", "Endometrial Carcinoma", "Endometrial Cancer"),
    "UCS": (),
    "UVM": ("Uveal Melanoma", "Ocular Melanoma"),
}


def normalise_name(name: str) -> str:
    """'Large_B-cell_Lymphoma' -> 'largebcelllymphoma' (alphanumeric words, fillers dropped)."""
    words = re.findall(r"[a-z0-9]+", str(name).lower())
    return "".join(w for w in words if w not in FILLER_WORDS)


@dataclass(frozen=True)
class TcgaFolder:
    """A TCGA cohort folder name split into its cohort name and TCGA code."""

    folder: str
    name: str
    code: str


def parse_tcga_folder(folder: str) -> TcgaFolder | None:
    """'TCGA_Bile_Duct_Cancer_(CHOL)' -> (name 'Bile_Duct_Cancer', code 'CHOL'); None otherwise."""
    match = TCGA_FOLDER.match(str(folder))
    if not match:
        return None
    return TcgaFolder(str(folder), match["name"], match["code"].upper())


@dataclass(frozen=True)
class TcgaMatch:
    """The folder matched to a trait and the rule that matched it."""

    trait: str
    folder: str
    code: str
    rule: str  # "name", "code" or "synonym"

    def explanation(self) -> str:
        why = {
            "name": "the cohort name equals the trait after normalisation",
            "code": "the trait is the cohort's TCGA code",
            "synonym": "the trait is a recognised name of the cohort's disease (TCGA project name or synonym)",
        }[self.rule]
        return f"trait {self.trait!r} -> {self.folder} ({why})"


def match_tcga_cohort(trait: str, folders: Iterable[str]) -> TcgaMatch | None:
    """The TCGA folder for `trait` among `folders` (names like 'TCGA_<Name>_(<CODE>)'), or None."""
    parsed = [p for p in (parse_tcga_folder(f) for f in folders) if p is not None]
    key = normalise_name(trait)
    if not key:
        raise GenoteamError(
            f"empty trait name {trait!r}", "pass a GenoTEX trait name such as 'Breast_Cancer'"
        )
    rules = (
        ("name", lambda p: normalise_name(p.name) == key),
        ("code", lambda p: str(trait).strip() == p.code),  # upper-case acronym: 'LUNG', not 'Lung'
        ("synonym", lambda p: key in {normalise_name(s) for s in TCGA_SYNONYMS.get(p.code, ())}),
    )
    for rule, test in rules:
        hits = sorted({p.folder: p for p in parsed if test(p)}.values(), key=lambda p: p.folder)
        if len(hits) == 1:
            return TcgaMatch(trait, hits[0].folder, hits[0].code, rule)
        if len(hits) > 1:
            raise GenoteamError(
                f"trait {trait!r} matches several TCGA folders by the {rule} rule: {[h.folder for h in hits]}",
                "keep one folder per TCGA cohort in the input",
            )
    return None


def tcga_traits(trait_names: Iterable[str], folders: Iterable[str]) -> dict[str, TcgaMatch]:
    """Every trait in `trait_names` (e.g. the keys of GenoTEX's task_info.json) that has a TCGA folder."""
    folders = list(folders)
    matches = {t: match_tcga_cohort(t, folders) for t in trait_names}
    return {t: m for t, m in matches.items() if m is not None}
