"""Gene symbol normalisation from the shipped org.Hs.eg.db extract, and its reproducibility."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoteam.toolkit import symbols_build
from genoteam.toolkit.symbols import (
    META_PATH,
    TABLE_PATH,
    load_symbol_table,
    normalize_gene_symbols,
    normalize_symbol,
)
from tests.prerequisites import skip_or_fail_in_ci


@pytest.mark.parametrize(
    ("old", "current"),
    [
        ("P53", "TP53"),
        ("HER2", "ERBB2"),
        ("MLL", "KMT2A"),
        ("SEPT9", "SEPTIN9"),
        ("C10orf54", "VSIR"),
        ("tp53", "TP53"),
    ],
)
def test_required_renames(old, current):
    assert normalize_symbol(old) == current


def test_unknown_names_resolve_to_none():
    assert normalize_symbol("NOT_A_GENE_XYZ") is None
    assert normalize_symbol("") is None


def _raw_rows() -> pd.DataFrame:
    with gzip.open(TABLE_PATH, "rt") as handle:
        return pd.read_csv(handle, sep="\t", dtype=str)


def test_current_symbol_wins_over_alias_of_another_gene():
    rows = _raw_rows()
    symbols = set(rows["symbol"])
    clashes = []
    for symbol, aliases in zip(rows["symbol"], rows["aliases"].fillna(""), strict=True):
        clashes.extend(
            (alias, symbol) for alias in aliases.split("|") if alias in symbols and alias != symbol
        )
    assert len(clashes) > 100  # many current symbols are also old names of other genes
    table = load_symbol_table()
    for alias, other_gene in clashes[:200]:
        assert table.resolve(alias) == alias, (alias, other_gene)


def test_ambiguous_alias_goes_to_lowest_entrez_id():
    rows = _raw_rows()
    rows["entrez_id"] = rows["entrez_id"].astype(int)
    symbols = {s.upper() for s in rows["symbol"]}
    owners: dict[str, list[tuple[int, str]]] = {}
    for gene_id, symbol, aliases in rows.itertuples(index=False):
        for alias in (aliases or "").split("|") if isinstance(aliases, str) else []:
            owners.setdefault(alias.upper(), []).append((gene_id, symbol))
    ambiguous = {a: sorted(o) for a, o in owners.items() if len({s for _, s in o}) > 1 and a not in symbols}
    assert len(ambiguous) > 1000
    table = load_symbol_table()
    for alias, candidates in list(ambiguous.items())[:300]:
        assert table.resolve(alias) == candidates[0][1]
    assert table.resolve("ACT") == "SERPINA3"  # Entrez 12 (alpha-1-antichymotrypsin) beats ACTG1 (71)


def test_normalize_renames_drops_unknown_and_averages_duplicates():
    df = pd.DataFrame(
        {"S1": [1.0, 3.0, 5.0, 7.0, 2.0], "S2": [2.0, np.nan, 6.0, 8.0, 4.0]},
        index=pd.Index(["P53", "TP53", "FOO_UNKNOWN", "HER2", "SEPT9"], name="Gene"),
    )
    out, report = normalize_gene_symbols(df)
    assert list(out.index) == ["ERBB2", "SEPTIN9", "TP53"]
    assert out.loc["TP53", "S1"] == 2.0  # mean of P53 (1) and TP53 (3)
    assert out.loc["TP53", "S2"] == 2.0  # mean skips the missing value
    assert out.loc["ERBB2"].tolist() == [7.0, 8.0]
    assert (
        report.rows_in,
        report.rows_renamed,
        report.rows_dropped_unknown,
        report.genes_out,
        report.rows_merged,
    ) == (5, 3, 1, 3, 1)
    assert report.dropped_examples == ["FOO_UNKNOWN"]
    assert report.renamed_examples == {"P53": "TP53", "HER2": "ERBB2", "SEPT9": "SEPTIN9"}
    assert "r-bioc-org.hs.eg.db" in report.source and "Entrez Gene" in report.source


def test_shipped_metadata_names_source_and_version():
    meta = json.loads(META_PATH.read_text())
    assert meta["source_package"] == "r-bioc-org.hs.eg.db"
    assert meta["source_package_version"]
    assert meta["source"]["TAXID"] == "9606"
    assert meta["genes"] > 60000
    assert TABLE_PATH.stat().st_size < 3_000_000
    import hashlib

    assert hashlib.sha256(TABLE_PATH.read_bytes()).hexdigest() == meta["table_sha256"]


def test_regenerating_from_the_sqlite_gives_the_shipped_table(tmp_path):
    sqlite = symbols_build.DEFAULT_SQLITE
    if not sqlite.is_file():
        message = (
            f"{sqlite} is absent (apt-get install r-bioc-org.hs.eg.db; scripts/setup.d/40-geo-peers.sh does)"
        )
        skip_or_fail_in_ci(message)
    meta = json.loads(META_PATH.read_text())
    installed = symbols_build.debian_package_version()
    if installed != meta["source_package_version"]:
        pytest.skip(
            f"installed org.Hs.eg.db {installed} differs from the shipped table's {meta['source_package_version']}"
        )
    symbols_build.main(["--sqlite", str(sqlite), "--out", str(tmp_path)])
    assert (tmp_path / symbols_build.TABLE_NAME).read_bytes() == TABLE_PATH.read_bytes()
    assert json.loads((tmp_path / symbols_build.META_NAME).read_text()) == meta


def test_damaged_table_is_a_clear_error(tmp_path):
    from genoteam.toolkit.errors import InputFileError

    broken = tmp_path / "gene_symbols.tsv.gz"
    broken.write_bytes(TABLE_PATH.read_bytes()[:1000])
    shutil.copy(META_PATH, tmp_path / "gene_symbols.meta.json")
    with pytest.raises(InputFileError, match="gene symbol table cannot be read"):
        load_symbol_table(Path(broken), Path(tmp_path / "gene_symbols.meta.json"))


def test_build_refuses_a_missing_sqlite(tmp_path):
    from genoteam.toolkit.errors import InputFileError

    with pytest.raises(InputFileError, match="does not exist"):
        symbols_build.build(tmp_path / "missing.sqlite", tmp_path)
