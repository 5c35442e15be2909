"""GEO readers: series-matrix files, family SOFT (one or several platforms), GDS SOFT, GSM SOFT.

Why our own parser rather than GEOparse: GEOparse reads a series-matrix file into an empty
object without complaint and imports `six` without declaring it; we need one streaming pass
over gzip or plain text that fails loudly, naming the file and the problem, when the input is
corrupt, truncated, empty or holds no expression table.

Data model: a `GeoSeries` (accession, background text, platforms) holds one `GeoPlatformData`
per platform (expression probes x GSM as float, the platform annotation table indexed by probe
ID, and one row of metadata per sample). Which platforms make one cohort (the same specimens on
several arrays are one cohort) is decided by genoteam.toolkit.platforms.series_cohorts.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from genoteam.toolkit.errors import InputFileError

_GZIP_MAGIC = b"\x1f\x8b"
PARSES: Counter[str] = Counter()  # files this process parsed whole (read_geo), by path: one parse per series
_HINT_REDOWNLOAD = "download the file again from GEO (https://www.ncbi.nlm.nih.gov/geo/)"
_MATRIX_BEGIN = "!series_matrix_table_begin"
_MATRIX_END = "!series_matrix_table_end"
_NA_VALUES = ["", "null", "NULL", "Null", "NA", "NaN", "nan", "N/A", "-", "--"]
BACKGROUND_KEYS = ("title", "summary", "overall_design")


@dataclass
class GeoPlatformData:
    """Everything one platform of a series holds: expression, annotation, sample metadata."""

    platform_id: str
    expression: pd.DataFrame  # probes (index 'ID') x GSM columns, float
    annotation: pd.DataFrame  # platform table, index = probe ID; empty when the file has none
    samples: pd.DataFrame  # index = GSM; title, source_name_ch1, characteristics_ch1 (list), ...
    notes: list[str] = field(default_factory=list)  # anything dropped or unusual, never silent
    values_read: bool = True  # False from read_geo_headers: no expression rows, annotation columns only


@dataclass
class GeoSeries:
    """A GEO series (or GDS / single GSM) as read from one file or one cohort folder."""

    accession: str
    background: dict[str, str]  # title, summary, overall_design (+ 'type' when known)
    platforms: dict[str, GeoPlatformData]
    source: str = ""  # the file(s) read
    source_kind: str = ""  # series_matrix | family_soft | gds_soft | sample_soft | cohort_folder

    def only_platform(self) -> GeoPlatformData:
        """The single platform's data; an error naming the platforms when there are several."""
        if len(self.platforms) != 1:
            raise InputFileError(
                self.source,
                f"{self.accession} has {len(self.platforms)} platforms ({', '.join(self.platforms)})",
                "make cohorts with genoteam.toolkit.platforms.series_cohorts() and process each one",
            )
        return next(iter(self.platforms.values()))


# ----------------------------------------------------------------------------- line reading


def _open_text(path: Path) -> io.TextIOBase:
    """Open gzip or plain text by content (not by name), decoding bad bytes instead of failing."""
    if not path.is_file():
        raise InputFileError(path, "file does not exist", "check the path")
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def iter_lines(path: Path) -> Iterator[str]:
    """Lines without their end-of-line, turning gzip damage into an InputFileError."""
    try:
        with _open_text(path) as handle:
            for line in handle:
                yield line.rstrip("\r\n")
    except EOFError as error:
        raise InputFileError(path, f"truncated gzip stream ({error})", _HINT_REDOWNLOAD) from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise InputFileError(path, f"corrupt gzip data ({error})", _HINT_REDOWNLOAD) from error


def _first_content_line(path: Path) -> str:
    for line in iter_lines(path):
        if line.strip():
            return line
    raise InputFileError(path, "the file is empty", _HINT_REDOWNLOAD)


# ----------------------------------------------------------------------------- SOFT entities


@dataclass
class _Entity:
    """One ^KIND = ID block of a SOFT file: its !attributes and its raw data table lines."""

    kind: str
    ident: str
    attrs: dict[str, list[str]] = field(default_factory=dict)
    table: list[str] | None = None
    table_closed: bool = False

    def first(self, key: str, default: str = "") -> str:
        values = self.attrs.get(key)
        return values[0] if values else default


