"""Readers and writers of GenoTEX's output layout, with atomic writes.

GenoTEX's evaluator reads our outputs by path, so the layout and each table's orientation must
match it exactly:

```
<root>/preprocess/<Trait>/gene_data/<cohort>.csv      genes as rows, samples as columns
<root>/preprocess/<Trait>/clinical_data/<cohort>.csv  rows <Trait>, Age, Gender; samples as columns
<root>/preprocess/<Trait>/<cohort>.csv                linked: samples as rows, [<Trait>, Age, Gender, genes...]
<root>/preprocess/<Trait>/cohort_info.json            {cohort id: record} (see cohort_info.py)
<root>/regress/<Trait>/significant_genes_condition_<Condition|None>.json
```

The evaluator transposes gene and clinical tables (features become columns) and reads linked
tables as they are. A TCGA cohort's id is "TCGA", as in GenoTEX; a GEO cohort's id is its GSE.

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed over
the target, so a reader never sees a half-written file that looks complete.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from genoteam.toolkit.errors import GenoteamError, InputFileError

TCGA_COHORT_ID = "TCGA"
DEMOGRAPHIC_COLUMNS = ("Age", "Gender")
SIGNIFICANT_GENE_FIELDS = ("Variable", "Coefficient", "Absolute Coefficient")


# ----------------------------------------------------------------------------- atomic writes
def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` through a temporary sibling and a rename (never a partial file)."""
    return atomic_write_chunks(path, [data])


