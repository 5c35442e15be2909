"""Rules for the tests and benchmarks themselves, read from their source (issue: test hygiene).

- The project's own modules are imported, never importorskip-ed: an import bug must fail, in CI too.
- "Skip here, fail in CI" has one home, tests/prerequisites.py; nobody else reads the CI variable.
- Tests reach their helpers as the package `tests`, benchmarks theirs from their own folder (no
  sys.path edits in either).
- Benchmarks import nothing from tests/ (they are run where no test tree need exist).
The docker marker rule is enforced at collection by tests/conftest.py.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS, BENCHMARKS = ROOT / "tests", ROOT / "benchmarks"
HELPER = TESTS / "prerequisites.py"


@functools.cache  # every rule reads the same trees: parse them once
def _sources(folder: Path) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(folder.rglob("*.py"))]


def _calls(tree: ast.Module) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def test_no_importorskip_of_the_projects_own_modules():
    offenders = [
        _where(path, call)
        for path, tree in _sources(TESTS) + _sources(BENCHMARKS)
        for call in _calls(tree)
        if _dotted(call.func).endswith("importorskip")
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and str(call.args[0].value).split(".")[0] in {"genoteam", "tests"}
    ]
    assert offenders == [], f"import these modules plainly: {offenders}"


def test_only_the_prerequisites_helper_reads_the_ci_variable():
    offenders = [
        _where(path, node)
        for path, tree in _sources(TESTS)
        if path not in {HELPER, Path(__file__).resolve()}
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value == "CI"
    ]
    assert offenders == [], f"use tests.prerequisites.skip_or_fail_in_ci / IN_CI instead: {offenders}"


def test_tests_and_benchmarks_do_not_edit_sys_path():
    offenders = [
        _where(path, call)
        for path, tree in _sources(TESTS) + _sources(BENCHMARKS)
        for call in _calls(tree)
        if _dotted(call.func).startswith("sys.path.")
    ]
    assert offenders == [], f"import helpers as tests.<area>.<module> instead: {offenders}"


def test_tests_do_not_load_modules_by_file_path():
    offenders = [
        _where(path, call)
        for path, tree in _sources(TESTS)
        for call in _calls(tree)
        if _dotted(call.func).endswith("spec_from_file_location")
    ]
    assert offenders == [], f"import the helper as tests.<area>.<module> instead: {offenders}"


def test_every_test_folder_is_a_package():
    folders = {path.parent for path in TESTS.rglob("test_*.py")} | {TESTS}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert missing == [], f"add __init__.py so helpers import as tests.<area>.<module>: {missing}"


def test_benchmarks_import_nothing_from_tests():
    test_modules = {path.stem for path in TESTS.rglob("*.py")} - {"__init__", "conftest"}
    offenders = []
    for path, tree in _sources(BENCHMARKS):
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "tests" or name in test_modules for name in names):
                offenders.append(_where(path, node))
    assert offenders == [], f"move what both need out of tests/: {offenders}"
