"""The API card: the toolkit functions and types a unit's code will call, generated from the source.

Why: a model writing a unit from prose alone guesses signatures and return types (`cannot unpack
non-iterable TcgaCohortFiles object`). The card is read off the toolkit's own source with `ast`
(signatures, return annotations, the first paragraph of each docstring; for classes the fields,
properties and methods), so it can never drift from the code and costs no import of the toolkit.
A unit's card holds every toolkit name its instructions or its shipped snippet mention, plus the
toolkit types those functions return.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import genoteam.toolkit
from genoteam.agents.parsing import parse_source

TOOLKIT_DIR = Path(genoteam.toolkit.__file__).parent
_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
DOC_LIMIT = 320


@dataclass(frozen=True)
class ApiEntry:
    name: str
    module: str
    kind: str  # "function", "class" or "constant"
    text: str  # the rendered card lines
    refs: tuple[str, ...] = ()  # identifiers in its signature / fields (to pull in returned types)


def _first_paragraph(node: ast.AST) -> str:
    doc = ast.get_docstring(node) or ""
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    return paragraph if len(paragraph) <= DOC_LIMIT else paragraph[: DOC_LIMIT - 3] + "..."


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef, skip_self: bool = False) -> str:
    args = node.args
    if skip_self and args.args and args.args[0].arg in ("self", "cls"):
        args = ast.arguments(
            posonlyargs=args.posonlyargs,
            args=args.args[1:],
            vararg=args.vararg,
            kwonlyargs=args.kwonlyargs,
            kw_defaults=args.kw_defaults,
            kwarg=args.kwarg,
            defaults=args.defaults[-len(args.args[1:]) :] if args.args[1:] and args.defaults else [],
        )
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{node.name}({ast.unparse(args)}){returns}"


def _function_entry(node, module: str) -> ApiEntry:
    signature = _signature(node)
    doc = _first_paragraph(node)
    text = f"- {signature}" + (f"\n    {doc}" if doc else "")
    returns = ast.unparse(node.returns) if node.returns else ""
    return ApiEntry(node.name, module, "function", text, tuple(_IDENTIFIER.findall(returns)))


def _class_entry(node: ast.ClassDef, module: str) -> ApiEntry:
    fields, members, refs = [], [], []
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            if not item.target.id.startswith("_"):
                annotation = ast.unparse(item.annotation)
                fields.append(f"{item.target.id}: {annotation}")
                refs += _IDENTIFIER.findall(annotation)
        elif isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
            is_property = any(ast.unparse(d) in ("property", "cached_property") for d in item.decorator_list)
            if is_property:
                returns = ast.unparse(item.returns) if item.returns else "?"
                fields.append(f"{item.name}: {returns} (property)")
            else:
                members.append(_signature(item, skip_self=True))
    bases = ", ".join(ast.unparse(b) for b in node.bases)
    lines = [f"- class {node.name}" + (f"({bases})" if bases else "")]
    doc = _first_paragraph(node)
    if doc:
        lines.append(f"    {doc}")
    if fields:
        lines.append("    fields: " + "; ".join(fields))
    if members:
        lines.append("    methods: " + "; ".join(members))
    return ApiEntry(node.name, module, "class", "\n".join(lines), tuple(refs))


@lru_cache(maxsize=1)
def toolkit_api() -> dict[str, ApiEntry]:
    """Every public top-level function, class and UPPER_CASE constant of genoteam.toolkit, by name
    (first module wins)."""
    entries: dict[str, ApiEntry] = {}
    for path in sorted(TOOLKIT_DIR.rglob("*.py")):
        relative = path.relative_to(TOOLKIT_DIR.parent.parent).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        module = ".".join(parts)
        tree = parse_source(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if getattr(node, "name", "_").startswith("_"):
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                entries.setdefault(node.name, _function_entry(node, module))
            elif isinstance(node, ast.ClassDef):
                entries.setdefault(node.name, _class_entry(node, module))
        for node in tree.body:  # public constants (UPPER_CASE), shown with their value
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]+", target.id):
                    value = ast.unparse(node.value)
                    value = value if len(value) <= 160 else value[:157] + "..."
                    entries.setdefault(
                        target.id, ApiEntry(target.id, module, "constant", f"- {target.id} = {value}")
                    )
    return entries


def toolkit_names(text: str) -> set[str]:
    """The toolkit functions and classes a text mentions."""
    api = toolkit_api()
    return {name for name in _IDENTIFIER.findall(text) if name in api}


def api_card(*texts: str) -> str:
    """The card for everything `texts` mention, plus the toolkit types those return; grouped by module."""
    api = toolkit_api()
    wanted = set().union(*(toolkit_names(text) for text in texts)) if texts else set()
    frontier = list(wanted)
    while frontier:  # returned types, and the types in their fields, once each
        for ref in api[frontier.pop()].refs:
            if ref in api and api[ref].kind == "class" and ref not in wanted:
                wanted.add(ref)
                frontier.append(ref)
    by_module: dict[str, list[ApiEntry]] = {}
    for name in sorted(wanted):
        by_module.setdefault(api[name].module, []).append(api[name])
    blocks = []
    for module in sorted(by_module):
        order = {"constant": 0, "function": 1, "class": 2}
        entries = sorted(by_module[module], key=lambda e: (order[e.kind], e.name))
        blocks.append(f"from {module} import ...\n" + "\n".join(entry.text for entry in entries))
    return "\n\n".join(blocks)
