"""Code memory: snippets that passed before, reused only where their context fits and is trusted.

A snippet is keyed by the role whose guideline it serves, the action unit, and a context
signature (platform, file format, toolkit version). Fields may be "*" (fits any value), which
is how the shipped, validated snippets cover every cohort. Each snippet keeps its pass/fail
history and use count; each lookup is logged, so reuse rates can be reported per job.
SQLite, under the workspace, so memory persists across jobs and server restarts.

Trust (why: a model's approved code can still be wrong, and replaying it silently repeats the
mistake): shipped snippets outrank learned code unless the caller opts in (`prefer_learned`);
learned code records the model and job that wrote it and the workspace that learned it, and is
offered only inside that workspace (a memory file copied elsewhere brings no learned code along).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from genoteam import __version__ as GENOTEAM_VERSION
from genoteam.toolkit.errors import GenoteamError

WILDCARD = "*"
SHIPPED = "shipped"
SNIPPETS_DIR = Path(__file__).parent / "snippets"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snippets (
  id INTEGER PRIMARY KEY,
  role TEXT NOT NULL, unit TEXT NOT NULL,
  platform TEXT NOT NULL, file_format TEXT NOT NULL, toolkit_version TEXT NOT NULL, cohort TEXT NOT NULL,
  code TEXT NOT NULL, code_sha TEXT NOT NULL, origin TEXT NOT NULL,
  created REAL NOT NULL, passes INTEGER NOT NULL DEFAULT 0, fails INTEGER NOT NULL DEFAULT 0,
  uses INTEGER NOT NULL DEFAULT 0, retired INTEGER NOT NULL DEFAULT 0,
  model TEXT NOT NULL DEFAULT '', job_id TEXT NOT NULL DEFAULT '', workspace TEXT NOT NULL DEFAULT '',
  UNIQUE(role, unit, platform, file_format, toolkit_version, cohort, code_sha, workspace)
);
CREATE TABLE IF NOT EXISTS lookups (
  id INTEGER PRIMARY KEY, job_id TEXT, role TEXT, unit TEXT,
  platform TEXT, file_format TEXT, toolkit_version TEXT, cohort TEXT, snippet_id INTEGER, time REAL
);
"""


def default_memory_path() -> Path:
    """`<workspace>/code_memory.sqlite`; the workspace is $GENOTEAM_WORKSPACE (the server's) or
    $XDG_STATE_HOME/genoteam/workspace (~/.local/state/genoteam/workspace)."""
    workspace = os.environ.get("GENOTEAM_WORKSPACE")
    base = (
        Path(workspace)
        if workspace
        else Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        / "genoteam"
        / "workspace"
    )
    return base / "code_memory.sqlite"


def _columns(table: str) -> list[str]:
    """The current columns of one of the memory's tables, in order (read off _SCHEMA)."""
    with sqlite3.connect(":memory:") as db:
        db.executescript(_SCHEMA)
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def toolkit_version() -> str:
    """The toolkit's version as memory compares it (major.minor): code written for 0.1 fits 0.1.x."""
    return ".".join(GENOTEAM_VERSION.split(".")[:2])


MEMORY_KEYS = ("platform", "file_format", "cohort")


class ContextSignature(BaseModel, frozen=True):
    """What a snippet's fitness depends on: the platform, the input file format, the toolkit, and
    (for code that encodes judgement about one cohort's samples) the cohort itself."""

    platform: str = WILDCARD
    file_format: str = WILDCARD
    toolkit_version: str = toolkit_version()
    cohort: str = WILDCARD

    def _pairs(self, wanted: ContextSignature):
        return (
            (self.platform, wanted.platform),
            (self.file_format, wanted.file_format),
            (self.toolkit_version, wanted.toolkit_version),
            (self.cohort, wanted.cohort),
        )

    def fits(self, wanted: ContextSignature) -> bool:
        return all(mine == WILDCARD or mine == theirs for mine, theirs in self._pairs(wanted))

    def specificity(self) -> int:
        return sum(
            value != WILDCARD
            for value in (self.platform, self.file_format, self.toolkit_version, self.cohort)
        )

    def keep_only(self, keys: list[str] | tuple[str, ...]) -> ContextSignature:
        """The signature a learned snippet is stored under: the unit's memory keys kept, the rest "*".

        The toolkit version is always kept: code is only known to work with the toolkit it ran on."""
        return ContextSignature(
            toolkit_version=self.toolkit_version,
            **{key: getattr(self, key) for key in MEMORY_KEYS if key in keys},
        )


