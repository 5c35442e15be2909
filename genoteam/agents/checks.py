"""The checks of an action unit, run inside the sandbox kernel after every attempt.

The data lives in the kernel, so the checks travel there as one self-contained cell that
inspects the unit's variables and prints one marked JSON line; the host parses that line. A check
that cannot run (a missing variable, an exception) fails with the reason, never passes by default.
The invariant kinds (symbol coverage, the TCGA trait from barcodes) call the toolkit's own rule
inside the kernel, so a check and the code it judges cannot disagree about what the rule is,
and code cannot talk its way past them: they run on every attempt, memory code included.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from genoteam.agents.guidelines import ActionUnit

MARKER = "__GENOTEAM_CHECKS__"


class CheckOutcome(BaseModel):
    name: str
    passed: bool
    detail: str = ""
    skipped: bool = False  # its `when` condition was false


_CHECK_RUNNER = r"""
def _genoteam_checks(_specs, _produces, _ns):
    import json as _json
    import re as _re
    _out = []
    _symbol = _re.compile(r"^[A-Z][A-Z0-9-]*(orf[0-9]+)?[A-Z0-9-]*(\.[0-9]+)?$")

    def _frame(name):
        if name not in _ns:
            raise LookupError(f"variable {name!r} is not defined")
        return _ns[name]

    def _shape(value):
        shape = getattr(value, "shape", None)
        if shape is None:
            return (len(value), 1)
        return (shape[0], shape[1] if len(shape) > 1 else 1)

    for _name in _produces:
        ok = _name in _ns
        _out.append({"name": f"produces:{_name}", "passed": ok,
                     "detail": "" if ok else f"the unit must define `{_name}`, and it is not defined"})
    for _index, _spec in enumerate(_specs):
        _target = _spec.get("variable") or _spec.get("path_variable")
        _label = f"{_spec['kind']}#{_index + 1}" + (f":{_target}" if _target else "")
        try:
            if _spec.get("when") and not eval(_spec["when"], _ns):
                _out.append({"name": _label, "passed": True, "skipped": True, "detail": "when-condition false"})
                continue
            kind = _spec["kind"]
            problems = []
            if kind == "shape":
                rows, cols = _shape(_frame(_spec["variable"]))
                for key, actual, op in (("min_rows", rows, min), ("max_rows", rows, max),
                                        ("min_cols", cols, min), ("max_cols", cols, max)):
                    bound = _spec.get(key)
                    if bound is not None and ((op is min and actual < bound) or (op is max and actual > bound)):
                        problems.append(f"{key.replace('_', ' ')} {bound}, found {actual}")
                detail = f"shape {rows}x{cols}"
            elif kind == "value_range":
                frame = _frame(_spec["variable"])
                import pandas as _pd
                frame = _pd.DataFrame(frame)
                cols = _spec.get("columns") or list(frame.select_dtypes("number").columns)
                missing_cols = [c for c in cols if c not in frame.columns]
                if missing_cols:
                    problems.append(f"columns absent: {missing_cols[:5]}")
                values = frame[[c for c in cols if c in frame.columns]].apply(_pd.to_numeric, errors="coerce")
                total = values.size
                nan_fraction = float(values.isna().to_numpy().mean()) if total else 0.0
                if nan_fraction > _spec.get("max_missing_fraction", 1.0):
                    problems.append(f"{nan_fraction:.1%} missing values, at most {_spec['max_missing_fraction']:.1%} allowed")
                low = float(values.min().min()) if total else float("nan")
                high = float(values.max().max()) if total else float("nan")
                if _spec.get("min") is not None and low < _spec["min"]:
                    problems.append(f"minimum {low:g} below {_spec['min']:g}")
                if _spec.get("max") is not None and high > _spec["max"]:
                    problems.append(f"maximum {high:g} above {_spec['max']:g}")
                detail = f"range [{low:g}, {high:g}], {nan_fraction:.1%} missing"
            elif kind == "symbol_coverage":
                from genoteam.toolkit.symbols import load_symbol_table as _symbols
                _table = _symbols()
                frame = _frame(_spec["variable"])
                labels = [str(x) for x in (frame.index if _spec.get("axis", "index") == "index" else frame.columns)]
                good = sum(1 for x in labels if _symbol.match(x) and _table.resolve(x) is not None)
                fraction = good / len(labels) if labels else 0.0
                if fraction < _spec.get("min_fraction", 0.5):
                    problems.append(f"only {fraction:.1%} of {len(labels)} labels look like gene symbols "
                                    f"(need {_spec.get('min_fraction', 0.5):.0%}); e.g. {labels[:5]}")
                detail = f"{fraction:.1%} of {len(labels)} labels look like gene symbols"
            elif kind == "class_balance":
                frame = _frame(_spec["variable"])
                column = _spec["column"]
                if column.startswith("{") and column.endswith("}"):
                    column = _frame(column[1:-1])  # a kernel variable holding the column name
                if column not in frame.columns:
                    raise LookupError(f"column {column!r} is not in `{_spec['variable']}`")
                counts = frame[column].dropna().value_counts()
                minority = int(counts.min()) if len(counts) > 1 else 0
                fraction = minority / int(counts.sum()) if counts.sum() else 0.0
                if minority < _spec.get("min_minority_count", 2):
                    problems.append(f"minority class has {minority} samples, need {_spec.get('min_minority_count', 2)}")
                if fraction < _spec.get("min_minority_fraction", 0.0):
                    problems.append(f"minority fraction {fraction:.1%} below {_spec['min_minority_fraction']:.1%}")
                detail = "counts " + ", ".join(f"{k}: {v}" for k, v in counts.items())
            elif kind == "file_exists":
                import os as _os
                path = _frame(_spec["path_variable"])
                if not _os.path.isfile(str(path)) or _os.path.getsize(str(path)) == 0:
                    problems.append(f"file {path} is missing or empty")
                detail = str(path)
            elif kind == "expression":
                if not eval(_spec["expr"], _ns):
                    problems.append(f"expression is false: {_spec['expr']}")
                detail = _spec["expr"]
            elif kind == "tcga_barcode_trait":
                import math as _math
                from genoteam.toolkit.tcga import tcga_convert_trait as _from_barcode
                frame = _frame(_spec["variable"])
                row = _spec.get("row") or "{trait}"
                if row.startswith("{") and row.endswith("}"):
                    row = _frame(row[1:-1])
                if row not in frame.index:
                    raise LookupError(f"row {row!r} is not in `{_spec['variable']}`")
                wrong = []
                for sample, value in frame.loc[row].items():
                    expected = _from_barcode(sample)
                    same = (_math.isnan(expected) and value != value) or value == expected
                    if not same:
                        wrong.append(f"{sample}: {value} (barcode says {expected})")
                if wrong:
                    problems.append(f"{len(wrong)} of {frame.shape[1]} trait labels differ from the barcodes, "
                                    f"e.g. {wrong[:3]}")
                detail = f"{frame.shape[1]} trait labels match the barcodes"
            elif kind == "samples_subset":
                frame = _frame(_spec["variable"])
                labels = [str(x) for x in (frame.columns if _spec.get("axis", "columns") == "columns" else frame.index)]
                allowed = {str(x) for x in eval(_spec["of"], _ns)}
                outside = [x for x in labels if x not in allowed]
                if outside:
                    problems.append(f"{len(outside)} of {len(labels)} labels are not samples of the cohort, "
                                    f"e.g. {outside[:3]} (is the table transposed?)")
                if len(labels) < _spec.get("min_count", 1):
                    problems.append(f"{len(labels)} samples, need {_spec.get('min_count', 1)}")
                detail = f"{len(labels)} labels, all samples of the cohort" if not outside else ""
            else:
                problems.append(f"unknown check kind {kind!r}")
                detail = ""
            message = _spec.get("message") or ""
            _out.append({"name": _label, "passed": not problems,
                         "detail": "; ".join(problems + ([message] if problems and message else [])) or detail})
        except Exception as error:
            _out.append({"name": _label, "passed": False, "detail": f"check could not run: {type(error).__name__}: {error}"})
    print("{marker}" + _json.dumps(_out))
