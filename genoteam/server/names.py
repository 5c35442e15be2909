"""Trait and condition names as people and models type them, mapped to one canonical name.

Why: a model writes "Bile Duct Cancer", "bile_duct_cancer", "Cholangiocarcinoma", "age" or "sex";
each must reach the same job under the one name list_traits shows, and a miss must say what the
close names are instead of a validator's message. Matching reuses the TCGA domain rules
(toolkit.traits): the same normalisation (case, spaces, punctuation, filler words) and the same
disease synonyms, so the server never accepts a name the engines would read differently.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from genoteam.data.catalogue import CohortCatalogue
from genoteam.server.catalog import all_trait_names, open_catalogue
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.traits import match_tcga_cohort, normalise_name, parse_tcga_folder

# Clinical conditions the statistics take from each sample's own record (not a trait of its own).
CLINICAL_SYNONYMS = {"age": "Age", "sex": "Gender", "gender": "Gender"}


@dataclass(frozen=True)
class Name:
    """A name as given and the canonical name it was understood as (and why)."""

    given: str
    canonical: str
    how: str  # "exact", "spelling" (case/space/punctuation), "synonym", "clinical"

    def understood(self) -> str:
        """'' when the name was used as given, else how it was read."""
        if self.how == "exact":
            return ""
        why = {
            "spelling": "same name, other spelling",
            "synonym": "a recognised name of the same disease",
            "clinical": "the samples' own clinical record",
        }[self.how]
        return f"'{self.given}' read as {self.canonical} ({why})"


def _suggestions(given: str, names: list[str]) -> list[str]:
    by_key = {normalise_name(n): n for n in names}
    close = difflib.get_close_matches(normalise_name(given), list(by_key), n=5, cutoff=0.5)
    words = {w for w in given.lower().replace("_", " ").replace("-", " ").split() if len(w) > 3}
    sharing = [n for n in names if words & set(n.lower().replace("_", " ").split())]
    return list(dict.fromkeys([by_key[k] for k in close] + sharing))[:5]


def resolve_trait(given: str, catalogue: CohortCatalogue) -> Name:
    """The canonical trait name for `given`; an unknown name is an error that lists close names."""
    names = all_trait_names(catalogue)
    if given in names:
        return Name(given, given, "exact")
    key = normalise_name(given)
    for name in names:
        if normalise_name(name) == key:
            return Name(given, name, "spelling")
    match = match_tcga_cohort(given, [c.id for c in catalogue.tcga_cohorts()]) if key else None
    parsed = parse_tcga_folder(match.folder) if match is not None else None
    if parsed is not None and parsed.name in names:
        return Name(given, parsed.name, "synonym")
    close = _suggestions(given, names)
    raise GenoteamError(
        f"no trait {given!r} in the input folder",
        (f"did you mean {', '.join(close)}? " if close else "")
        + f"call list_traits(query=...) to search the {len(names)} traits there are",
    )


def resolve_condition(given: str | None, catalogue: CohortCatalogue) -> Name | None:
    """Age and Gender (also 'age', 'sex', 'gender'), or another trait's canonical name."""
    if given is None or not given.strip():
        return None
    clinical = CLINICAL_SYNONYMS.get(normalise_name(given))
    if clinical is not None:
        return Name(given, clinical, "exact" if given == clinical else "clinical")
    try:
        return resolve_trait(given, catalogue)
    except GenoteamError as error:
        raise GenoteamError(
            f"no condition {given!r}: it is neither Age, Gender (or sex) nor a trait of the input folder",
            error.hint,
        ) from None


def unresolved(given: str, condition: str | None) -> tuple[Name, Name | None]:
    """Names kept as given (spaces as underscores) for a search beyond the input folder."""

    def keep(text: str) -> Name:
        name = "_".join(text.split())
        return Name(text, name, "exact" if name == text else "spelling")

    clinical = CLINICAL_SYNONYMS.get(normalise_name(condition)) if condition else None
    if condition and clinical:
        return keep(given), Name(condition, clinical, "exact" if condition == clinical else "clinical")
    return keep(given), keep(condition) if condition and condition.strip() else None


def resolve(input_dir: Path, trait: str, condition: str | None) -> tuple[Name, Name | None]:
    catalogue = open_catalogue(input_dir)
    return resolve_trait(trait, catalogue), resolve_condition(condition, catalogue)