@dataclass(frozen=True)
class Snippet:
    id: int
    role: str
    unit: str
    signature: ContextSignature
    code: str
    origin: str
    passes: int
    fails: int
    uses: int
    model: str = ""  # the model that wrote learned code ("" for shipped snippets)
    job_id: str = ""  # the job that learned it
    workspace: str = ""  # the workspace that learned it; learned code is offered only there

    @property
    def shipped(self) -> bool:
        return self.origin == SHIPPED

    @property
    def trusted(self) -> bool:
        """Shipped snippets are validated by the project's tests; learned ones must have passed more than failed."""
        return self.origin == SHIPPED or self.passes > self.fails


def _sha(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class CodeMemory:
    """The SQLite-backed store. One instance per process; safe for sequential use across jobs."""

    def __init__(self, path: Path, workspace: str | None = None, shipped_only: bool = False) -> None:
        """`workspace` names where learned code may be reused (default: the memory file's folder).
        `shipped_only`: offer no learned (model-written) code, e.g. when code runs on the host."""
        self.path = Path(path)
        self.shipped_only = shipped_only
        self.workspace = workspace or str(self.path.resolve().parent)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._upgrade_old_tables()
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise GenoteamError(
                f"code memory {self.path} cannot be opened: {error}",
                "delete the file to start with an empty memory (shipped snippets are re-seeded)",
            ) from None

    def _upgrade_old_tables(self) -> None:
        """Carry a memory written by an older genoteam over to the current table layout.

        A column added since (e.g. `cohort`) cannot be added in place when it is part of the
        unique key, so the old table is renamed, the new one created and the rows copied, with
        '' for the new columns; pass/fail history and use counts are kept."""
        with self._db:
            for table in ("snippets", "lookups"):
                have = [row[1] for row in self._db.execute(f"PRAGMA table_info({table})")]
                want = _columns(table)
                if not have or have == want:
                    continue
                self._db.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
                self._db.executescript(_SCHEMA)
                values = ", ".join(c if c in have else "''" for c in want)
                self._db.execute(
                    f"INSERT OR IGNORE INTO {table} ({', '.join(want)}) SELECT {values} FROM {table}_old"
                )
                self._db.execute(f"DROP TABLE {table}_old")

    def close(self) -> None:
        self._db.close()

    def _row(self, row: tuple) -> Snippet:
        sid, role, unit, platform, file_format, tk, cohort, code, origin, passes, fails, uses = row[:12]
        model, job_id, workspace = row[12:]
        sig = ContextSignature(platform=platform, file_format=file_format, toolkit_version=tk, cohort=cohort)
        return Snippet(sid, role, unit, sig, code, origin, passes, fails, uses, model, job_id, workspace)

    _COLUMNS = (
        "id, role, unit, platform, file_format, toolkit_version, cohort, code, origin, passes, fails, uses,"
        " model, job_id, workspace"
    )

    def add(
        self,
        role: str,
        unit: str,
        signature: ContextSignature,
        code: str,
        origin: str,
        model: str = "",
        job_id: str = "",
    ) -> int:
        """Store a snippet (or find the identical one); returns its id.

        Learned code (origin other than shipped) belongs to this memory's workspace and records the
        model and job that wrote it; shipped snippets belong to every workspace ("")."""
        workspace = "" if origin == SHIPPED else self.workspace
        with self._db:
            key = (
                role,
                unit,
                signature.platform,
                signature.file_format,
                signature.toolkit_version,
                signature.cohort,
            )
            self._db.execute(
                "INSERT OR IGNORE INTO snippets (role, unit, platform, file_format, toolkit_version, cohort, code,"
                " code_sha, origin, created, model, job_id, workspace) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*key, code, _sha(code), origin, time.time(), model, job_id, workspace),
            )
            row = self._db.execute(
                "SELECT id FROM snippets WHERE role=? AND unit=? AND platform=? AND file_format=? AND toolkit_version=?"
                " AND cohort=? AND code_sha=? AND workspace=?",
                (*key, _sha(code), workspace),
            ).fetchone()
            self._db.execute("UPDATE snippets SET retired=0 WHERE id=?", (row[0],))
        return int(row[0])

    def candidates(
        self, role: str, unit: str, wanted: ContextSignature, prefer_learned: bool = False
    ) -> list[Snippet]:
        """Trusted snippets whose signature fits, best first.

        Shipped snippets come first unless `prefer_learned`; then the most specific, then the best
        record. Learned code from another workspace is never offered."""
        rows = self._db.execute(
            f"SELECT {self._COLUMNS} FROM snippets WHERE role=? AND unit=? AND retired=0", (role, unit)
        ).fetchall()
        found = [
            s
            for s in map(self._row, rows)
            if s.signature.fits(wanted)
            and s.trusted
            and (s.shipped or (not self.shipped_only and s.workspace == self.workspace))
        ]
        found.sort(
            key=lambda s: (
                s.shipped == prefer_learned,
                -s.signature.specificity(),
                -(s.passes - s.fails),
                s.id,
            )
        )
        return found

    def shipped_example(self, role: str, unit: str, wanted: ContextSignature) -> Snippet | None:
        """The shipped snippet that fits, for a prompt's example (model-first authoring)."""
        return next((s for s in self.candidates(role, unit, wanted) if s.shipped), None)

    def lookup(
        self,
        role: str,
        unit: str,
        wanted: ContextSignature,
        job_id: str = "",
        prefer_learned: bool = False,
    ) -> Snippet | None:
        """The best fitting snippet, counting the use; every lookup is logged (hit or miss)."""
        found = self.candidates(role, unit, wanted, prefer_learned)
        best = found[0] if found else None
        with self._db:
            self._db.execute(
                "INSERT INTO lookups (job_id, role, unit, platform, file_format, toolkit_version, cohort, snippet_id,"
                " time) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    role,
                    unit,
                    wanted.platform,
                    wanted.file_format,
                    wanted.toolkit_version,
                    wanted.cohort,
                    best.id if best else None,
                    time.time(),
                ),
            )
            if best:
                self._db.execute("UPDATE snippets SET uses = uses + 1 WHERE id=?", (best.id,))
        return best

    def record_outcome(self, snippet_id: int, passed: bool) -> None:
        column = "passes" if passed else "fails"
        with self._db:
            self._db.execute(f"UPDATE snippets SET {column} = {column} + 1 WHERE id=?", (snippet_id,))

    def get(self, snippet_id: int) -> Snippet:
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM snippets WHERE id=?", (snippet_id,)).fetchone()
        if row is None:
            raise GenoteamError(f"code memory has no snippet {snippet_id}")
        return self._row(row)

    def entries(self, include_retired: bool = False) -> list[Snippet]:
        """Every snippet (for `genoteam memory list`), oldest first."""
        where = "" if include_retired else "WHERE retired=0"
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM snippets {where} ORDER BY id").fetchall()
        return [self._row(row) for row in rows]

    def forget(self, snippet_ids: list[int]) -> list[int]:
        """Delete learned snippets by id; returns the ids deleted. Shipped snippets cannot be
        forgotten (they are re-seeded at every job); asking to is an error, as is an unknown id."""
        rows = {
            row[0]: row[1]
            for row in self._db.execute(
                f"SELECT id, origin FROM snippets WHERE id IN ({','.join('?' * len(snippet_ids))})",
                snippet_ids,
            )
        }
        unknown = [sid for sid in snippet_ids if sid not in rows]
        if unknown:
            raise GenoteamError(
                f"code memory {self.path} has no snippet {', '.join(map(str, unknown))}",
                "see `genoteam memory list` for the ids",
            )
        shipped = [sid for sid in snippet_ids if rows[sid] == SHIPPED]
        if shipped:
            raise GenoteamError(
                f"snippet(s) {', '.join(map(str, shipped))} are shipped with genoteam and cannot be forgotten",
                "use --authoring model-first to have models write every unit instead",
            )
        with self._db:
            self._db.executemany("DELETE FROM snippets WHERE id=?", [(sid,) for sid in snippet_ids])
        return list(snippet_ids)

    def stats(self, job_id: str | None = None) -> dict:
        """Lookups, hits and hit rate (overall and per unit), for one job or all of them."""
        where, args = ("WHERE job_id=?", (job_id,)) if job_id is not None else ("", ())
        rows = self._db.execute(
            f"SELECT role, unit, COUNT(*), SUM(snippet_id IS NOT NULL) FROM lookups {where} GROUP BY role, unit",
            args,
        ).fetchall()
        per_unit = {f"{role}/{unit}": {"lookups": n, "hits": int(h or 0)} for role, unit, n, h in rows}
        lookups = sum(v["lookups"] for v in per_unit.values())
        hits = sum(v["hits"] for v in per_unit.values())
        totals = self._db.execute(
            "SELECT origin, COUNT(*) FROM snippets WHERE retired=0 GROUP BY origin"
        ).fetchall()
        return {
            "lookups": lookups,
            "hits": hits,
            "hit_rate": hits / lookups if lookups else None,
            "per_unit": per_unit,
            "snippets_by_origin": dict(totals),
        }

    def seed_shipped(self, folder: Path = SNIPPETS_DIR) -> int:
        """Load the shipped snippets (`<role>/<unit>.py`); older shipped versions are retired."""
        count = 0
        for path in sorted(Path(folder).glob("*/*.py")):
            unit = path.stem
            code = path.read_text(encoding="utf-8")
            signature = parse_snippet_header(code)
            roles = snippet_roles(code) if path.parent.name == "shared" else [path.parent.name]
            for role in roles:
                snippet_id = self.add(role, unit, signature, code, SHIPPED)
                with self._db:
                    self._db.execute(
                        "UPDATE snippets SET retired=1 WHERE role=? AND unit=? AND origin=? AND id<>? AND platform=?"
                        " AND file_format=?",
                        (role, unit, SHIPPED, snippet_id, signature.platform, signature.file_format),
                    )
                count += 1
        return count


_HEADER = re.compile(r"^#\s*genoteam-snippet:\s*(.*)$", re.MULTILINE)


def _header_fields(code: str) -> dict[str, str]:
    match = _HEADER.search(code)
    fields: dict[str, str] = {}
    for part in match.group(1).split() if match else []:
        key, _, value = part.partition("=")
        fields[key] = value
    return fields


def snippet_roles(code: str) -> list[str]:
    """The roles a shared snippet serves (`roles=geo,tcga` in its header); a shared snippet must say."""
    roles = [role for role in _header_fields(code).get("roles", "").split(",") if role]
    if not roles:
        raise GenoteamError("a shared snippet has no `roles=` in its `# genoteam-snippet:` header")
    return roles


def parse_snippet_header(code: str) -> ContextSignature:
    """`# genoteam-snippet: platform=* file_format=soft` -> its signature (missing fields: "*")."""
    fields = {k: v for k, v in _header_fields(code).items() if k in ("platform", "file_format") and v}
    return ContextSignature(**fields)