def _parse_soft_entities(path: Path, skip_sample_tables: bool = False) -> list[_Entity]:
    """Split a SOFT file into its entities in one streaming pass.

    skip_sample_tables: keep sample tables empty (still checked for their end marker), for
    callers that only want the platform tables of a large family SOFT."""
    entities: list[_Entity] = []
    current: _Entity | None = None
    in_table = False
    keep_rows = True
    for line in iter_lines(path):
        if in_table:
            if line.startswith("!") and line.lower().endswith("_table_end"):
                in_table = False
                current.table_closed = True
            elif keep_rows:
                current.table.append(line)
            continue
        if line.startswith("^"):
            kind, _, ident = line[1:].partition("=")
            current = _Entity(kind.strip().upper(), ident.strip())
            entities.append(current)
        elif current is None:
            continue
        elif line.startswith("!") and line.lower().endswith("_table_begin"):
            current.table = []
            in_table = True
            keep_rows = not (skip_sample_tables and current.kind == "SAMPLE")
        elif line.startswith("!"):
            key, _, value = line[1:].partition("=")
            current.attrs.setdefault(key.strip(), []).append(value.strip())
    if in_table:
        raise InputFileError(
            path,
            f"truncated: the data table of {current.kind} {current.ident} has no end marker",
            _HINT_REDOWNLOAD,
        )
    return entities


