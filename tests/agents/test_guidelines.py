"""Guideline files: the shipped ones load; malformed ones are refused with file, line and problem."""

from __future__ import annotations

import pytest

from genoteam.agents.guidelines import GuidelineFileError, load_guideline, load_guidelines
from genoteam.toolkit.errors import GenoteamError

from .conftest import TOY_GUIDELINE


def test_shipped_guidelines_load_with_prose_and_units():
    guidelines = load_guidelines()
    assert set(guidelines) == {"geo", "tcga", "statistics"}
    for guideline in guidelines.values():
        assert len(guideline.prose) > 200, f"{guideline.source} has no prose beside it"
        assert guideline.action_units and all(unit.instructions.strip() for unit in guideline.action_units)
        assert any(unit.checks for unit in guideline.action_units)
    assert any(unit.needs_domain_knowledge for unit in guidelines["geo"].action_units)


def _write(tmp_path, text, name="g.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("mutate", "needle", "problem"),
    [
        (
            lambda t: t.replace("        min_rows: 10", "        min_rows: ten"),
            "min_rows: ten",
            "valid integer",
        ),
        (
            lambda t: t.replace("      - kind: file_exists", "      - kind: file_exist"),
            "kind: file_exist",
            "file_exist",
        ),
        (lambda t: t.replace("    optional: true", "    optionnal: true"), "optionnal: true", "Extra inputs"),
        (
            lambda t: t.replace('skip_if: "not table.isna().any().any()"', 'skip_if: "not table.isna("'),
            "skip_if:",
            "not a Python expression",
        ),
        (lambda t: t.replace("  - name: save", "  - name: Save Data"), "name: Save Data", "pattern"),
        (lambda t: t.replace("role: geo", "role: proteomics"), "role: proteomics", "role"),
    ],
)
def test_malformed_guideline_names_file_line_and_problem(tmp_path, mutate, needle, problem):
    text = mutate(TOY_GUIDELINE)
    assert text != TOY_GUIDELINE
    path = _write(tmp_path, text)
    with pytest.raises(GuidelineFileError) as caught:
        load_guideline(path)
    error = caught.value
    assert error.path == str(path)
    assert error.line == _line_of(text, needle), str(error)
    assert problem in str(error)
    assert f"{path}:{error.line}:" in error.problem


def test_yaml_syntax_error_gives_its_line(tmp_path):
    text = TOY_GUIDELINE.replace("    produces: [table]", "    produces: [table")
    with pytest.raises(GuidelineFileError) as caught:
        load_guideline(_write(tmp_path, text))
    assert "not valid YAML" in str(caught.value)
    assert caught.value.line is not None and caught.value.line >= _line_of(text, "produces: [table")


def test_duplicate_unit_names_are_refused(tmp_path):
    text = TOY_GUIDELINE.replace("  - name: preview", "  - name: load_table")
    with pytest.raises(GuidelineFileError, match="appears twice"):
        load_guideline(_write(tmp_path, text))


def test_not_a_mapping_and_unreadable_files_are_refused(tmp_path):
    with pytest.raises(GuidelineFileError, match="expected a mapping"):
        load_guideline(_write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(GuidelineFileError, match="cannot be read"):
        load_guideline(tmp_path / "absent.yaml")


def test_user_folder_needs_every_role_and_reads_prose(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "geo.yaml").write_text(TOY_GUIDELINE)
    (folder / "geo.md").write_text("# My GEO prose\nUse care.")
    with pytest.raises(GenoteamError, match="lacks the role"):
        load_guidelines(folder)
    (folder / "tcga.yaml").write_text(TOY_GUIDELINE.replace("role: geo", "role: tcga"))
    (folder / "statistics.yaml").write_text(TOY_GUIDELINE.replace("role: geo", "role: statistics"))
    loaded = load_guidelines(folder)
    assert loaded["geo"].prose.startswith("# My GEO prose")
    assert loaded["tcga"].prose == ""
    (folder / "geo2.yaml").write_text(TOY_GUIDELINE)
    with pytest.raises(GuidelineFileError, match="second guideline"):
        load_guidelines(folder)
    with pytest.raises(GenoteamError, match="does not exist"):
        load_guidelines(tmp_path / "nowhere")
