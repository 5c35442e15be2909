"""Bad GEO inputs give an InputFileError that names the file and says what is wrong."""

from __future__ import annotations

import gzip

import pytest

from genoteam.toolkit.errors import InputFileError
from genoteam.toolkit.geo import read_geo, read_platform_annotation

SOFT_WITHOUT_SAMPLE_TABLES = """^SERIES = GSE2
!Series_title = metadata only
^PLATFORM = GPL0
!platform_table_begin
ID\tGene Symbol
p1\tTP53
!platform_table_end
^SAMPLE = GSM1
!Sample_platform_id = GPL0
!Sample_title = one
^SAMPLE = GSM2
!Sample_platform_id = GPL0
!Sample_title = two
"""


def _expect_error(path, *phrases: str) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        read_geo(path)
    message = str(caught.value)
    assert str(path) in message, message
    for phrase in phrases:
        assert phrase in message, message
    return caught.value


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "GSE0_series_matrix.txt.gz", "does not exist")


def test_empty_file(tmp_path):
    path = tmp_path / "GSE0_series_matrix.txt"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_empty_gzip_member(tmp_path):
    path = tmp_path / "GSE0_series_matrix.txt.gz"
    path.write_bytes(gzip.compress(b""))
    _expect_error(path, "empty")


def test_corrupt_gzip(tmp_path, write_series_matrix, small_matrix_kwargs):
    good = write_series_matrix("GSE1_series_matrix.txt.gz", **small_matrix_kwargs).read_bytes()
    damaged = bytearray(good)
    for i in range(12, len(damaged) - 8):  # keep the gzip header, scramble the deflate stream
        damaged[i] ^= 0x5A
    path = tmp_path / "damaged_series_matrix.txt.gz"
    path.write_bytes(bytes(damaged))
    _expect_error(path, "gzip")


def test_truncated_gzip_of_real_family_soft(tmp_path, gse781_soft):
    data = gse781_soft.read_bytes()
    path = tmp_path / "GSE781_family.soft.gz"
    path.write_bytes(data[: len(data) // 3])
    _expect_error(path, "truncated gzip")


def test_truncated_plain_soft_table_without_end_marker(tmp_path):
    text = (
        SOFT_WITHOUT_SAMPLE_TABLES
        + "^SAMPLE = GSM3\n!Sample_platform_id = GPL0\n!sample_table_begin\nID_REF\tVALUE\np1\t1.0\n"
    )
    path = tmp_path / "GSE2_family.soft"
    path.write_text(text)
    _expect_error(path, "truncated", "GSM3")


def test_sample_table_shorter_than_declared(tmp_path):
    text = (
        SOFT_WITHOUT_SAMPLE_TABLES
        + "^SAMPLE = GSM3\n!Sample_platform_id = GPL0\n!Sample_data_row_count = 5\n"
        + "!sample_table_begin\nID_REF\tVALUE\np1\t1.0\n!sample_table_end\n"
    )
    path = tmp_path / "GSE2_family.soft"
    path.write_text(text)
    _expect_error(path, "declares 5 rows", "has 1")


def test_series_matrix_cut_before_table_end(write_series_matrix, small_matrix_kwargs):
    path = write_series_matrix("GSE1_series_matrix.txt.gz", with_end=False, **small_matrix_kwargs)
    _expect_error(path, "truncated", "!series_matrix_table_end")


def test_series_matrix_without_table(tmp_path):
    path = tmp_path / "GSE0_series_matrix.txt"
    path.write_text('!Series_title\t"no table"\n!Sample_geo_accession\t"GSM1"\n')
    _expect_error(path, "series_matrix_table_begin")


def test_empty_matrix(write_series_matrix, small_matrix_kwargs):
    kwargs = dict(small_matrix_kwargs, probes={})
    error = _expect_error(
        write_series_matrix("GSE1_series_matrix.txt.gz", **kwargs), "empty matrix", "0 probes"
    )
    assert error.hint  # says what to do


def test_family_soft_without_sample_tables(tmp_path):
    path = tmp_path / "GSE2_family.soft.gz"
    path.write_bytes(gzip.compress(SOFT_WITHOUT_SAMPLE_TABLES.encode()))
    _expect_error(path, "no expression data", "none of the 2 samples")


def test_platform_annotation_is_not_expression(extra_geo):
    _expect_error(extra_geo / "GPL97.annot.gz", "no expression data", "ANNOTATION")


def test_not_a_geo_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("gene\tvalue\nTP53\t1\n")
    _expect_error(path, "not a GEO")


def test_annotation_reader_without_table(tmp_path):
    path = tmp_path / "GSE2_family.soft"
    path.write_text("^SERIES = GSE2\n!Series_title = x\n")
    with pytest.raises(InputFileError, match="no platform annotation table"):
        read_platform_annotation(path)


def test_series_matrix_gzip_cut_inside_the_table(tmp_path, small_matrix_kwargs, render_series_matrix):
    probes = {f"p{i}": [i * 0.5, i * 1.5, i * 2.5] for i in range(20000)}
    data = gzip.compress(render_series_matrix(**dict(small_matrix_kwargs, probes=probes)).encode(), mtime=0)
    path = tmp_path / "GSE1_series_matrix.txt.gz"
    path.write_bytes(data[: int(len(data) * 0.6)])  # the header is intact, the table is cut
    _expect_error(path, "truncated gzip")
