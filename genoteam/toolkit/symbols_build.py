"""Build the shipped gene-symbol table from the SQLite inside Debian's `r-bioc-org.hs.eg.db`.

Why: symbol normalisation must work offline inside the sandbox, from a maintained source with
a known version. The Bioconductor org.Hs.eg.db package (NCBI Entrez Gene for Homo sapiens)
ships its data as plain SQLite, so it can be read with Python's sqlite3, without R. We keep
only what normalisation needs (Entrez ID, current symbol, aliases), a few hundred kB gzipped.

Run: `python -m genoteam.toolkit.symbols_build --sqlite PATH --out DIR`. The output is
byte-for-byte reproducible from the same SQLite (sorted rows, gzip mtime 0), so a test can
regenerate it and compare with the shipped copy.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from genoteam.toolkit.errors import InputFileError

DEFAULT_SQLITE = Path("/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite")
TABLE_NAME = "gene_symbols.tsv.gz"
META_NAME = "gene_symbols.meta.json"
DEBIAN_PACKAGE = "r-bioc-org.hs.eg.db"
# metadata keys of the SQLite that say which Entrez Gene release the table comes from
_SOURCE_KEYS = ("EGSOURCENAME", "EGSOURCEDATE", "EGSOURCEURL", "ORGANISM", "TAXID", "DBSCHEMAVERSION")


def debian_package_version(package: str = DEBIAN_PACKAGE) -> str | None:
    """The installed Debian version of `package`, or None when dpkg does not know it."""
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def read_symbol_rows(sqlite_path: Path) -> tuple[list[tuple[int, str, list[str]]], dict[str, str]]:
    """Rows (entrez id, current symbol, sorted aliases) and the source metadata of the SQLite."""
    if not sqlite_path.is_file():
        raise InputFileError(
            sqlite_path, "the org.Hs.eg.db SQLite file does not exist", f"apt-get install {DEBIAN_PACKAGE}"
        )
    try:
        con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
        try:
            meta = dict(con.execute("SELECT name, value FROM metadata").fetchall())
            genes = con.execute(
                "SELECT g._id, g.gene_id, i.symbol FROM genes g JOIN gene_info i ON g._id = i._id"
            ).fetchall()
            aliases = con.execute("SELECT _id, alias_symbol FROM alias").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as error:
        raise InputFileError(
            sqlite_path, f"not a readable org.Hs.eg.db SQLite ({error})", f"reinstall {DEBIAN_PACKAGE}"
        ) from error
    alias_by_id: dict[int, set[str]] = {}
    for internal_id, alias in aliases:
        alias_by_id.setdefault(internal_id, set()).add(alias)
    rows = []
    for internal_id, gene_id, symbol in genes:
        others = sorted(alias_by_id.get(internal_id, set()) - {symbol})
        rows.append((int(gene_id), symbol, others))
    rows.sort()
    if not rows:
        raise InputFileError(sqlite_path, "the SQLite has no genes", f"reinstall {DEBIAN_PACKAGE}")
    return rows, {key: meta[key] for key in _SOURCE_KEYS if key in meta}


def render_table(rows: list[tuple[int, str, list[str]]]) -> bytes:
    """The gzipped TSV (entrez_id, symbol, aliases joined by '|'), reproducible byte for byte."""
    text = io.StringIO()
    text.write("entrez_id\tsymbol\taliases\n")
    for gene_id, symbol, others in rows:
        text.write(f"{gene_id}\t{symbol}\t{'|'.join(others)}\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(text.getvalue().encode("utf-8"))
    return buffer.getvalue()


def build(sqlite_path: Path, out_dir: Path, package_version: str | None = None) -> dict:
    """Write gene_symbols.tsv.gz and gene_symbols.meta.json into out_dir; return the metadata."""
    rows, source = read_symbol_rows(sqlite_path)
    table = render_table(rows)
    version = package_version if package_version is not None else debian_package_version()
    meta = {
        "source_package": DEBIAN_PACKAGE,
        "source_package_version": version,
        "source_file": sqlite_path.name,
        "source": source,
        "genes": len(rows),
        "aliases": sum(len(others) for _, _, others in rows),
        "table": TABLE_NAME,
        "table_sha256": hashlib.sha256(table).hexdigest(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / TABLE_NAME).write_bytes(table)
    (out_dir / META_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, default=DEFAULT_SQLITE, help="org.Hs.eg.sqlite path")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data", help="output folder")
    parser.add_argument("--package-version", default=None, help="override the recorded Debian version")
    args = parser.parse_args(argv)
    meta = build(args.sqlite, args.out, args.package_version)
    print(
        f"wrote {args.out / TABLE_NAME}: {meta['genes']} genes, {meta['aliases']} aliases "
        f"from {meta['source_package']} {meta['source_package_version']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
