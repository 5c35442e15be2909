"""What the kernel holds, as an author or reviewer needs to see it before writing or judging a unit.

Why: code written from instructions alone guesses at types ("'tuple' object has no attribute
'empty'"), and a judgement unit cannot judge fields it never sees. The preview cell lists each
user variable with its type, shape and head (tables), keys (dicts), length (sequences) or public
attributes (objects); for a judgement unit it also lists every column of its `candidates` table
with the distinct values found there. Output is bounded, so a huge table costs a few lines.
"""

from __future__ import annotations

import json

MARKER = "__GENOTEAM_PREVIEW__"
PREVIEW_LIMIT = 6_000  # characters per part (variables; candidate fields) in a prompt

_CELL = r"""
def _genoteam_preview(_ns, _candidates, _limit):
    import json as _json, types as _types
    _skip = (_types.ModuleType, _types.FunctionType, _types.BuiltinFunctionType, type)
    _vars = []
    for _name, _value in list(_ns.items()):
        if _name.startswith("_") or _name in ("In", "Out", "exit", "quit", "get_ipython") or isinstance(_value, _skip):
            continue
        _entry = {"name": _name, "type": type(_value).__module__.split(".")[0] + "." + type(_value).__name__}
        try:
            if hasattr(_value, "iloc") and hasattr(_value, "shape"):
                _entry["shape"] = list(_value.shape)
                _head = _value.iloc[:3, :6] if getattr(_value, "ndim", 1) == 2 else _value.iloc[:5]
                _entry["head"] = _head.to_string()[:700]
            elif isinstance(_value, dict):
                _entry["len"] = len(_value)
                _entry["keys"] = [str(k)[:60] for k in list(_value)[:12]]
            elif isinstance(_value, (list, tuple, set, frozenset)):
                _entry["len"] = len(_value)
                _entry["head"] = repr(list(_value)[:3])[:300]
            elif isinstance(_value, (str, int, float, bool, type(None))):
                _entry["value"] = repr(_value)[:300]
            else:
                _entry["attributes"] = [a for a in dir(_value) if not a.startswith("_")][:20]
        except Exception as _error:
            _entry["error"] = f"{type(_error).__name__}: {_error}"[:200]
        _vars.append(_entry)
    _fields = None
    if _candidates:
        _table = _ns.get(_candidates)
        if _table is None or not hasattr(_table, "columns"):
            _fields = {"error": f"candidates table {_candidates!r} is not defined here"}
        else:
            _fields = {}
            for _column in _table.columns:
                _values = _table[_column].dropna().astype(str).unique()
                _fields[str(_column)[:80]] = {"distinct": int(len(_values)),
                                              "values": [v[:80] for v in _values[:12]]}
    print("{marker}" + _json.dumps({"variables": _vars, "candidates": _fields}, default=str))
_genoteam_preview(globals(), _CANDIDATES, 0)
del _genoteam_preview
"""


def preview_cell(candidates: str | None = None) -> str:
    return f"_CANDIDATES = {candidates!r}\n" + _CELL.replace("{marker}", MARKER) + "del _CANDIDATES\n"


def parse_preview(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    return None


def render_preview(preview: dict | None, candidates: str | None = None) -> str:
    """The preview as prompt text, at most PREVIEW_LIMIT characters (variables first)."""
    if not preview:
        return "(the kernel's variables could not be listed)"
    lines = []
    for var in preview.get("variables", []):
        facts = [var["type"]]
        if "shape" in var:
            facts.append("shape " + "x".join(map(str, var["shape"])))
        if "len" in var:
            facts.append(f"len {var['len']}")
        if "value" in var:
            facts.append(f"= {var['value']}")
        if "keys" in var:
            facts.append(f"keys {var['keys']}")
        if "attributes" in var:
            facts.append(f"attributes {var['attributes']}")
        if "error" in var:
            facts.append(f"(cannot show: {var['error']})")
        lines.append(f"- `{var['name']}`: " + ", ".join(facts))
        if "head" in var:
            lines.append("  " + var["head"].replace("\n", "\n  "))
    text = _bounded("\n".join(lines))
    fields = preview.get("candidates")
    if fields:
        rows = [f"Candidate fields (columns of `{candidates}`) and their distinct values:"]
        if "error" in fields:
            rows.append(f"({fields['error']})")
        else:
            rows += [
                f"- {column} ({info['distinct']} distinct): {info['values']}"
                for column, info in fields.items()
            ]
        text += "\n\n" + _bounded("\n".join(rows))
    return text


def _bounded(text: str) -> str:
    if len(text) <= PREVIEW_LIMIT:
        return text
    return text[:PREVIEW_LIMIT] + f"\n... [{len(text) - PREVIEW_LIMIT} characters of preview cut]"