def atomic_write_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> Path:
    """Like atomic_write_bytes, for content produced piece by piece: a large table is streamed to
    the temporary file instead of being held in memory whole (as text and again as bytes)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """JSON with NaN/inf turned into null (GenoTEX's readers use json.load, which rejects NaN)."""
    return atomic_write_text(path, json.dumps(json_safe(obj), indent=4) + "\n")


def atomic_write_csv(path: str | os.PathLike[str], df: pd.DataFrame) -> Path:
    """CSV with the index as first column (what pandas and GenoTEX's evaluator read back)."""
    return atomic_write_chunks(path, (part.encode("utf-8") for part in csv_parts(df)))


def frame_to_csv(df: pd.DataFrame) -> str:
    """The CSV text of `df` (see csv_parts)."""
    return "".join(csv_parts(df))


def csv_parts(df: pd.DataFrame) -> Iterator[str]:
    """pandas' CSV, or for an all-float frame the same table written in row blocks of about
    CSV_BLOCK_VALUES values, each float as repr writes it (its shortest round-trip text), so every
    float64 reads back bit for bit; NaN and inf are written 'nan', 'inf', '-inf', which read_csv
    reads back as NaN, inf and -inf.

    Why not pandas: on a 20,000 x 2,000 expression table to_csv takes minutes (10 significant
    digits by default, not exact either). repr per value is exact but ~0.4 us each; orjson's float
    formatter writes the same shortest text ~15x faster (see _fast_rows for where it differs)."""
    numeric = len(df.columns) > 0 and all(pd.api.types.is_float_dtype(t) for t in df.dtypes)
    if not numeric or isinstance(df.columns, pd.MultiIndex) or isinstance(df.index, pd.MultiIndex):
        buffer = io.StringIO()
        df.to_csv(buffer)
        yield buffer.getvalue()
        return
    index_name = "" if df.index.name is None else _csv_field(df.index.name)
    yield ",".join([index_name, *(_csv_field(c) for c in df.columns)]) + "\n"
    labels = [_csv_field(label) for label in df.index]
    step = max(1, CSV_BLOCK_VALUES // len(df.columns))
    for start in range(0, len(df), step):
        block = np.ascontiguousarray(df.iloc[start : start + step].to_numpy(dtype=np.float64))
        rows = _fast_rows(block)
        if rows is None:
            rows = [",".join(map(repr, row)) for row in block.tolist()]
        yield "".join(f"{labels[start + i]},{text}\n" for i, text in enumerate(rows))


CSV_BLOCK_VALUES = 1 << 20  # values formatted at once: bounds the memory whatever the table size
_POSITIONAL = (1e-4, 1e16)  # repr writes 1e-4 <= |x| < 1e16 without an exponent, as orjson does


def _fast_rows(block: np.ndarray) -> list[str] | None:
    """Each row of `block` as 'v1,v2,...' in repr's text: written by orjson, then the few values
    it writes differently put back through repr: a non-finite value (orjson writes null) and one
    that repr writes with an exponent (0 < |x| < 1e-4 or |x| >= 1e16: orjson writes 0.00001 or
    1e16 where repr writes 1e-05 or 1e+16). Both texts read back as the same float; keeping repr's
    keeps files byte-identical. Only rows holding such a value are split (real linked rows of
    ~20,000 genes nearly all hold one, so a per-row fallback would write them all through repr).
    Returns None when orjson is not installed (the caller then writes every value with repr)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; the text is the same without it
        return None
    if block.size == 0:
        return [""] * len(block)
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(block)
        differs = ~(((magnitude >= _POSITIONAL[0]) | (magnitude == 0.0)) & (magnitude < _POSITIONAL[1]))
    text = orjson.dumps(block, option=orjson.OPT_SERIALIZE_NUMPY).decode("ascii")
    rows = text[2:-2].split("],[")
    for i in np.flatnonzero(differs.any(axis=1)).tolist():
        fields = rows[i].split(",")
        for j in np.flatnonzero(differs[i]).tolist():
            fields[j] = repr(float(block[i, j]))
        rows[i] = ",".join(fields)
    return rows


def _csv_field(value: object) -> str:
    text = str(value)
    if any(ch in text for ch in ',"\n\r') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def json_safe(obj: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays to Python, NaN/inf to None (JSON has no NaN),
    tuples to lists, keys to strings. The one cleaner for every JSON genoteam writes."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str):  # numpy scalars and arrays
        return json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ----------------------------------------------------------------------------- paths
ReadBytes = Callable[[Path], bytes]
LAYOUT_FOLDERS = ("preprocess", "regress")  # everything the layout holds (what sandboxed code may write)


class OutputLayout:
    """Paths of one GenoTEX-layout output root, and the readers of what lies there.

    The one spelling of the layout, for every caller: host code passes a Path; the setup cells
    pass the folder as the sandbox sees it (a PurePosixPath), and every path comes back in the
    root's own type. Creates nothing; the writers below go through it.

    `read_bytes`: how files are read (default: open and read). Host code reading what sandboxed
    code wrote passes a reader that follows no links and is bounded (sandbox/hostfs)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        preprocess_dir: str | os.PathLike[str] | None = None,
        read_bytes: ReadBytes | None = None,
    ) -> None:
        self.root: PurePath = root if isinstance(root, PurePath) else Path(root)
        self.preprocess_dir: PurePath = (
            self.root / "preprocess"
            if preprocess_dir is None
            else preprocess_dir
            if isinstance(preprocess_dir, PurePath)
            else Path(preprocess_dir)
        )
        self._read_bytes = read_bytes

    @classmethod
    def of_preprocess_dir(
        cls, preprocess_dir: str | os.PathLike[str], read_bytes: ReadBytes | None = None
    ) -> OutputLayout:
        """The layout of a preprocess/ tree given alone (what the statistics take)."""
        folder = preprocess_dir if isinstance(preprocess_dir, PurePath) else Path(preprocess_dir)
        return cls(folder.parent, folder, read_bytes)

    @property
    def regress_root(self) -> PurePath:
        return self.root / "regress"

    def trait_dir(self, trait: str) -> PurePath:
        return self.preprocess_dir / _safe_name(trait, "trait")

    def gene_data_dir(self, trait: str) -> PurePath:
        return self.trait_dir(trait) / "gene_data"

    def clinical_data_dir(self, trait: str) -> PurePath:
        return self.trait_dir(trait) / "clinical_data"

    def gene_data_path(self, trait: str, cohort: str) -> PurePath:
        return self.gene_data_dir(trait) / f"{_safe_name(cohort, 'cohort')}.csv"

    def clinical_data_path(self, trait: str, cohort: str) -> PurePath:
        return self.clinical_data_dir(trait) / f"{_safe_name(cohort, 'cohort')}.csv"

    def linked_data_path(self, trait: str, cohort: str) -> PurePath:
        return self.trait_dir(trait) / f"{_safe_name(cohort, 'cohort')}.csv"

    def cohort_info_path(self, trait: str) -> PurePath:
        return self.trait_dir(trait) / "cohort_info.json"

    def cohort_record_path(self, trait: str, cohort: str) -> PurePath:
        """Our per-cohort record (symbol changes, scale, sample design); GenoTEX reads no such file."""
        return self.trait_dir(trait) / "records" / f"{_safe_name(cohort, 'cohort')}.json"

    def regress_dir(self, trait: str) -> PurePath:
        return self.regress_root / _safe_name(trait, "trait")

    def association_table_path(self, trait: str, condition: str | None) -> PurePath:
        """Every gene tested (not only the significant ones), beside the significant-genes file."""
        return self.regress_dir(trait) / f"association_table_condition_{condition_label(condition)}.csv"

    def significant_genes_path(self, trait: str, condition: str | None) -> PurePath:
        return self.regress_dir(trait) / f"{SIGNIFICANT_PREFIX}{condition_label(condition)}.json"

    # -- readers (host Path roots, or a root the sandbox reads as its own file system) ----------
    def cohort_info(self, trait: str, missing_ok: bool = False) -> dict[str, dict[str, Any]]:
        """The trait's cohort_info.json records; {} for an absent file when `missing_ok`."""
        path = Path(self.cohort_info_path(trait))
        if missing_ok and not os.path.lexists(path):
            return {}
        return read_cohort_info(path, self._read_bytes)

    def cohort_record(self, trait: str, cohort: str) -> dict[str, Any]:
        """The cohort's record, or {} when preprocessing wrote none (e.g. an older output folder)."""
        path = Path(self.cohort_record_path(trait, cohort))
        return _parse_json(path, self._read(path)) if os.path.lexists(path) else {}

    def significant_genes(self, trait: str, condition: str | None) -> dict[str, Any]:
        path = Path(self.significant_genes_path(trait, condition))
        data = _parse_json(path, self._read(path, "run the step that writes it first"))
        validate_significant_genes(data)
        return data

    def _read(self, path: Path, hint: str = "preprocess the trait's cohorts first") -> bytes:
        return _read_bytes(path, self._read_bytes, "file", hint)


SIGNIFICANT_PREFIX = "significant_genes_condition_"


def read_cohort_info(
    path: str | os.PathLike[str], read_bytes: ReadBytes | None = None
) -> dict[str, dict[str, Any]]:
    """All records of a trait's cohort_info.json ({cohort id: {field: value}}), checked: the one
    reader of the file (toolkit, statistics, both engines, the evaluator)."""
    path = Path(path)
    data = _parse_json(
        path, _read_bytes(path, read_bytes, "cohort_info.json", "preprocess the trait's cohorts first")
    )
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputFileError(
            path,
            "not a JSON object of cohort records ({cohort: {is_usable, is_available, ...}})",
            "delete it and re-run preprocessing",
        )
    return data


def _read_bytes(path: Path, read_bytes: ReadBytes | None, what: str, hint: str) -> bytes:
    try:
        return read_bytes(path) if read_bytes is not None else path.read_bytes()
    except FileNotFoundError as error:
        raise InputFileError(path, f"{what} not found", hint) from error
    except IsADirectoryError as error:
        raise InputFileError(path, "is a folder, not a file", "delete it and re-run the step") from error
    except OSError as error:
        raise InputFileError(
            path, f"cannot be read ({error})", "fix its permissions or re-run the step"
        ) from error


def _parse_json(path: Path, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputFileError(path, f"not valid JSON ({error})", "delete it and re-run the step") from error


def condition_label(condition: str | None) -> str:
    """GenoTEX names the unconditional file `..._condition_None.json`."""
    if condition is None or str(condition).strip() == "" or str(condition).lower() == "none":
        return "None"
    return _safe_name(str(condition), "condition")


def _safe_name(name: str, what: str) -> str:
    """A path component: no separators or parent references, so outputs stay under the root."""
    text = str(name)
    if not text or text in {".", ".."} or "/" in text or "\\" in text or "\x00" in text:
        raise GenoteamError(
            f"invalid {what} name {name!r} for the output layout",
            "use a plain name such as 'Breast_Cancer' or 'GSE781' (no path separators)",
        )
    return text


# ----------------------------------------------------------------------------- writers
def write_gene_data(root: str | os.PathLike[str], trait: str, cohort: str, gene_df: pd.DataFrame) -> Path:
    """Gene expression table, genes as rows (index) and samples as columns."""
    if gene_df.empty:
        raise GenoteamError(f"gene data of cohort {cohort} is empty", "write only a non-empty table")
    if trait in gene_df.index or any(c in gene_df.index for c in DEMOGRAPHIC_COLUMNS):
        raise GenoteamError(
            f"gene data of cohort {cohort} has a row {trait!r}/Age/Gender: it looks like a linked or "
            "clinical table",
            "pass the genes x samples table (genes as rows)",
        )
    _check_unique(gene_df.index, f"gene symbols of cohort {cohort}")
    _check_unique(gene_df.columns, f"sample ids of cohort {cohort}")
    return atomic_write_csv(OutputLayout(root).gene_data_path(trait, cohort), gene_df)


def write_clinical_data(
    root: str | os.PathLike[str], trait: str, cohort: str, clinical_df: pd.DataFrame
) -> Path:
    """Clinical features given as rows `trait` (first), Age, Gender (when present) x samples.

    GEO cohorts are stored that way; the TCGA cohort is stored transposed (samples x features,
    index `sampleID`), because that is what GenoTEX's reference outputs hold and its evaluator
    compares files as stored. read_clinical_data undoes it."""
    rows = list(clinical_df.index)
    allowed = {trait, *DEMOGRAPHIC_COLUMNS}
    if not rows or rows[0] != trait or not set(rows) <= allowed:
        raise GenoteamError(
            f"clinical data of cohort {cohort} has rows {rows[:5]}, expected {trait!r} first and then "
            "optionally Age, Gender",
            "pass the features x samples table (GenoTEX's orientation); transpose a samples x features one",
        )
    _check_unique(clinical_df.index, f"clinical rows of cohort {cohort}")
    _check_unique(clinical_df.columns, f"sample ids of cohort {cohort}")
    on_disk = clinical_df
    if cohort == TCGA_COHORT_ID:  # GenoTEX saves TCGA's clinical table as samples x features
        on_disk = clinical_df.T
        on_disk.index.name = "sampleID"
    return atomic_write_csv(OutputLayout(root).clinical_data_path(trait, cohort), on_disk)


def write_linked_data(root: str | os.PathLike[str], trait: str, cohort: str, linked_df: pd.DataFrame) -> Path:
    """Linked table: samples as rows, columns [trait, Age?, Gender?, genes...]."""
    columns = list(linked_df.columns)
    if not columns or columns[0] != trait:
        raise GenoteamError(
            f"linked data of cohort {cohort} starts with column {columns[:1]}, expected {trait!r}",
            "pass the samples x [trait, Age, Gender, genes] table from link_clinical_genetic_data",
        )
    if len(linked_df) == 0:
        raise GenoteamError(f"linked data of cohort {cohort} has no samples", "do not save an empty cohort")
    _check_unique(linked_df.columns, f"columns of the linked data of cohort {cohort}")
    _check_unique(linked_df.index, f"sample ids of the linked data of cohort {cohort}")
    return atomic_write_csv(OutputLayout(root).linked_data_path(trait, cohort), linked_df)


def write_significant_genes(
    root: str | os.PathLike[str], trait: str, condition: str | None, result: Mapping[str, Any]
) -> Path:
    """The regression result: GenoTEX's `significant_genes` (Variable, Coefficient, Absolute
    Coefficient, equal-length lists) and `cv_performance`; further keys (p_value, q_value, method,
    ...) are kept as given."""
    validate_significant_genes(result)
    return atomic_write_json(OutputLayout(root).significant_genes_path(trait, condition), dict(result))


def update_cohort_record(
    root: str | os.PathLike[str], trait: str, cohort: str, parts: Mapping[str, Any]
) -> Path:
    """Merge `parts` (e.g. {"symbols": ..., "scale": ...}) into the cohort's record file.

    Why one file per cohort: cohorts of a trait may be preprocessed at once, so no two writers
    share a file; steps of one cohort run in order and each adds its own keys."""
    record = OutputLayout(root).cohort_record(trait, cohort)
    record.update(json_safe(dict(parts)))
    return atomic_write_json(OutputLayout(root).cohort_record_path(trait, cohort), record)


def read_cohort_record(root: str | os.PathLike[str], trait: str, cohort: str) -> dict[str, Any]:
    """The cohort's record, or {} when preprocessing wrote none (e.g. an older output folder)."""
    return OutputLayout(root).cohort_record(trait, cohort)


def validate_significant_genes(result: Mapping[str, Any]) -> None:
    """Raise unless `result` has the fields GenoTEX's evaluator reads."""
    hint = (
        "pass {'significant_genes': {'Variable': [...], 'Coefficient': [...], 'Absolute Coefficient': [...]},"
        " 'cv_performance': {...}} as produced by the statistics module"
    )
    if not isinstance(result, Mapping) or "significant_genes" not in result or "cv_performance" not in result:
        raise GenoteamError(
            "the significant-genes result lacks 'significant_genes' or 'cv_performance'", hint
        )
    genes = result["significant_genes"]
    if not isinstance(genes, Mapping):
        raise GenoteamError("'significant_genes' is not a mapping of column name to list", hint)
    missing = [f for f in SIGNIFICANT_GENE_FIELDS if f not in genes]
    if missing:
        raise GenoteamError(f"'significant_genes' lacks {missing}", hint)
    lengths = {k: len(v) for k, v in genes.items() if isinstance(v, list | tuple)}
    if len(lengths) != len(genes) or len(set(lengths.values())) > 1:
        raise GenoteamError(f"'significant_genes' columns are not lists of one length: {lengths}", hint)


def _check_unique(index: pd.Index, what: str) -> None:
    if not index.is_unique:
        dups = index[index.duplicated()].unique().tolist()[:5]
        raise GenoteamError(f"duplicated {what}: {dups}", "aggregate or rename duplicates before saving")


# ----------------------------------------------------------------------------- readers
def read_gene_data(root: str | os.PathLike[str], trait: str, cohort: str) -> pd.DataFrame:
    return _read_csv(OutputLayout(root).gene_data_path(trait, cohort))


def read_clinical_data(root: str | os.PathLike[str], trait: str, cohort: str) -> pd.DataFrame:
    """Features x samples for every cohort (a TCGA file is stored samples x features, as GenoTEX does)."""
    table = _read_csv(OutputLayout(root).clinical_data_path(trait, cohort))
    return table.T if cohort == TCGA_COHORT_ID else table


def read_linked_data(root: str | os.PathLike[str], trait: str, cohort: str) -> pd.DataFrame:
    return _read_csv(OutputLayout(root).linked_data_path(trait, cohort))


def read_significant_genes(root: str | os.PathLike[str], trait: str, condition: str | None) -> dict[str, Any]:
    return OutputLayout(root).significant_genes(trait, condition)


def read_json(path: str | os.PathLike[str]) -> Any:
    path = Path(path)
    return _parse_json(path, _read_bytes(path, None, "file", "run the step that writes it first"))


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError(path, "file not found", "run the preprocessing step that writes it first")
    try:
        df = pd.read_csv(path, index_col=0)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputFileError(path, f"not a readable CSV table ({error})", "re-run the step") from error
    df.index = df.index.astype(str)
    return df
