"""Transactional attempts: what a rejected attempt changed in the kernel is undone before the next.

Why: a rejected attempt that rebinds `gene_data` to a tuple makes the correct next attempt fail,
and a file it wrote satisfies a later attempt's `file_exists` check. So before every attempt the
kernel snapshots its variable bindings, remembers this cohort's record in the shared
cohort_info.json, and deletes the unit's declared output files (the paths its `file_exists`
checks name); a rejected attempt is rolled back to that snapshot (bindings restored, names it
added removed, its output files deleted, the cohort's record put back). Bindings, not deep
copies: an object changed in place is not restored (copying every table per attempt would cost
more than the replay the kernel-loss path already does).
"""

from __future__ import annotations

import json

from genoteam.agents.guidelines import ActionUnit

MARKER = "__GENOTEAM_TXN__"
_SAVED = "_genoteam_txn"


def output_variables(unit: ActionUnit) -> list[str]:
    """The kernel variables naming the files a unit declares it writes."""
    return [check.path_variable for check in unit.checks if check.kind == "file_exists"]


_BEGIN = r"""
def _genoteam_begin(_ns, _paths):
    import json as _json, os as _os
    _record = None
    _info, _cohort = _ns.get("cohort_info_file"), _ns.get("cohort")
    if isinstance(_info, str) and isinstance(_cohort, str) and _os.path.isfile(_info):
        try:
            with open(_info) as _f:
                _record = _json.load(_f).get(_cohort)
        except (OSError, ValueError, AttributeError):
            _record = None
    _removed = []
    for _name in _paths:
        _path = _ns.get(_name)
        if isinstance(_path, str) and _os.path.isfile(_path):
            _os.remove(_path)
            _removed.append(_path)
    _ns["{saved}"] = {"bindings": {k: v for k, v in _ns.items() if not k.startswith("_")},
                      "paths": list(_paths), "record": _record}
    print("{marker}" + _json.dumps({"removed": _removed}))
_genoteam_begin(globals(), _PATHS)
del _genoteam_begin
"""

_ROLLBACK = r"""
def _genoteam_rollback(_ns):
    import json as _json, os as _os
    _saved = _ns.pop("{saved}", None)
    if _saved is None:
        print("{marker}" + _json.dumps({"error": "no snapshot"}))
        return
    _added = [k for k in list(_ns) if not k.startswith("_") and k not in _saved["bindings"]]
    for _k in _added:
        del _ns[_k]
    _ns.update(_saved["bindings"])
    _removed = []
    for _name in _saved["paths"]:
        _path = _ns.get(_name)
        if isinstance(_path, str) and _os.path.isfile(_path):
            _os.remove(_path)
            _removed.append(_path)
    _info, _cohort = _ns.get("cohort_info_file"), _ns.get("cohort")
    _restored = False
    if isinstance(_info, str) and isinstance(_cohort, str):
        from genoteam.toolkit.cohort_info import restore_cohort_record
        _restored = restore_cohort_record(_info, _cohort, _saved["record"])
    print("{marker}" + _json.dumps({"removed_names": _added, "removed_files": _removed,
                                    "record_restored": _restored}))
_genoteam_rollback(globals())
del _genoteam_rollback
"""


def begin_cell(unit: ActionUnit) -> str:
    """Snapshot the bindings and clear the unit's declared output files (before an attempt)."""
    body = _BEGIN.replace("{saved}", _SAVED).replace("{marker}", MARKER)
    return f"_PATHS = {json.dumps(output_variables(unit))}\n{body}del _PATHS\n"


def rollback_cell() -> str:
    """Undo a rejected attempt: bindings, added names, its output files, the cohort's record."""
    return _ROLLBACK.replace("{saved}", _SAVED).replace("{marker}", MARKER)


def commit_cell(unit: ActionUnit) -> str:
    """Drop the snapshot of an approved attempt, and the variables the unit releases (no later
    unit reads them: without this the kernel keeps every unit's tables alive to the end)."""
    names = [_SAVED, *unit.releases]
    return f"for _name in {names!r}:\n    globals().pop(_name, None)\ndel _name\nimport gc as _gc\n_gc.collect()\ndel _gc\n"


def parse_transaction_output(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    return None