def _read_tsv(lines: list[str], path: Path, what: str) -> pd.DataFrame:
    """A SOFT data table (header + rows) as strings; SOFT is not CSV-quoted."""
    if not lines:
        raise InputFileError(path, f"{what}: the data table is empty", _HINT_REDOWNLOAD)
    try:
        return pd.read_csv(
            io.StringIO("\n".join(lines)),
            sep="\t",
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            quoting=csv.QUOTE_NONE,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputFileError(path, f"{what}: the data table cannot be parsed ({error})") from error


def _check_row_count(entity: _Entity, table: pd.DataFrame, path: Path, key: str) -> None:
    """A table shorter than its declared row count means the file was cut or damaged."""
    declared = entity.first(key)
    if declared.isdigit() and int(declared) != len(table):
        raise InputFileError(
            path,
            f"{entity.kind} {entity.ident} declares {declared} rows but its table has {len(table)}",
            _HINT_REDOWNLOAD,
        )


def _annotation_table(entity: _Entity, path: Path) -> pd.DataFrame:
    """A platform/annotation table indexed by probe ID (as strings)."""
    table = _read_tsv(entity.table, path, f"platform {entity.ident}")
    _check_row_count(entity, table, path, "Platform_data_row_count")
    if "ID" not in table.columns:
        raise InputFileError(
            path,
            f"platform {entity.ident} table has no ID column (columns: {', '.join(table.columns)})",
        )
    table = table.set_index("ID")
    table.index = table.index.astype(str)
    return table


def _to_float(frame: pd.DataFrame, notes: list[str], what: str) -> pd.DataFrame:
    """Numeric conversion that reports how many cells were neither numbers nor GEO's usual
    missing-value markers ('null', 'NA', ...)."""
    numeric = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    marked_missing = frame.isin(_NA_VALUES)
    bad = int((numeric.isna() & frame.notna() & ~marked_missing).to_numpy().sum())
    if bad:
        notes.append(f"{what}: {bad} non-numeric expression values read as missing")
    return numeric


def _sample_record(entity: _Entity, prefix: str) -> dict[str, object]:
    """One sample's metadata: characteristics as a list, repeated keys joined by newlines."""
    record: dict[str, object] = {}
    for key, values in entity.attrs.items():
        name = key[len(prefix) :] if key.startswith(prefix) else key
        if name.startswith("characteristics_"):
            record[name] = [value for value in values]
        else:
            record[name] = "\n".join(values)
    record.setdefault("characteristics_ch1", [])
    return record


def _sample_values(entity: _Entity, path: Path) -> pd.Series:
    table = _read_tsv(entity.table, path, f"sample {entity.ident}")
    _check_row_count(entity, table, path, "Sample_data_row_count")
    if "ID_REF" not in table.columns or "VALUE" not in table.columns:
        raise InputFileError(
            path,
            f"sample {entity.ident} table lacks ID_REF/VALUE (columns: {', '.join(table.columns)})",
        )
    values = table.set_index("ID_REF")["VALUE"]
    values.index = values.index.astype(str)
    return values


def _samples_frame(records: dict[str, dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(records, orient="index")
    frame.index.name = "GSM"
    return frame


def _platforms_from_samples(
    samples: list[_Entity], platform_tables: dict[str, pd.DataFrame], path: Path
) -> dict[str, GeoPlatformData]:
    """Group sample tables by platform into expression matrices."""
    platforms: dict[str, GeoPlatformData] = {}
    for platform_id, members in _by_platform(samples).items():
        notes: list[str] = []
        with_table = [s for s in members if s.table is not None]
        without = [s.ident for s in members if s.table is None]
        if without:
            notes.append(f"partial: {len(without)} samples have no data table and are left out: {without}")
        if not with_table:
            continue
        columns = {s.ident: _sample_values(s, path) for s in with_table}
        for gsm, values in columns.items():
            if values.index.duplicated().any():
                notes.append(f"{gsm}: {int(values.index.duplicated().sum())} duplicate probe IDs, first kept")
                columns[gsm] = values[~values.index.duplicated()]
        expression = pd.concat(columns, axis=1)
        annotation = platform_tables.get(platform_id, pd.DataFrame())
        if len(annotation):
            order = annotation.index.intersection(expression.index)
            rest = expression.index.difference(annotation.index, sort=False)
            expression = expression.loc[order.append(rest)]
        expression.index.name = "ID"
        expression = _to_float(expression, notes, platform_id)
        records = {s.ident: _sample_record(s, "Sample_") for s in with_table}
        platforms[platform_id] = GeoPlatformData(
            platform_id, expression, annotation, _samples_frame(records), notes
        )
    return platforms


def _by_platform(samples: list[_Entity]) -> dict[str, list[_Entity]]:
    grouped: dict[str, list[_Entity]] = {}
    for sample in samples:
        grouped.setdefault(sample.first("Sample_platform_id", "unknown"), []).append(sample)
    return grouped


def _read_family_soft(path: Path, entities: list[_Entity]) -> GeoSeries:
    series = next(e for e in entities if e.kind == "SERIES")
    tables = {e.ident: _annotation_table(e, path) for e in entities if e.kind == "PLATFORM" and e.table}
    samples = [e for e in entities if e.kind == "SAMPLE"]
    platforms = _platforms_from_samples(samples, tables, path)
    if not platforms:
        raise InputFileError(
            path,
            f"no expression data: none of the {len(samples)} samples of {series.ident} has a data table",
            "use the series-matrix file, or the full family SOFT file (with sample tables)",
        )
    return GeoSeries(series.ident, _series_background(series), platforms, str(path), "family_soft")


def _series_background(series: _Entity) -> dict[str, str]:
    background = {key: "\n".join(series.attrs.get(f"Series_{key}", [])) for key in BACKGROUND_KEYS}
    background["type"] = "; ".join(series.attrs.get("Series_type", []))
    return background


def _read_sample_soft(path: Path, entities: list[_Entity]) -> GeoSeries:
    samples = [e for e in entities if e.kind == "SAMPLE"]
    tables = {e.ident: _annotation_table(e, path) for e in entities if e.kind == "PLATFORM" and e.table}
    platforms = _platforms_from_samples(samples, tables, path)
    if not platforms:
        raise InputFileError(path, "no expression data: the sample has no data table", _HINT_REDOWNLOAD)
    first = samples[0]
    background = {"title": first.first("Sample_title"), "summary": "", "overall_design": ""}
    return GeoSeries(first.ident, background, platforms, str(path), "sample_soft")


def _read_gds_soft(path: Path, entities: list[_Entity]) -> GeoSeries:
    """A GEO DataSet: one value table (ID_REF, IDENTIFIER, GSM...) plus subsets as sample labels."""
    datasets = [e for e in entities if e.kind == "DATASET"]
    dataset = datasets[0]  # GEO repeats the ^DATASET line just before the table, after the subsets
    with_table = next((e for e in datasets if e.table is not None), None)
    if with_table is None:
        raise InputFileError(path, f"{dataset.ident} has no data table", _HINT_REDOWNLOAD)
    table = _read_tsv(with_table.table, path, dataset.ident)
    if "ID_REF" not in table.columns:
        raise InputFileError(path, f"{dataset.ident} table has no ID_REF column")
    table = table.set_index("ID_REF")
    table.index = table.index.astype(str)
    table.index.name = "ID"
    gsm_columns = [c for c in table.columns if re.fullmatch(r"GSM\d+", c)]
    if not gsm_columns:
        raise InputFileError(path, f"{dataset.ident} table has no GSM sample columns")
    notes: list[str] = []
    expression = _to_float(table[gsm_columns], notes, dataset.ident)
    annotation = table.drop(columns=gsm_columns)
    records: dict[str, dict[str, object]] = {g: {"characteristics_ch1": []} for g in gsm_columns}
    for subset in (e for e in entities if e.kind == "SUBSET"):
        kind = subset.first("subset_type")
        label = subset.first("subset_description")
        for gsm in re.split(r"[,\s]+", subset.first("subset_sample_id")):
            if gsm in records:
                records[gsm][kind] = label
                records[gsm]["characteristics_ch1"].append(f"{kind}: {label}")
    platform_id = dataset.first("dataset_platform", "unknown")
    background = {
        "title": dataset.first("dataset_title"),
        "summary": "\n".join(dataset.attrs.get("dataset_description", [])),
        "overall_design": "",
        "type": dataset.first("dataset_type"),
    }
    platform = GeoPlatformData(platform_id, expression, annotation, _samples_frame(records), notes)
    return GeoSeries(dataset.ident, background, {platform_id: platform}, str(path), "gds_soft")


def _read_soft(path: Path) -> GeoSeries:
    entities = _parse_soft_entities(path)
    kinds = {e.kind for e in entities}
    if "SERIES" in kinds:
        return _read_family_soft(path, entities)
    if "DATASET" in kinds:
        return _read_gds_soft(path, entities)
    if "SAMPLE" in kinds:
        return _read_sample_soft(path, entities)
    raise InputFileError(
        path,
        f"no expression data: the SOFT file holds only {', '.join(sorted(kinds)) or 'no'} entities",
        "for a platform annotation use read_platform_annotation(); for expression give a series "
        "matrix, family SOFT, GDS or GSM file",
    )


# ----------------------------------------------------------------------------- series matrix


def _split_matrix_line(line: str) -> tuple[str, list[str]]:
    key, *values = line.split("\t")
    return key, [v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v for v in values]


def _matrix_header(path: Path) -> tuple[dict[str, list[list[str]]], int]:
    """The !Series_/!Sample_ lines before the table, and the number of the table's begin line."""
    header: dict[str, list[list[str]]] = {}
    for number, line in enumerate(iter_lines(path)):
        if line.startswith(_MATRIX_BEGIN):
            return header, number
        if line.startswith("!"):
            key, values = _split_matrix_line(line)
            header.setdefault(key[1:], []).append(values)
    raise InputFileError(
        path, f"no '{_MATRIX_BEGIN}' line: not a complete series-matrix file", _HINT_REDOWNLOAD
    )


def _matrix_identity(
    header: dict[str, list[list[str]]], samples: pd.DataFrame, path: Path
) -> tuple[str, str, dict[str, str]]:
    """Accession, platform id and background of a series-matrix file."""
    single = lambda key: "\n".join(v[0] for v in header.get(key, []) if v)  # noqa: E731
    accession = single("Series_geo_accession") or path.name.split("_")[0]
    platform_ids = sorted({p for p in samples.get("platform_id", pd.Series(dtype=str)).dropna()})
    platform_id = platform_ids[0] if len(platform_ids) == 1 else single("Series_platform_id") or "unknown"
    background = {key: single(f"Series_{key}") for key in BACKGROUND_KEYS}
    background["type"] = single("Series_type")
    return accession, platform_id, background


def _read_series_matrix(path: Path) -> GeoSeries:
    header, begin_line = _matrix_header(path)
    try:
        table = pd.read_csv(
            path,
            sep="\t",
            skiprows=begin_line + 1,
            index_col=0,
            dtype={0: str},
            na_values=_NA_VALUES,
            keep_default_na=False,
            compression="gzip" if _is_gzip(path) else None,
            encoding_errors="replace",
            low_memory=False,
        )
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise InputFileError(path, f"corrupt or truncated gzip data ({error})", _HINT_REDOWNLOAD) from error
    except pd.errors.EmptyDataError as error:
        raise InputFileError(path, "empty matrix: no header line after the table begin marker") from error
    except pd.errors.ParserError as error:
        raise InputFileError(
            path, f"the expression table cannot be parsed ({error})", _HINT_REDOWNLOAD
        ) from error
    table.index = table.index.astype(str)
    if len(table) == 0 or table.index[-1] != _MATRIX_END:
        raise InputFileError(
            path, f"truncated: the expression table has no '{_MATRIX_END}' line", _HINT_REDOWNLOAD
        )
    table = table.iloc[:-1]
    table.index.name = "ID"
    if table.empty or table.shape[1] == 0:
        raise InputFileError(
            path,
            f"empty matrix: {table.shape[0]} probes x {table.shape[1]} samples",
            "this series has no processed expression values in GEO; check its supplementary files",
        )
    notes: list[str] = []
    expression = _to_float(table, notes, "matrix")
    samples = _matrix_samples(header, list(expression.columns), path)
    accession, platform_id, background = _matrix_identity(header, samples, path)
    platform = GeoPlatformData(platform_id, expression, pd.DataFrame(), samples, notes)
    return GeoSeries(accession, background, {platform_id: platform}, str(path), "series_matrix")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as raw:
        return raw.read(2) == _GZIP_MAGIC


def _matrix_samples(header: dict[str, list[list[str]]], gsm_columns: list[str], path: Path) -> pd.DataFrame:
    """Sample metadata from the !Sample_ lines, one column per sample, aligned to the table."""
    ids = header.get("Sample_geo_accession", [gsm_columns])[0]
    if list(ids) != gsm_columns:
        raise InputFileError(
            path,
            "the !Sample_geo_accession line does not match the expression table's columns",
            _HINT_REDOWNLOAD,
        )
    records: dict[str, dict[str, object]] = {gsm: {"characteristics_ch1": []} for gsm in ids}
    for key, rows in header.items():
        if not key.startswith("Sample_"):
            continue
        name = key[len("Sample_") :]
        for row in rows:
            for gsm, value in zip(ids, row, strict=False):
                record = records[gsm]
                if name.startswith("characteristics_"):
                    record.setdefault(name, []).append(value if value else None)
                elif name in record:
                    record[name] = f"{record[name]}\n{value}"
                else:
                    record[name] = value
    return _samples_frame(records)


# ----------------------------------------------------------------------------- public API


def read_geo(path: str | Path) -> GeoSeries:
    """Read a series-matrix, family SOFT, GDS SOFT or single-GSM SOFT file (gzip or plain).

    The format is recognised from the content: a file starting with `!Series_` is a series
    matrix; one starting with `^` is SOFT. Raises InputFileError for anything unreadable.
    """
    path = Path(path)
    first = _first_content_line(path)
    PARSES[str(path)] += 1
    if first.startswith("!Series_") or first.startswith("!Sample_"):
        return _read_series_matrix(path)
    if first.startswith("^"):
        return _read_soft(path)
    raise InputFileError(
        path,
        f"not a GEO series-matrix or SOFT file (it starts with {first[:60]!r})",
        "give a GSE*_series_matrix.txt.gz, GSE*_family.soft.gz, GDS*.soft.gz or GSM SOFT file",
    )


def read_platform_annotation(path: str | Path, platform_id: str | None = None) -> pd.DataFrame:
    """The probe annotation table (index = probe ID) of a GPL .annot.gz, GPL SOFT or family SOFT.

    With several platforms in the file, `platform_id` says which one (an error lists them).
    """
    path = Path(path)
    entities = _parse_soft_entities(path, skip_sample_tables=True)
    candidates = {
        (e.first("Annotation_platform") or e.ident if e.kind == "ANNOTATION" else e.ident): e
        for e in entities
        if e.kind in {"PLATFORM", "ANNOTATION"} and e.table is not None
    }
    if not candidates:
        raise InputFileError(
            path, "no platform annotation table in this file", "give a GPL .annot.gz or family SOFT"
        )
    if platform_id is None:
        if len(candidates) > 1:
            raise InputFileError(
                path, f"several platforms ({', '.join(candidates)})", "pass platform_id= to choose one"
            )
        platform_id = next(iter(candidates))
    if platform_id not in candidates:
        raise InputFileError(path, f"no table for {platform_id} (found: {', '.join(candidates)})")
    return _annotation_table(candidates[platform_id], path)


def characteristics_table(samples: pd.DataFrame, column: str = "characteristics_ch1") -> pd.DataFrame:
    """GenoTEX's clinical table: row i = the i-th characteristics line, columns = GSM samples.

    Missing lines are NaN. A series without characteristics gives a frame with zero rows (and
    the sample columns), so callers can see that and look at titles or source names instead.
    """
    lists = (
        samples[column] if column in samples.columns else pd.Series([[]] * len(samples), index=samples.index)
    )
    depth = max((len(v) for v in lists if isinstance(v, list)), default=0)
    data = {
        gsm: [(v[i] if isinstance(v, list) and i < len(v) else None) for i in range(depth)]
        for gsm, v in lists.items()
    }
    table = pd.DataFrame(data, index=pd.RangeIndex(depth), columns=list(samples.index), dtype=object)
    return table


def unique_values_by_row(table: pd.DataFrame, max_values: int = 30) -> dict[object, list]:
    """For each row, its distinct values in order of appearance (at most max_values): what an
    analyst (or the domain expert) reads to decide which row holds the trait, age or gender."""
    return {index: list(pd.unique(row.to_numpy()))[:max_values] for index, row in table.iterrows()}


def _cohort_files(directory: str | Path) -> tuple[list[Path], list[Path]]:
    """A cohort folder's series-matrix files and family SOFT files (sorted), or why it has none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(directory, "cohort folder does not exist")
    files = sorted(p for p in directory.iterdir() if p.is_file())
    matrices = [p for p in files if "series_matrix" in p.name.lower()]
    softs = [p for p in files if "soft" in p.name.lower()]
    if not matrices and not softs:
        raise InputFileError(directory, "no series-matrix or SOFT file in the cohort folder")
    return matrices, softs


def read_geo_cohort(directory: str | Path) -> GeoSeries:
    """Read a GenoTEX-style cohort folder (series matrix file(s) and/or a family SOFT file).

    Expression comes from the series-matrix files when present (one per platform), otherwise
    from the family SOFT's sample tables; the platform annotation comes from the family SOFT.
    """
    matrices, softs = _cohort_files(directory)
    if not matrices:
        return read_geo(softs[0])
    parts = [read_geo(m) for m in matrices]
    merged = GeoSeries(
        parts[0].accession, parts[0].background, {}, ", ".join(map(str, matrices)), "cohort_folder"
    )
    for part in parts:
        merged.platforms.update(part.platforms)
    if softs:
        entities = _parse_soft_entities(softs[0], skip_sample_tables=True)
        tables = {e.ident: e for e in entities if e.kind == "PLATFORM" and e.table}
        for pid, data in merged.platforms.items():
            if pid in tables:
                data.annotation = _annotation_table(tables[pid], softs[0])
            else:
                data.notes.append(f"no annotation table for {pid} in {softs[0].name}")
        merged.source += f", {softs[0]}"
    return merged


def read_geo_headers(directory: str | Path) -> GeoSeries:
    """What read_geo_cohort returns without the expression values (`values_read` False):
    background, platforms and their samples' metadata, and, for a series of several platforms,
    the platform tables' column names (what the platform rule compares).

    Why: the plan only needs a series' platforms and which of them hold the same specimens; a
    series-matrix file's header ends where its table begins, and a family SOFT is streamed
    without building its tables (and not at all beside a single series-matrix file). The
    cohort's own task then parses the series once."""
    matrices, softs = _cohort_files(directory)
    parts = [_matrix_headers(m) for m in matrices]
    several = sum(len(part.platforms) for part in parts) > 1
    entities = (
        _parse_soft_entities(softs[0], skip_sample_tables=True) if softs and (several or not parts) else []
    )
    columns = {e.ident: _table_columns(e) for e in entities if e.kind == "PLATFORM" and e.table}
    if parts:
        merged = GeoSeries(parts[0].accession, parts[0].background, {}, "", "cohort_folder")
        for part in parts:
            merged.platforms.update(part.platforms)
    else:
        series = next((e for e in entities if e.kind == "SERIES"), None)
        if series is None:  # GDS or single-sample SOFT: rare, read whole
            return read_geo(softs[0])
        merged = GeoSeries(series.ident, _series_background(series), {}, "", "family_soft")
        samples = [e for e in entities if e.kind == "SAMPLE"]
        for pid, members in _by_platform(samples).items():
            records = {e.ident: _sample_record(e, "Sample_") for e in members if e.table is not None}
            if records:  # as the full reader: a platform none of whose samples has a table is left out
                merged.platforms[pid] = _header_platform(pid, _samples_frame(records))
    if not merged.platforms:
        raise InputFileError(
            softs[0], "no expression data: no sample of the series has a data table", _HINT_REDOWNLOAD
        )
    for pid, data in merged.platforms.items():
        data.annotation = pd.DataFrame(columns=columns.get(pid, []))
    merged.source = ", ".join(map(str, matrices + softs[:1]))
    return merged


def _header_platform(platform_id: str, samples: pd.DataFrame) -> GeoPlatformData:
    empty = pd.DataFrame(columns=list(samples.index), dtype=float)
    return GeoPlatformData(platform_id, empty, pd.DataFrame(), samples, values_read=False)


def _table_columns(entity: _Entity) -> list[str]:
    """A SOFT table's column names without the ID column (what _annotation_table's columns are)."""
    return [c for c in entity.table[0].split("\t") if c != "ID"] if entity.table else []


def _matrix_headers(path: Path) -> GeoSeries:
    """A series-matrix file's !Series_ and !Sample_ lines, read up to the table's begin marker."""
    header, _ = _matrix_header(path)
    samples = _matrix_samples(header, list(header.get("Sample_geo_accession", [[]])[0]), path)
    accession, platform_id, background = _matrix_identity(header, samples, path)
    return GeoSeries(accession, background, {platform_id: _header_platform(platform_id, samples)})


def series_overview(series: GeoSeries, max_values: int = 10) -> str:
    """A short text an analyst (or an agent) reads first: background, platforms, sample
    counts and the distinct values of each characteristics row, title and source name."""
    lines = [f"{series.accession}: {series.background.get('title', '')}"]
    for key in ("summary", "overall_design"):
        if series.background.get(key):
            lines.append(f"{key}: {series.background[key]}")
    for platform_id, data in series.platforms.items():
        n_probes, n_samples = data.expression.shape
        lines.append(f"platform {platform_id}: {n_probes} probes x {n_samples} samples")
        table = characteristics_table(data.samples)
        for row, values in unique_values_by_row(table, max_values).items():
            lines.append(f"  characteristics line {row}: {values}")
        if table.empty:
            lines.append("  no characteristics lines")
        for column in ("source_name_ch1", "title"):
            if column in data.samples.columns:
                values = list(pd.unique(data.samples[column].to_numpy()))
                lines.append(f"  {column} ({len(values)} distinct): {values[:max_values]}")
        lines.extend(f"  note: {note}" for note in data.notes)
    return "\n".join(lines)
