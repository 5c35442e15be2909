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


def test_genotex_policy_renames_drops_unknown_and_averages_duplicates():
    df = pd.DataFrame(
        {"S1": [1.0, 3.0, 5.0, 7.0, 2.0], "S2": [2.0, np.nan, 6.0, 8.0, 4.0]},
        index=pd.Index(["P53", "TP53", "FOO_UNKNOWN", "HER2", "SEPT9"], name="Gene"),
    )
    out, report = normalize_gene_symbols(df, policy="genotex")
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


def test_analyst_policy_keeps_measured_symbols_and_renames_only_safe_aliases():
    names = ["TP53", "P53", "HER2", "HN1", "FOO_UNKNOWN", "CXorf59", "CXorf30", "tp53"]
    df = pd.DataFrame(
        {"S1": [1.0, 9.0, 7.0, 5.0, 2.0, 4.0, 6.0, 3.0], "S2": [2.0, 9.0, 8.0, 5.0, 2.0, 6.0, 8.0, 4.0]},
        index=pd.Index(names, name="Gene"),
    )
    out, report = normalize_gene_symbols(df)
    assert report.policy == "analyst"
    assert list(out.index) == ["CFAP47", "ERBB2", "TP53"]
    # TP53 is measured: its own values (with its case variant), never averaged with the alias P53
    assert out.loc["TP53"].tolist() == [2.0, 3.0]
    assert out.loc["ERBB2"].tolist() == [7.0, 8.0]  # HER2 names one gene, and ERBB2 is not measured
    assert out.loc["CFAP47"].tolist() == [5.0, 7.0]  # two unique aliases of one unmeasured gene
    assert report.renamed == {"HER2": "ERBB2", "CXorf59": "CFAP47", "CXorf30": "CFAP47", "tp53": "TP53"}
    assert report.dropped["P53"] == "alias of a measured gene: TP53"
    assert report.dropped["HN1"].startswith("ambiguous alias: ") and "NOTCH1" in report.dropped["HN1"]
    assert report.ambiguous["HN1"][:1] == ["NOTCH1"] and len(report.ambiguous["HN1"]) > 1
    assert report.dropped["FOO_UNKNOWN"] == "unknown"
    assert report.merged == {"CFAP47": ["CXorf59", "CXorf30"], "TP53": ["TP53", "tp53"]}
    assert report.dropped_counts == {"unknown": 1, "ambiguous alias": 1, "alias of a measured gene": 1}
    assert (report.rows_in, report.genes_out, report.rows_merged) == (8, 3, 2)
    record = report.record()
    assert record["table_version"] == {
        "package": "r-bioc-org.hs.eg.db",
        "package_version": "3.16.0-1",
        "entrez_gene_date": "2022-Sep12",
        "table_sha256": json.loads(META_PATH.read_text())["table_sha256"],
    }
    assert json.loads(json.dumps(record))["dropped"]["P53"].startswith("alias")
    assert "2 merged by averaging" in report.summary() and "1 dropped as ambiguous" in report.summary()


def test_unknown_policy_is_a_clear_error():
    from genoteam.toolkit.errors import GenoteamError

    with pytest.raises(GenoteamError, match="unknown symbol policy 'loose'"):
        normalize_gene_symbols(pd.DataFrame({"S1": [1.0]}, index=["TP53"]), policy="loose")


def test_chol_aliases_of_measured_genes_keep_their_own_values(shared_input):
    """The CHOL Xena rows the issue names: GenoTEX's rule averages each of them into another
    measured gene (HN1 -> NOTCH1, AGPAT9 -> LPCAT1); the analyst's rule drops the alias and
    the measured gene keeps exactly its own row."""
    from genoteam.toolkit.tcga import read_tcga_genes

    path = shared_input / "TCGA/TCGA_Bile_Duct_Cancer_(CHOL)/TCGA.CHOL.sampleMap_HiSeqV2_PANCAN.gz"
    raw = read_tcga_genes(path)
    out, report = normalize_gene_symbols(raw)
    pairs = {"HN1": "NOTCH1", "TUBB4": "TUBB3", "MUM1": "IRF4", "SHFM1": "DLX5", "CCRL1": "CX3CR1"}
    pairs |= {"RAGE": "AGER", "AGPAT9": "LPCAT1"}
    for alias, gene in pairs.items():
        assert alias in report.dropped and alias not in out.index
        assert out.loc[gene].tolist() == raw.loc[gene].tolist(), gene
    # MLL4 names KMT2D and KMT2B: dropped, where GenoTEX's rule guesses KMT2D (lowest Entrez id)
    assert report.dropped["MLL4"].startswith("ambiguous alias") and "KMT2D" not in out.index
    assert out.loc["ERGIC3"].tolist() == raw.loc["ERGIC3"].tolist()
    counts = report.dropped_counts
    assert counts["ambiguous alias"] == 100 and counts["alias of a measured gene"] == 28
    assert counts["unknown"] == report.rows_dropped_unknown == 597
    assert report.rows_renamed == len(report.renamed) == 2385 and report.genes_out == len(out) == 19795
    genotex, genotex_report = normalize_gene_symbols(raw, policy="genotex")
    assert genotex.loc["LPCAT1"].tolist() != raw.loc["LPCAT1"].tolist()  # averaged with AGPAT9
    assert set(genotex_report.merged["AGER"]) == {"RAGE", "AGER"}
