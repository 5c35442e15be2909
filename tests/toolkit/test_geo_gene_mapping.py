"""Probe -> gene mapping: hand-computed cases, column choice, errors, and GSE781 against a
straightforward pandas re-implementation of GenoTEX's rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.gene_mapping import choose_mapping_columns, map_probes_to_genes, parse_gene_cell


@pytest.mark.parametrize(
    ("cell", "assignment", "expected"),
    [
        ("DDR1 /// MIR4640", False, ["DDR1", "MIR4640"]),
        ("TP53", False, ["TP53"]),
        ("---", False, []),
        (None, False, []),
        ("HLA-DRB1 /// HLA-DRB1 /// HLA-DRB4", False, ["HLA-DRB1", "HLA-DRB4"]),
        ("GRB7; ERBB2", False, ["GRB7", "ERBB2"]),
        ("NOP5/NOP58", False, ["NOP5", "NOP58"]),
        ("a long free text description", False, []),
        (
            "NM_001005240 // OR4F17 // olfactory receptor // 19p13.3 // 81099 /// NM_006640 // SEPT9 // septin 9 // 17q25 // 10801",
            True,
            ["OR4F17", "SEPT9"],
        ),
        ("---", True, []),
    ],
)
def test_parse_gene_cell(cell, assignment, expected):
    assert parse_gene_cell(cell, assignment) == expected


def test_multi_gene_probe_splits_value_and_genes_sum_over_probes():
    expression = pd.DataFrame(
        {"S1": [4.0, 10.0, 6.0, 1.0, np.nan], "S2": [8.0, np.nan, 2.0, 3.0, np.nan]},
        index=pd.Index(["p1", "p2", "p3", "p4", "p5"], name="ID"),
    )
    annotation = pd.DataFrame(
        {"Gene Symbol": ["A /// B", "A", "B", "---", "C"]},
        index=pd.Index(["p1", "p2", "p3", "p4", "p5"], name="ID"),
    )
    genes, report = map_probes_to_genes(expression, annotation)
    # A = p1/2 + p2 ; B = p1/2 + p3 ; C only from p5, which is missing everywhere
    assert genes.loc["A", "S1"] == 2.0 + 10.0
    assert genes.loc["A", "S2"] == 4.0  # p2 missing in S2: the sum uses the probes present
    assert genes.loc["B", "S1"] == 2.0 + 6.0
    assert genes.loc["B", "S2"] == 4.0 + 2.0
    assert math.isnan(genes.loc["C", "S1"]) and math.isnan(genes.loc["C", "S2"])
    assert report.id_column == "ID" and report.symbol_column == "Gene Symbol"
    assert (report.probes_in_expression, report.probes_mapped, report.multi_gene_probes, report.genes) == (
        5,
        4,
        1,
        3,
    )
    assert any("1 probes have no usable gene symbol" in note for note in report.notes)


def test_gene_assignment_column_and_id_as_column():
    annotation = pd.DataFrame(
        {
            "ID": ["7896736", "7896738"],
            "gene_assignment": ["NM_1 // OR4F17 // olfactory // 19p13.3 // 81099", "---"],
            "mrna_assignment": ["x", "y"],
        }
    )
    assert choose_mapping_columns(annotation) == ("ID", "gene_assignment")
    expression = pd.DataFrame({"S1": [5.0, 7.0]}, index=["7896736", "7896738"])
    genes, report = map_probes_to_genes(expression, annotation)
    assert genes.to_dict() == {"S1": {"OR4F17": 5.0}}
    assert report.probes_mapped == 1


def test_column_choice_prefers_symbol_over_identifiers():
    annotation = pd.DataFrame(
        {"GB_ACC": ["U1"], "ORF": ["X"], "GENE_SYMBOL": ["TP53"]}, index=pd.Index(["p"], name="ID")
    )
    assert choose_mapping_columns(annotation) == ("ID", "GENE_SYMBOL")


def test_platform_without_symbol_column_lists_its_columns():
    annotation = pd.DataFrame({"GB_ACC": ["U48705"], "SEQUENCE": ["ACGT"]}, index=pd.Index(["p1"], name="ID"))
    with pytest.raises(GenoteamError) as caught:
        map_probes_to_genes(pd.DataFrame({"S1": [1.0]}, index=["p1"]), annotation)
    assert "no gene symbol column" in str(caught.value)
    assert "GB_ACC" in str(caught.value) and "SEQUENCE" in str(caught.value)


def test_annotation_of_another_platform_is_refused():
    annotation = pd.DataFrame({"Gene Symbol": ["TP53"]}, index=pd.Index(["other_probe"], name="ID"))
    with pytest.raises(GenoteamError, match="no probe of the expression table"):
        map_probes_to_genes(pd.DataFrame({"S1": [1.0]}, index=["p1"]), annotation)


def _genotex_rule_in_plain_pandas(expression: pd.DataFrame, annotation: pd.DataFrame) -> pd.DataFrame:
    """The rule written the obvious way (explode, divide, groupby-sum) as an independent check."""
    mapping = (
        annotation["Gene Symbol"].dropna().map(lambda c: parse_gene_cell(c)).rename("Gene").reset_index()
    )
    mapping["n"] = mapping["Gene"].map(len)
    mapping = mapping[mapping["n"] > 0].explode("Gene").set_index("ID")
    joined = mapping.join(expression, how="inner")
    values = joined[expression.columns].div(joined["n"], axis=0)
    return values.groupby(joined["Gene"]).sum(min_count=1)


@pytest.mark.parametrize("platform", ["GPL96", "GPL97"])
def test_gse781_mapping_matches_plain_pandas(gse781, platform):
    data = gse781.platforms[platform]
    genes, report = map_probes_to_genes(data.expression, data.annotation)
    expected = _genotex_rule_in_plain_pandas(data.expression, data.annotation)
    assert sorted(genes.index) == sorted(expected.index)
    np.testing.assert_allclose(genes.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert report.symbol_column == "Gene Symbol"
    assert report.probes_in_expression == data.expression.shape[0]
    assert report.genes == len(genes) and genes.shape[1] == 17
    # U133A is the well-annotated half of the set; U133B holds many unnamed ESTs
    assert report.probes_mapped / report.probes_in_expression > (0.9 if platform == "GPL96" else 0.6)


def test_gds_identifier_column_maps(extra_geo):
    from genoteam.toolkit.geo import read_geo

    data = read_geo(extra_geo / "GDS507.soft.gz").only_platform()
    genes, report = map_probes_to_genes(data.expression, data.annotation)
    assert report.symbol_column == "IDENTIFIER"
    assert genes.loc["PRPF8", "GSM11815"] == pytest.approx(4254.0)


def test_gene_table_maps_probes_then_normalises(gse781):
    from genoteam.toolkit.gene_mapping import gene_table

    data = gse781.platforms["GPL96"]
    genes, report = gene_table(data.expression, data.annotation, symbol_policy="genotex")
    assert report.mapping is not None and report.mapping.genes == 13784
    assert report.normalization.genes_out == len(genes) == 13023
    assert {"CA9", "NDUFA4L2", "TP53"} <= set(genes.index)
    assert "mapped through 'Gene Symbol'" in report.decision
    assert report.scale is None and genes.loc["CA9"].max() > 100  # GenoTEX's rule: values as submitted


def test_gene_table_decides_scale_on_probes_then_averages_them(gse781):
    """The analyst's path on a linear-scale series (MAS5): log2 on the probes, then a gene is
    the mean of its probes, so a gene's value is on the scale of one probe, never a sum."""
    from genoteam.toolkit.gene_mapping import gene_table

    data = gse781.platforms["GPL96"]
    genes, report = gene_table(data.expression, data.annotation)
    assert report.scale is not None and report.scale.transformed and report.scale.level == "measured"
    assert report.mapping.collapse == "mean" and report.normalization.policy == "analyst"
    symbols = data.annotation["Gene Symbol"]
    probes = symbols.index[symbols == "GAPDH"]
    assert len(probes) >= 3  # several GAPDH probes: GenoTEX's rule would add them up
    expected = np.log2(data.expression.loc[probes]).mean()
    np.testing.assert_allclose(genes.loc["GAPDH"].to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert genes.to_numpy().max() < 20  # one probe's log2 scale
    assert report.record()["scale"]["log2_applied"] is True


def test_gene_table_leaves_symbol_rows_unmapped_and_needs_annotation_for_probes():
    from genoteam.toolkit.gene_mapping import gene_table

    by_symbol = pd.DataFrame({"S1": [1.0, 2.0, 3.0]}, index=["P53", "TP53", "HER2"])
    genes, report = gene_table(by_symbol, symbol_policy="genotex")
    assert report.mapping is None and "already gene symbols" in report.decision
    assert genes.to_dict() == {"S1": {"ERBB2": 3.0, "TP53": 1.5}}
    genes, report = gene_table(by_symbol)  # the analyst's rule: TP53 is measured, P53 is dropped
    assert genes.to_dict() == {"S1": {"ERBB2": 3.0, "TP53": 2.0}}
    assert report.normalization.dropped == {"P53": "alias of a measured gene: TP53"}
    by_probe = pd.DataFrame({"S1": [1.0, 2.0]}, index=["1007_s_at", "1053_at"])
    with pytest.raises(GenoteamError, match="no platform annotation table"):
        gene_table(by_probe)
