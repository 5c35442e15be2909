"""What a model sees: the API card is generated from the toolkit's source and covers every toolkit
name the shipped snippets use, so a model writing a unit has what the snippet had."""

from __future__ import annotations

import ast

import pytest

from genoteam.agents.api_card import api_card, toolkit_api
from genoteam.agents.guidelines import load_guidelines
from genoteam.agents.memory import SNIPPETS_DIR, snippet_roles
from genoteam.agents.prompts import UnitBrief, code_messages

OWNER = {"geo": "geo", "tcga": "tcga", "statistics": "statistician"}


def _snippet(role: str, unit: str) -> str | None:
    own = SNIPPETS_DIR / role / f"{unit}.py"
    if own.is_file():
        return own.read_text()
    shared = SNIPPETS_DIR / "shared" / f"{unit}.py"
    if shared.is_file() and role in snippet_roles(shared.read_text()):
        return shared.read_text()
    return None


def _toolkit_imports(code: str) -> set[str]:
    return {
        alias.name
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("genoteam.toolkit")
        for alias in node.names
    }


UNITS = [
    (name, unit)
    for name, guideline in load_guidelines(None).items()
    for unit in guideline.action_units
    if _snippet(OWNER[name], unit.name)
]


@pytest.mark.parametrize(("guideline", "unit"), UNITS, ids=[f"{g}/{u.name}" for g, u in UNITS])
def test_every_toolkit_name_a_shipped_snippet_uses_is_in_its_units_api_card(guideline, unit):
    guidelines = load_guidelines(None)
    code = _snippet(OWNER[guideline], unit.name)
    names = _toolkit_imports(code)
    assert names, "a shipped snippet calls the toolkit"
    missing_from_index = names - set(toolkit_api())
    assert not missing_from_index, f"the API index misses {missing_from_index}"
    # the prompt as the loop builds it in shipped mode after memory failed: no example, only the card
    card = api_card(unit.instructions, code)
    messages = code_messages(
        OWNER[guideline], guidelines[guideline], unit, "t", "trait = 'T'\n", [], None, UnitBrief(api=card)
    )
    api_section = messages[1]["content"].split("# API", 1)[1].split("\n# ", 1)[0]
    for name in names:
        entry = toolkit_api()[name]
        assert entry.text.splitlines()[0] in api_section, f"{name} is not described in the prompt"


def test_the_card_is_read_from_the_source_with_return_types_expanded():
    card = api_card("tcga_files = find_tcga_files(cohort_dir)")
    assert "find_tcga_files(cohort_dir: str | Path) -> TcgaCohortFiles" in card
    assert "class TcgaCohortFiles" in card and "genes: Path | None" in card  # the returned type, unpacked
    report = api_card("normalize_gene_symbols")
    assert "class NormalizationReport" in report and "summary() -> str" in report
    assert api_card("nothing from the toolkit here") == ""