"""


def check_cell(unit: ActionUnit) -> str:
    """Python source that runs `unit`'s checks in the kernel and prints their outcomes."""
    specs = [check.model_dump() for check in unit.checks]
    runner = _CHECK_RUNNER.replace("{marker}", MARKER)
    return (
        f"{runner}\n_genoteam_checks(__import__('json').loads({json.dumps(specs)!r}), "
        f"{list(unit.produces)!r}, globals())\ndel _genoteam_checks\n"
    )


def parse_check_output(stdout: str) -> list[CheckOutcome] | None:
    """The outcomes printed by `check_cell`, or None when the marker line is absent."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            return [CheckOutcome(**item) for item in json.loads(line[len(MARKER) :])]
    return None


def probe_cell(expressions: dict[str, str]) -> str:
    """Python source that evaluates named expressions in the kernel and prints them marked.

    The planner uses it for `skip_if`/`stop_if`; an expression that raises reports the error
    instead of a value, so a broken condition is visible rather than silently false.
    """
    return (
        "def _genoteam_probe(_exprs, _ns):\n"
        "    import json as _json\n"
        "    _res = {}\n"
        "    for _k, _e in _exprs.items():\n"
        "        try:\n"
        "            _v = eval(_e, _ns)\n"
        "            _res[_k] = {'value': _v if isinstance(_v, (bool, int, float, str, type(None))) else str(_v)}\n"
        "        except Exception as _err:\n"
        "            _res[_k] = {'error': f'{type(_err).__name__}: {_err}'}\n"
        f"    print({PROBE_MARKER!r} + _json.dumps(_res, default=str))\n"
        f"_genoteam_probe(__import__('json').loads({json.dumps(json.dumps(expressions))}), globals())\n"
        "del _genoteam_probe\n"
    )


PROBE_MARKER = "__GENOTEAM_PROBE__"


def parse_probe_output(stdout: str) -> dict[str, dict] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(PROBE_MARKER):
            return json.loads(line[len(PROBE_MARKER) :])
    return None
