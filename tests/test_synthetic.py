"""The synthetic cohort generator: real formats, GenoTEX layout, determinism, a truth that holds."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genoteam.cli import main
from genoteam.synthetic import SynthConfig, generate
from genoteam.toolkit import geo, tcga
from genoteam.toolkit.errors import GenoteamError

TRAIT = "Kidney_Clear_Cell_Carcinoma"


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth")
    truth = generate(SynthConfig(n_genes=400, n_samples=60, seed=11), out)
    return out, truth


def _geo_folder(out: Path, truth: dict, k: int = 0) -> tuple[Path, dict]:
    cohort = [c for c in truth["cohorts"] if c["source"] == "GEO"][k]
    return out / cohort["folder"], cohort


def _tcga(out: Path, truth: dict) -> tuple[Path, dict]:
    cohort = next(c for c in truth["cohorts"] if c["source"] == "TCGA")
    return out / cohort["folder"], cohort


def test_layout_is_genotex_input_layout(small):
    out, truth = small
    gse_dirs = sorted((out / "GEO" / TRAIT).iterdir())
    assert [d.name for d in gse_dirs] == ["GSE9901101", "GSE9901102"]
    for d in gse_dirs:
        assert sorted(p.name for p in d.iterdir()) == [
            f"{d.name}_family.soft.gz",
            f"{d.name}_series_matrix.txt.gz",
        ]
    tcga = out / "TCGA" / f"TCGA_{TRAIT}_(KIRC)"
    assert sorted(p.name for p in tcga.iterdir()) == [
        "TCGA.KIRC.sampleMap_HiSeqV2_PANCAN.gz",
        "TCGA.KIRC.sampleMap_KIRC_clinicalMatrix",
    ]
    assert {f["path"] for f in truth["files"]} == {
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "truth.json"
    }
    assert not list(out.rglob("*.partial"))


def test_series_matrix_is_geo_format_and_parses_with_pandas(small):
    out, truth = small
    folder, cohort = _geo_folder(out, truth)
    path = folder / f"{cohort['cohort']}_series_matrix.txt.gz"
    lines = gzip.open(path, "rt").read().splitlines()
    assert lines[0].startswith('!Series_title\t"') and lines[-1] == "!series_matrix_table_end"
    assert f'!Series_geo_accession\t"{cohort["cohort"]}"' in lines
    begin = lines.index("!series_matrix_table_begin")
    header = dict(
        line.split("\t", 1)
        for line in lines[:begin]
        if line.startswith("!Sample_") and not line.startswith("!Sample_characteristics_ch1")
    )
    gsms = [v.strip('"') for v in header["!Sample_geo_accession"].split("\t")]
    assert gsms == list(cohort["samples"])
    characteristics = [
        line.split("\t")[1:] for line in lines[:begin] if line.startswith("!Sample_characteristics_ch1")
    ]
    first = [v.strip('"') for v in characteristics[0]]
    # the first characteristics row carries the trait, written from the recorded truth
    for gsm, value in zip(gsms, first, strict=True):
        assert value == (
            "disease state: tumor" if cohort["samples"][gsm]["trait"] else "disease state: normal"
        )
    assert lines[begin + 1].split("\t")[0] == '"ID_REF"'
    table = pd.read_csv(path, sep="\t", comment="!", index_col=0)
    assert list(table.columns) == gsms and table.shape == (cohort["n_probes"], 60)
    assert table.dtypes.map(lambda d: d.kind == "f").all() and table.notna().all().all()


def test_family_soft_has_series_platform_table_and_sample_tables(small):
    out, truth = small
    folder, cohort = _geo_folder(out, truth, 1)
    lines = gzip.open(folder / f"{cohort['cohort']}_family.soft.gz", "rt").read().splitlines()
    assert lines[0] == "^DATABASE = GeoMiame"
    assert f"^SERIES = {cohort['cohort']}" in lines and f"^PLATFORM = {cohort['platform']}" in lines
    start, end = lines.index("!platform_table_begin"), lines.index("!platform_table_end")
    platform = pd.DataFrame(
        [row.split("\t") for row in lines[start + 2 : end]], columns=lines[start + 1].split("\t")
    )
    assert list(platform.columns[:2]) == ["ID", "Gene Symbol"] and len(platform) == cohort["n_probes"]
    assert (platform["Gene Symbol"].str.contains(" /// ")).sum() == cohort["n_multi_gene_probes"] > 0
    assert (platform["Gene Symbol"] == "").sum() == cohort["n_control_probes"] > 0
    assert sum(line.startswith("^SAMPLE = ") for line in lines) == 60
    # the second style words its characteristics differently (readers must cope, as with real GEO)
    assert "!Sample_characteristics_ch1 = Sex: F" in lines or "!Sample_characteristics_ch1 = Sex: M" in lines
    # every sample table equals that sample's column of the series matrix
    matrix = pd.read_csv(
        folder / f"{cohort['cohort']}_series_matrix.txt.gz", sep="\t", comment="!", index_col=0
    )
    first = lines.index("!sample_table_begin")
    rows = lines[first + 2 : first + 2 + cohort["n_probes"]]
    values = pd.Series({r.split("\t")[0]: float(r.split("\t")[1]) for r in rows})
    gsm = next(iter(cohort["samples"]))
    assert np.allclose(values.loc[matrix.index].to_numpy(), matrix[gsm].to_numpy())


def test_geo_files_read_back_with_the_toolkit_and_geoparse(small):
    out, truth = small
    folder, cohort = _geo_folder(out, truth)
    data = geo.read_geo_cohort(folder).only_platform()
    assert data.expression.shape == (cohort["n_probes"], 60)
    assert data.annotation["Gene Symbol"].notna().sum() == cohort["n_probes"] - cohort["n_control_probes"]
    soft = geo.read_geo(folder / f"{cohort['cohort']}_family.soft.gz").only_platform()
    assert np.allclose(soft.expression.loc[data.expression.index, data.expression.columns], data.expression)
    import GEOparse

    logging.getLogger("GEOparse").setLevel(logging.ERROR)
    gse = GEOparse.get_GEO(filepath=str(folder / f"{cohort['cohort']}_family.soft.gz"), silent=True)
    assert gse.name == cohort["cohort"] and len(gse.gsms) == 60 and list(gse.gpls) == [cohort["platform"]]
    assert gse.pivot_samples("VALUE").shape == (cohort["n_probes"], 60)


def test_tcga_files_are_xena_format(small):
    out, truth = small
    folder, cohort = _tcga(out, truth)
    genes = pd.read_csv(folder / "TCGA.KIRC.sampleMap_HiSeqV2_PANCAN.gz", sep="\t", index_col=0)
    assert genes.index.name == "sample" and genes.shape == (400, 60)
    assert len(set(genes.index)) == 400 and set(genes.index) >= {g["gene"] for g in truth["trait_genes"]}
    for barcode in genes.columns:  # TCGA-XX-XXXX-01 tumour, -11 normal, as recorded
        assert barcode.startswith("TCGA-") and barcode[-2:] == (
            "01" if cohort["samples"][barcode]["trait"] else "11"
        )
    clinical = pd.read_csv(folder / "TCGA.KIRC.sampleMap_KIRC_clinicalMatrix", sep="\t", index_col=0)
    assert clinical.index.name == "sampleID" and set(genes.columns) <= set(clinical.index)
    assert len(clinical) == 60 + cohort["n_clinical_only_samples"]
    assert set(clinical["gender"].dropna()) <= {"MALE", "FEMALE"}
    shown = {s: v for s, v in cohort["samples"].items() if v["age_shown"]}
    assert clinical.loc[list(shown), "age_at_initial_pathologic_diagnosis"].tolist() == [
        v["age"] for v in shown.values()
    ]
    files = tcga.find_tcga_files(folder)
    assert tcga.read_tcga_genes(files.genes).shape == (400, 60)


def test_same_seed_same_bytes_other_seed_other_data(small, tmp_path):
    out, truth = small
    again = generate(SynthConfig(n_genes=400, n_samples=60, seed=11), tmp_path / "again")
    assert again["files"] == truth["files"] and again["trait_genes"] == truth["trait_genes"]
    other = generate(SynthConfig(n_genes=400, n_samples=60, seed=12, kind="tcga"), tmp_path / "other")
    assert other["trait_genes"] != truth["trait_genes"]
    assert json.loads((out / "truth.json").read_text())["seed"] == 11


def test_truth_records_planted_genes_effects_and_parameters(small):
    _, truth = small
    config = truth["config"]
    assert truth["seed"] == 11 and config["n_genes"] == 400 and config["n_samples"] == 60
    assert len(truth["trait_genes"]) == config["n_trait_genes"] == 5
    assert all(config["effect_min"] <= abs(g["effect"]) <= config["effect_max"] for g in truth["trait_genes"])
    planted = [g["gene"] for key in ("trait_genes", "age_genes", "gender_genes") for g in truth[key]]
    assert len(planted) == len(set(planted))  # a gene carries one planted effect only
    assert truth["gene_symbols"]["source"]


def _welch_p(values: pd.DataFrame, labels: pd.Series) -> pd.Series:
    case, control = values.loc[:, labels == 1], values.loc[:, labels == 0]
    return pd.Series(stats.ttest_ind(case, control, axis=1, equal_var=False).pvalue, index=values.index)


def test_planted_trait_genes_are_differential_in_tcga_and_geo(tmp_path):
    truth = generate(SynthConfig(n_genes=1000, n_samples=80, seed=5, effect_min=1.0), tmp_path)
    trait_genes = {g["gene"] for g in truth["trait_genes"]}
    confounders = {g["gene"] for key in ("age_genes", "gender_genes") for g in truth[key]}
    folder, cohort = _tcga(tmp_path, truth)
    genes = pd.read_csv(folder / "TCGA.KIRC.sampleMap_HiSeqV2_PANCAN.gz", sep="\t", index_col=0)
    labels = pd.Series({s: v["trait"] for s, v in cohort["samples"].items()})[genes.columns]
    p = _welch_p(genes, labels)
    hits = set(p.index[p < 0.05 / len(p)])  # Bonferroni
    assert len(trait_genes & hits) / len(trait_genes) >= 0.9
    assert len(hits - trait_genes - confounders) <= 2  # null genes are (almost) never called
    # GEO: the single-gene '_at' probes of each planted gene separate cases from controls
    folder, cohort = _geo_folder(tmp_path, truth)
    matrix = pd.read_csv(
        folder / f"{cohort['cohort']}_series_matrix.txt.gz", sep="\t", comment="!", index_col=0
    )
    labels = pd.Series({s: v["trait"] for s, v in cohort["samples"].items()})[matrix.columns]
    lines = gzip.open(folder / f"{cohort['cohort']}_family.soft.gz", "rt").read().splitlines()
    start = lines.index("!platform_table_begin")
    symbol = dict(line.split("\t")[:2] for line in lines[start + 2 : lines.index("!platform_table_end")])
    single = {
        symbol[pid]: pid for pid in matrix.index if not pid.endswith(("_s_at", "_x_at")) and symbol.get(pid)
    }
    probes = [single[g] for g in sorted(trait_genes)]
    p = _welch_p(matrix.loc[probes], labels)
    assert (p < 0.05 / len(matrix)).mean() >= 0.9
    # Age moves its genes: each age gene correlates with the recorded age, in the planted direction
    ages = pd.Series({s: v["age"] for s, v in cohort["samples"].items()})[matrix.columns]
    for gene in truth["age_genes"]:
        rho = stats.spearmanr(matrix.loc[single[gene["gene"]]], ages).statistic
        assert np.sign(rho) == np.sign(gene["effect_per_decade"]) and abs(rho) > 0.3


def test_synth_cli_writes_truth(tmp_path, capsys):
    assert (
        main(
            [
                "synth",
                "--out",
                str(tmp_path),
                "--kind",
                "tcga",
                "--genes",
                "50",
                "--samples",
                "10",
                "--seed",
                "2",
            ]
        )
        == 0
    )
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert [c["source"] for c in truth["cohorts"]] == ["TCGA"] and not (tmp_path / "GEO").exists()
    assert "truth.json" in capsys.readouterr().out


def test_bad_sizes_are_clear_errors(tmp_path):
    with pytest.raises(GenoteamError, match="too small"):
        generate(SynthConfig(n_genes=5), tmp_path)
    assert main(["synth", "--out", str(tmp_path), "--samples", "3"]) == 1


def test_one_class_cohorts_hold_cases_only_and_are_expected_unusable(tmp_path):
    truth = generate(
        SynthConfig(n_genes=60, n_samples=12, seed=3, kind="geo", n_geo_cohorts=1, n_one_class_geo_cohorts=1),
        tmp_path,
    )
    usable, one_class = truth["cohorts"]
    assert usable["expected_usable"] and not one_class["expected_usable"]
    assert one_class["n_cases"] == 12 and all(s["trait"] == 1 for s in one_class["samples"].values())
    matrix = gzip.open(
        tmp_path / one_class["folder"] / f"{one_class['cohort']}_series_matrix.txt.gz", "rt"
    ).read()
    trait_line = next(line for line in matrix.splitlines() if line.startswith("!Sample_characteristics_ch1"))
    # the second series uses the disease-naming wording: every sample names the disease
    assert set(trait_line.split("\t")[1:]) == {'"tissue: kidney clear cell carcinoma"'}


def test_symbol_sources_agree_and_the_last_resort_is_generated_names(monkeypatch, tmp_path):
    import genoteam.synthetic as synthetic

    table_genes, source = synthetic.gene_universe(2000)
    assert source["n_from_source"] == "2000" and "XIST" in table_genes
    monkeypatch.setattr(synthetic, "SYMBOL_TABLE", tmp_path / "absent.tsv.gz")
    if synthetic.ORG_HS_SQLITE.is_file():  # Debian's r-bioc-org.hs.eg.db, the table's own source
        sqlite_genes, source = synthetic.gene_universe(2000)
        assert sqlite_genes == table_genes and source["source"].endswith("org.Hs.eg.sqlite")
    monkeypatch.setattr(synthetic, "ORG_HS_SQLITE", tmp_path / "absent.sqlite")
    names, source = synthetic.gene_universe(30)
    assert (
        names[:2] == ["GENE00001", "GENE00002"] and len(set(names)) == 30 and source["n_from_source"] == "0"
    )


def test_a_non_empty_output_folder_is_refused(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(GenoteamError, match="not empty"):
        generate(SynthConfig(n_genes=50, n_samples=10, kind="tcga"), tmp_path)
