"""The package's layers (docs/architecture.md): an import that crosses a layer the wrong way, or a
new top-level module without a layer, fails here. Function-level (lazy) imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

import genoteam

PACKAGE = Path(genoteam.__file__).parent
ENTRY_POINTS = {"cli", "__main__", "synthetic_cli", "__init__"}
LOWER = {
    "toolkit": set(),
    "shipped": {"toolkit"},
    "data": {"toolkit", "shipped"},
    "evaluation": {"toolkit", "shipped"},
    "synthetic": {"toolkit", "shipped"},
    "synthetic_traits": {"toolkit", "shipped", "synthetic"},
    "synthetic_corpus": {"toolkit", "shipped", "synthetic", "synthetic_traits"},
    "synthetic_write": {"toolkit", "shipped", "synthetic", "synthetic_traits", "synthetic_corpus"},
    "sandbox": {"toolkit", "shipped"},
    "pipeline": {"toolkit", "data", "shipped"},
    "agents": {"toolkit", "data", "pipeline", "sandbox", "shipped"},
    "batch": {"toolkit", "data", "evaluation", "pipeline", "sandbox", "agents", "shipped"},
    "server": {"toolkit", "data", "evaluation", "pipeline", "sandbox", "agents", "batch", "shipped"},
}


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def genoteam_imports(text: str, path: Path) -> list[tuple[int, str]]:
    """(line, top-level genoteam module) of every absolute or relative import in `text`, the source
    of the module at `path` (its folder resolves relative imports)."""
    tree = ast.parse(text, filename=str(path))
    package = ("genoteam",) + path.relative_to(PACKAGE).parent.parts
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join(base + ((node.module,) if node.module else ()))
            names = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "genoteam" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def test_every_import_points_down_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = layer_of(path)
        if source in ENTRY_POINTS:
            continue
        assert source in LOWER, (
            f"{path.relative_to(PACKAGE)}: module {source!r} has no layer (add it here and to docs/architecture.md)"
        )
        for line, target in genoteam_imports(path.read_text(), path):
            if target != source and target not in LOWER[source]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} ({source}) imports genoteam.{target}")
    assert not wrong, "imports against the layers (docs/architecture.md):\n" + "\n".join(wrong)


def test_the_check_sees_a_wrong_way_import():
    """The reader finds absolute, relative and lazy imports, so a violation cannot hide in one."""
    text = "from ..agents import loop\nimport genoteam.server.app\n\ndef f():\n    from genoteam.sandbox import api\n"
    found = genoteam_imports(text, PACKAGE / "toolkit" / "probe.py")
    assert [target for _, target in found] == ["agents", "server", "sandbox"]


def test_the_run_record_and_its_writers_do_not_reach_into_the_engine():
    """provenance.json and report.md are functions of the frozen run record alone: the record is
    taken from the job's state, so none of these modules imports the engine (no import circle)."""
    for name in ("run_record", "manifest", "report"):
        tree = ast.parse((PACKAGE / "agents" / f"{name}.py").read_text())
        imported = [
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [None])
        ]
        assert not [m for m in imported if m and m.endswith("agents.engine")], (
            f"agents/{name}.py imports the engine"
        )
