"""Synthetic GEO and TCGA cohorts with a planted truth, in GenoTEX's input layout.

Why: tests and scale benchmarks need cohorts of any size whose answer is known. The files are
written in the real formats (GEO series matrix and family SOFT with a platform table; UCSC Xena
HiSeqV2_PANCAN and clinicalMatrix), so every reader and the whole pipeline run on them exactly
as on downloaded data:

    OUT/GEO/<Trait>/<GSE>/<GSE>_series_matrix.txt.gz and <GSE>_family.soft.gz
    OUT/TCGA/TCGA_<Trait>_(<CODE>)/TCGA.<CODE>.sampleMap_HiSeqV2_PANCAN.gz and
                                  TCGA.<CODE>.sampleMap_<CODE>_clinicalMatrix
    OUT/truth.json

The model (log2 scale), per gene g and sample s:
    x[g,s] = mu[g] + sd[g]*z + trait_effect[g]*trait[s] + age_effect[g]*(age[s]-60)/10
             + male_effect[g]*male[s] + batch_shift[g, batch[s]]
Trait genes carry the planted effects; Age and Gender move their own genes and are correlated
with the trait (cases are older and more often male), so an analysis that ignores them finds
the confounder genes too; batches shift a share of genes. GEO probes add platform structure:
duplicate probes per gene, multi-gene probes ('A /// B') and unmapped control probes.
Everything is drawn from numpy's PCG64 seeded by `seed`: the same config gives the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

import numpy as np

from genoteam import __version__
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.traits import TRAIT_PATTERN

PACKAGE_DIR = Path(__file__).resolve().parent
SYMBOL_TABLE = PACKAGE_DIR / "toolkit" / "data" / "gene_symbols.tsv.gz"
ORG_HS_SQLITE = Path("/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite")
SEX_GENES = ("XIST", "RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY", "USP9Y", "ZFY", "NLGN4Y", "TXLNGY")
GZIP_LEVEL = 1  # the gzip format is the same at every level; level 1 keeps 20k x 2k cohorts fast
GENE_CHUNK = 1024  # genes simulated per random draw: fixed, so the output never depends on memory
WRITE_CHUNK = 2000  # table rows formatted per write


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Counts left at 0 are derived from n_genes (see `resolved`)."""

    n_genes: int = 2000
    n_samples: int = 100  # per cohort
    seed: int = 0
    kind: str = "both"  # geo | tcga | both
    trait: str = "Kidney_Clear_Cell_Carcinoma"
    tcga_code: str = "KIRC"
    n_geo_cohorts: int = 2
    n_one_class_geo_cohorts: int = 0  # extra GEO series with cases only: unusable, like TCGA DLBC
    n_trait_genes: int = 0
    n_age_genes: int = 0
    n_gender_genes: int = 0
    effect_min: float = 0.5  # |log2 fold change| of trait genes, drawn uniformly in [min, max]
    effect_max: float = 2.0
    age_effect_per_decade: float = 0.6
    male_effect: float = 2.0
    geo_case_fraction: float = 0.5
    tcga_tumour_fraction: float = 0.8
    n_batches: int = 3
    batch_gene_fraction: float = 0.2
    batch_sd: float = 0.4
    missing_age_fraction: float = 0.03
    duplicate_probe_fraction: float = 0.1
    multi_gene_probe_fraction: float = 0.03
    control_probe_fraction: float = 0.02
    extra_clinical_fraction: float = 0.05  # TCGA clinical rows without expression, as in Xena
    decimals: int = 4  # decimals of written expression values; real Xena/GEO files carry ~12

    def resolved(self) -> SynthConfig:
        """Validated copy with the derived counts filled in."""
        if self.kind not in ("geo", "tcga", "both"):
            raise GenoteamError(f"unknown kind {self.kind!r}", "use geo, tcga or both")
        if self.n_genes < 20:
            raise GenoteamError(f"--genes {self.n_genes} is too small", "give at least 20 genes")
        if self.n_samples < 8:
            raise GenoteamError(
                f"--samples {self.n_samples} is too small", "give at least 8 samples per cohort"
            )
        if not re.fullmatch(TRAIT_PATTERN, self.trait):
            raise GenoteamError(
                f"trait {self.trait!r} is not a folder-safe name", "use letters, digits, _ ' - and ( )"
            )
        if not re.fullmatch(r"[A-Z0-9]{2,10}", self.tcga_code):
            raise GenoteamError(
                f"TCGA code {self.tcga_code!r} is not valid", "use 2-10 capitals/digits, e.g. KIRC"
            )
        if self.kind != "tcga" and self.n_geo_cohorts < 1:
            raise GenoteamError("no GEO cohort requested", "give --geo-cohorts 1 or more, or --kind tcga")
        small = max(2, self.n_genes // 200)
        values = asdict(self)
        values["n_trait_genes"] = self.n_trait_genes or max(5, min(200, self.n_genes // 100))
        values["n_age_genes"] = self.n_age_genes or small
        values["n_gender_genes"] = self.n_gender_genes or small
        planted = values["n_trait_genes"] + values["n_age_genes"] + values["n_gender_genes"]
        if planted > self.n_genes // 2:
            raise GenoteamError(
                f"{planted} planted genes for {self.n_genes} genes", "plant at most half of the genes"
            )
        return SynthConfig(**values)


# ----------------------------------------------------------------------------- gene symbols


def gene_symbol_pool() -> tuple[list[str], dict[str, str]]:
    """Real human gene symbols in Entrez-id order, and where they came from.

    The first source that works: the toolkit's symbol table, the SQLite of Debian's
    r-bioc-org.hs.eg.db, else made-up GENE00001-style names. LOC* placeholders are left out.
    Read once per process (a corpus plants many traits); callers get their own copies.
    """
    symbols, source = _symbol_pool(SYMBOL_TABLE, ORG_HS_SQLITE)
    return list(symbols), dict(source)


@cache
def _symbol_pool(table: Path, org_sqlite: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    symbols, source = _read_symbol_pool(table, org_sqlite)
    return tuple(symbols), source


def _read_symbol_pool(table: Path, org_sqlite: Path) -> tuple[list[str], dict[str, str]]:
    if table.is_file():
        with gzip.open(table, "rt") as handle:
            header = handle.readline().rstrip("\n").split("\t")
            col = header.index("symbol") if "symbol" in header else 0
            rows = (line.rstrip("\n").split("\t") for line in handle)
            symbols = [r[col] for r in rows if len(r) > col]
        return _clean_symbols(symbols), {"source": "genoteam/toolkit/data/gene_symbols.tsv.gz"}
    if org_sqlite.is_file():
        with sqlite3.connect(f"file:{org_sqlite}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT g.symbol FROM gene_info g JOIN genes e ON g._id = e._id "
                "ORDER BY CAST(e.gene_id AS INTEGER)"
            ).fetchall()
        return _clean_symbols([r[0] for r in rows]), {"source": str(org_sqlite)}
    return [], {"source": "generated names (no symbol table found)"}


def _clean_symbols(symbols: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for s in symbols:
        if s and not s.startswith("LOC") and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]*", s) and s not in seen:
            seen.add(s)
            kept.append(s)
    return kept


def gene_universe(n_genes: int) -> tuple[list[str], dict[str, str]]:
    """n_genes symbols: the first n of the pool (sex-linked genes included), padded with GENE names."""
    pool, source = gene_symbol_pool()
    in_pool = set(pool)
    chosen = [g for g in SEX_GENES if g in in_pool][: max(0, n_genes // 10)]
    taken = set(chosen)
    for symbol in pool:
        if len(chosen) >= n_genes:
            break
        if symbol not in taken:
            chosen.append(symbol)
            taken.add(symbol)
    k = 0
    while len(chosen) < n_genes:
        k += 1
        name = f"GENE{k:05d}"
        if name not in taken:
            chosen.append(name)
    source["n_from_source"] = str(sum(1 for g in chosen if not g.startswith("GENE")))
    return chosen, source


# ----------------------------------------------------------------------------- the truth


@dataclass
class GeneModel:
    """Per-gene parameters shared by every cohort (the planted truth lives here)."""

    genes: list[str]
    mu: np.ndarray
    sd: np.ndarray
    trait_effect: np.ndarray
    age_effect: np.ndarray  # per decade
    male_effect: np.ndarray
    batch_genes: np.ndarray  # bool mask
    symbol_source: dict[str, str] = field(default_factory=dict)


def plant_truth(config: SynthConfig, rng: np.random.Generator) -> GeneModel:
    genes, source = gene_universe(config.n_genes)
    n = len(genes)
    mu = rng.uniform(4.0, 12.0, n)
    sd = rng.uniform(0.25, 0.8, n)
    order = rng.permutation(n)
    sex_idx = [i for i, g in enumerate(genes) if g in SEX_GENES][: config.n_gender_genes]
    taken = set(sex_idx)
    rest = [int(i) for i in order if i not in taken]
    gender_idx = sex_idx + rest[: config.n_gender_genes - len(sex_idx)]
    rest = rest[config.n_gender_genes - len(sex_idx) :]
    age_idx = rest[: config.n_age_genes]
    trait_idx = rest[config.n_age_genes : config.n_age_genes + config.n_trait_genes]
    trait_effect = np.zeros(n)
    signs = rng.choice([-1.0, 1.0], size=len(trait_idx))
    trait_effect[trait_idx] = signs * rng.uniform(config.effect_min, config.effect_max, len(trait_idx))
    age_effect = np.zeros(n)
    age_effect[age_idx] = rng.choice([-1.0, 1.0], size=len(age_idx)) * config.age_effect_per_decade
    male_effect = np.zeros(n)
    male_effect[gender_idx] = rng.choice([-1.0, 1.0], size=len(gender_idx)) * config.male_effect
    batch_genes = rng.random(n) < config.batch_gene_fraction
    return GeneModel(genes, mu, sd, trait_effect, age_effect, male_effect, batch_genes, source)


@dataclass
class Design:
    """Per-sample truth of one cohort."""

    ids: list[str]
    trait: np.ndarray  # 0/1
    age: np.ndarray  # true age (years); the files may hide some
    male: np.ndarray  # 0/1
    batch: np.ndarray  # 0..n_batches-1
    age_shown: np.ndarray  # bool: age written in the metadata


def _child(seed: np.random.SeedSequence, *path: int) -> np.random.SeedSequence:
    """A named sub-stream of `seed`: the same path always gives the same numbers."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, *path))


def case_labels(n: int, n_cases: int, rng: np.random.Generator) -> np.ndarray:
    trait = np.zeros(n, dtype=int)
    trait[rng.choice(n, size=n_cases, replace=False)] = 1
    return trait


def draw_design(ids: list[str], trait: np.ndarray, config: SynthConfig, rng: np.random.Generator) -> Design:
    """Age, Gender and batch for given trait labels, correlated with them (cases older, more often male)."""
    n = len(ids)
    age = np.clip(np.rint(rng.normal(54.0 + 9.0 * trait, 10.0)), 18, 90)
    male = (rng.random(n) < np.where(trait == 1, 0.65, 0.4)).astype(int)
    batch_p = np.where(trait == 1, 0.6, 0.3)  # batch 0 is over-represented among cases
    batch = np.where(rng.random(n) < batch_p, 0, rng.integers(1, max(2, config.n_batches), n))
    age_shown = rng.random(n) >= config.missing_age_fraction
    return Design(ids, trait, age, male, batch, age_shown)


def simulate_expression(
    model: GeneModel, design: Design, config: SynthConfig, seed: np.random.SeedSequence
) -> np.ndarray:
    """genes x samples log2 expression (float32), drawn in fixed chunks of genes."""
    n_genes, n_samples = len(model.genes), len(design.ids)
    out = np.empty((n_genes, n_samples), dtype=np.float32)
    shift_rng = np.random.default_rng(_child(seed, 0))
    n_batches = max(2, config.n_batches)
    batch_shift = shift_rng.normal(0.0, config.batch_sd, (n_genes, n_batches)) * model.batch_genes[:, None]
    batch_shift += shift_rng.normal(0.0, 0.15, n_batches)[None, :]  # a global offset per batch
    age_dec = (design.age - 60.0) / 10.0
    for k, start in enumerate(range(0, n_genes, GENE_CHUNK)):
        stop = min(start + GENE_CHUNK, n_genes)
        rng = np.random.default_rng(_child(seed, 1, k))
        sl = slice(start, stop)
        block = model.mu[sl, None] + model.sd[sl, None] * rng.standard_normal((stop - start, n_samples))
        block += model.trait_effect[sl, None] * design.trait[None, :]
        block += model.age_effect[sl, None] * age_dec[None, :]
        block += model.male_effect[sl, None] * design.male[None, :]
        block += batch_shift[sl][:, design.batch]
        out[sl] = block
    return out


# ----------------------------------------------------------------------------- writing helpers


def _fmt_rows(values: np.ndarray, decimals: int = 4) -> Iterator[str]:
    """'v1\tv2...' per row with `decimals` decimals (one C-level % per row: several times faster
    than formatting each number in Python); a missing value is written 'null', as GEO does."""
    fmt = "\t".join([f"%.{decimals}f"] * values.shape[1])
    for row in values.tolist():
        text = fmt % tuple(row)
        yield text.replace("nan", "null") if "nan" in text else text


def _column_template(labels: list[str], decimals: int = 4) -> str:
    """'label\t%.4f\n' for every label: one % with a column of values gives a whole SOFT table."""
    return "".join(f"{label.replace('%', '%%')}\t%.{decimals}f\n" for label in labels)


@contextmanager
def _gz_writer(path: Path) -> Iterator[IO[str]]:
    """Text into a gzip file whose header carries no time and the final name: same input, same bytes."""
    name = path.name.removesuffix(".partial").removesuffix(".gz")
    with path.open("wb") as raw, gzip.GzipFile(name, "wb", GZIP_LEVEL, raw, mtime=0) as gz:
        with io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as text:
            yield text


def _file_entry(path: Path, root: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path.relative_to(root)), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write to a temporary name, then rename: an interrupted run leaves no complete-looking file."""
    tmp = path.with_name(path.name + ".partial")
    write(tmp)
    tmp.replace(path)


# ----------------------------------------------------------------------------- GEO


@dataclass
class Platform:
    """A synthetic array: probe ids and the genes (indices into the universe) each measures."""

    gpl: str
    probe_ids: list[str]
    probe_genes: list[tuple[int, ...]]  # () for control probes
    affinity: np.ndarray
    symbol_column: str = "Gene Symbol"  # the annotation column naming each probe's genes
    title: str = ""


# Probe-id styles of real array makers, and the annotation column each names its genes in:
# a reader must map every style through the platform table (no id is a gene symbol).
PROBE_STYLES = {
    "affymetrix": "Gene Symbol",
    "illumina": "Symbol",
    "agilent": "GENE_SYMBOL",
}


def make_platform(
    gpl: str,
    n_genes: int,
    config: SynthConfig,
    rng: np.random.Generator,
    style: str = "affymetrix",
    genes: Sequence[int] | None = None,
) -> Platform:
    """A platform measuring `genes` (default: all n_genes), with duplicate, multi-gene (Affymetrix
    only, as 'A /// B') and control probes, probe ids in the maker's `style`."""
    measured = list(range(n_genes)) if genes is None else [int(g) for g in genes]
    n = len(measured)
    base = 200000
    members: list[tuple[str, tuple[int, ...]]] = [("", (g,)) for g in measured]  # ("" = plain probe)
    dup = np.flatnonzero(rng.random(n) < config.duplicate_probe_fraction)
    members += [("s", (measured[int(k)],)) for k in dup]
    if style == "affymetrix":
        n_multi = int(round(config.multi_gene_probe_fraction * n))
        pairs = rng.choice(n, size=(n_multi, 2))
        members += [("x", (measured[int(a)], measured[int(b)])) for a, b in pairs if a != b]
    n_control = max(1, int(round(config.control_probe_fraction * n)))
    members += [("c", ()) for _ in range(n_control)]
    probes = [
        (_probe_id(style, kind, k, genes_of, base, n_genes), genes_of)
        for k, (kind, genes_of) in enumerate(members)
    ]
    probes.sort(key=lambda p: p[0])
    affinity = rng.normal(0.0, 0.5, len(probes))
    return Platform(gpl, [p[0] for p in probes], [p[1] for p in probes], affinity, PROBE_STYLES[style])


def _probe_id(style: str, kind: str, k: int, genes: tuple[int, ...], base: int, n_genes: int) -> str:
    """The k-th probe's id: Affymetrix ids keep the gene's number (as before this style existed)."""
    if style == "affymetrix":
        if kind == "c":
            return f"AFFX-SYN-{k:04d}_at"
        if kind == "x":
            return f"{base + n_genes + k}_x_at"
        return f"{base + genes[0]}_{'s_' if kind == 's' else ''}at"
    if style == "illumina":
        return f"ILMN_{'CTRL' if kind == 'c' else ''}{1650000 + 7 * k}"
    if style == "agilent":
        return f"{'DarkCorner' if kind == 'c' else 'A_23_P'}{100000 + 13 * k}"
    raise GenoteamError(f"unknown probe style {style!r}", f"use one of {sorted(PROBE_STYLES)}")


def probe_values(platform: Platform, genes_x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """probes x samples: the mean of the probe's genes + probe affinity + noise; controls ~ N(6, .3)."""
    n_samples = genes_x.shape[1]
    out = np.empty((len(platform.probe_ids), n_samples), dtype=np.float32)
    for p, genes in enumerate(platform.probe_genes):
        if genes:
            level = genes_x[genes[0]] if len(genes) == 1 else genes_x[list(genes)].mean(axis=0)
        else:
            level = 6.0
        out[p] = level + platform.affinity[p] + rng.normal(0.0, 0.1, n_samples)
    np.clip(out, 0.0, None, out=out)
    return out


@dataclass(frozen=True)
class GeoStyle:
    """How one series words its characteristics (real series differ; readers must cope).

    Beyond the keys and values: how ages are written (formats with {age} in years or {months},
    taken in turn per sample), the word for a hidden age, whether a line is there at all, extra
    constant lines, per-sample alternating upper case, and titles/source names (a title that
    names nothing keeps a cohort's trait out of every field)."""

    trait_key: str
    case: str
    control: str
    age_key: str
    gender_key: str
    female: str
    male: str
    age_formats: tuple[str, ...] = ("{age}",)
    missing_age: str = "NA"
    show_trait: bool = True
    show_age: bool = True
    show_gender: bool = True
    extra: tuple[str, ...] = ()
    mixed_case: bool = False
    title_case: str = "patient {n:04d}, tumour tissue"
    title_control: str = "patient {n:04d}, normal tissue"
    source_case: str = "tumour tissue"
    source_control: str = "normal tissue"
    title_suffix: str = ""  # a platform's own word in the titles of a two-platform series
    batch_line: str = ""  # a characteristics line naming the processing batch, e.g. "batch: {batch}"


def geo_styles(trait: str) -> tuple[GeoStyle, ...]:
    """The wordings used by the series, in turn: a plain one, and one naming the disease."""
    disease = trait.replace("_", " ").lower()
    return (
        GeoStyle("disease state", "tumor", "normal", "age", "gender", "female", "male"),
        GeoStyle("tissue", disease, "adjacent normal tissue", "age (yrs)", "Sex", "F", "M"),
    )


def _geo_sample_fields(design: Design, style: GeoStyle, i: int) -> dict[str, Any]:
    case = design.trait[i] == 1

    def cased(value: str) -> str:
        return value.upper() if style.mixed_case and i % 2 else value

    characteristics = list(style.extra)
    if style.show_trait:
        characteristics.append(f"{style.trait_key}: {cased(style.case if case else style.control)}")
    if style.show_age:
        years = int(design.age[i])
        fmt = style.age_formats[i % len(style.age_formats)]
        age = fmt.format(age=years, months=12 * years) if design.age_shown[i] else style.missing_age
        characteristics.append(f"{style.age_key}: {age}")
    if style.show_gender:
        characteristics.append(f"{style.gender_key}: {cased(style.male if design.male[i] else style.female)}")
    if style.batch_line:
        characteristics.append(style.batch_line.format(batch=int(design.batch[i]) + 1))
    title = (style.title_case if case else style.title_control).format(n=i + 1)
    return {
        "title": f"{title} {style.title_suffix}" if style.title_suffix else title,
        "source": style.source_case if case else style.source_control,
        "characteristics": characteristics,
        "description": f"processing batch {int(design.batch[i]) + 1}",
    }


def _series_text(gse: str, config: SynthConfig) -> dict[str, str]:
    return {
        "title": f"SYNTHETIC {config.trait.replace('_', ' ')} vs normal tissue (genoteam seed {config.seed})",
        "summary": "Synthetic expression data generated by genoteam with planted trait genes, "
        "Age and Gender effects and batch effects. The truth is in truth.json; not real patients.",
        "overall_design": "Tumour and normal tissue samples hybridised to one array type, in batches.",
    }


def write_series_matrix(
    path: Path,
    gse: str,
    platform: Platform,
    design: Design,
    style: GeoStyle,
    values: np.ndarray,
    config: SynthConfig,
) -> None:
    """GEO's series-matrix text: !Series_ header, !Sample_ rows, the quoted-id table."""
    text = _series_text(gse, config)
    fields = [_geo_sample_fields(design, style, i) for i in range(len(design.ids))]

    def quoted(items: list[str]) -> str:
        return "\t".join(f'"{v}"' for v in items)

    def write(tmp: Path) -> None:
        with _gz_writer(tmp) as out:
            out.write(f'!Series_title\t"{text["title"]}"\n')
            out.write(f'!Series_geo_accession\t"{gse}"\n')
            out.write('!Series_status\t"Public on Jan 01 2024"\n')
            out.write('!Series_submission_date\t"Jan 01 2024"\n')
            out.write(f'!Series_summary\t"{text["summary"]}"\n')
            out.write(f'!Series_overall_design\t"{text["overall_design"]}"\n')
            out.write('!Series_type\t"Expression profiling by array"\n')
            out.write(f'!Series_sample_id\t"{" ".join(design.ids)} "\n')
            out.write(f'!Series_platform_id\t"{platform.gpl}"\n')
            out.write('!Series_platform_taxid\t"9606"\n!Series_sample_taxid\t"9606"\n\n')
            out.write(f"!Sample_title\t{quoted([f['title'] for f in fields])}\n")
            out.write(f"!Sample_geo_accession\t{quoted(design.ids)}\n")
            out.write(f"!Sample_status\t{quoted(['Public on Jan 01 2024'] * len(fields))}\n")
            out.write(f"!Sample_type\t{quoted(['RNA'] * len(fields))}\n")
            out.write(f"!Sample_channel_count\t{quoted(['1'] * len(fields))}\n")
            out.write(f"!Sample_source_name_ch1\t{quoted([f['source'] for f in fields])}\n")
            out.write(f"!Sample_organism_ch1\t{quoted(['Homo sapiens'] * len(fields))}\n")
            depth = max(len(f["characteristics"]) for f in fields)
            for k in range(depth):  # a sample with fewer lines gets "" in the later rows, as in GEO
                row = [f["characteristics"][k] if k < len(f["characteristics"]) else "" for f in fields]
                out.write(f"!Sample_characteristics_ch1\t{quoted(row)}\n")
            out.write(f"!Sample_molecule_ch1\t{quoted(['total RNA'] * len(fields))}\n")
            out.write(f"!Sample_description\t{quoted([f['description'] for f in fields])}\n")
            out.write(f"!Sample_platform_id\t{quoted([platform.gpl] * len(fields))}\n")
            out.write(f"!Sample_data_row_count\t{quoted([str(len(platform.probe_ids))] * len(fields))}\n")
            out.write("!series_matrix_table_begin\n")
            out.write(f'"ID_REF"\t{quoted(design.ids)}\n')
            for start in range(0, len(platform.probe_ids), WRITE_CHUNK):
                ids = platform.probe_ids[start : start + WRITE_CHUNK]
                rows = _fmt_rows(values[start : start + WRITE_CHUNK], config.decimals)
                out.write("".join(f'"{pid}"\t{row}\n' for pid, row in zip(ids, rows, strict=True)))
            out.write("!series_matrix_table_end\n")

    _write_atomically(path, write)


def _platform_table_rows(platform: Platform, genes: list[str], entrez: dict[str, str]) -> Iterator[str]:
    for pid, members in zip(platform.probe_ids, platform.probe_genes, strict=True):
        symbols = [genes[g] for g in members]
        ids = [entrez.get(s, "") for s in symbols]
        spot = "--Control" if not members else ""
        yield f"{pid}\t{' /// '.join(symbols)}\t{' /// '.join(i for i in ids if i)}\t{spot}\n"


@dataclass
class SeriesPart:
    """The samples of one platform of a series: what a family SOFT's ^PLATFORM and ^SAMPLE blocks hold."""

    platform: Platform
    design: Design
    style: GeoStyle
    values: np.ndarray  # probes x samples


def write_family_soft(
    path: Path,
    gse: str,
    parts: Sequence[SeriesPart],
    genes: list[str],
    entrez: dict[str, str],
    config: SynthConfig,
) -> None:
    """GEO's family SOFT: ^DATABASE, ^SERIES, then per platform its ^PLATFORM with the annotation
    table and its ^SAMPLE blocks (GSE781 holds two platforms this way)."""
    text = _series_text(gse, config)

    def write(tmp: Path) -> None:
        with _gz_writer(tmp) as out:
            out.write(
                "^DATABASE = GeoMiame\n!Database_name = Gene Expression Omnibus (GEO)\n"
                "!Database_institute = NCBI NLM NIH\n"
                "!Database_web_link = http://www.ncbi.nlm.nih.gov/geo\n"
                "!Database_email = geo@ncbi.nlm.nih.gov\n"
            )
            out.write(f"^SERIES = {gse}\n!Series_title = {text['title']}\n!Series_geo_accession = {gse}\n")
            out.write("!Series_status = Public on Jan 01 2024\n")
            out.write(f"!Series_summary = {text['summary']}\n")
            out.write(f"!Series_overall_design = {text['overall_design']}\n")
            out.write("!Series_type = Expression profiling by array\n")
            out.write("".join(f"!Series_sample_id = {gsm}\n" for part in parts for gsm in part.design.ids))
            out.write("".join(f"!Series_platform_id = {part.platform.gpl}\n" for part in parts))
            for part in parts:
                _write_soft_platform(out, part.platform, genes, entrez)
            for part in parts:
                _write_soft_samples(out, gse, part, config.decimals)

    _write_atomically(path, write)


def _write_soft_platform(out: IO[str], platform: Platform, genes: list[str], entrez: dict[str, str]) -> None:
    title = platform.title or f"SYNTHETIC genoteam array {platform.gpl}"
    out.write(f"^PLATFORM = {platform.gpl}\n")
    out.write(f"!Platform_title = {title}\n")
    out.write(f"!Platform_geo_accession = {platform.gpl}\n!Platform_status = Public on Jan 01 2024\n")
    out.write("!Platform_technology = in situ oligonucleotide\n!Platform_distribution = commercial\n")
    out.write("!Platform_organism = Homo sapiens\n!Platform_manufacturer = genoteam\n")
    out.write(f"!Platform_data_row_count = {len(platform.probe_ids)}\n")
    out.write(f"#ID = Probe set ID\n#{platform.symbol_column} = A gene symbol, when one is available\n")
    out.write('#ENTREZ_GENE_ID = Entrez Gene Database UID DELIMIT:" /// "\n#SPOT_ID = identifies controls\n')
    out.write(f"!platform_table_begin\nID\t{platform.symbol_column}\tENTREZ_GENE_ID\tSPOT_ID\n")
    out.write("".join(_platform_table_rows(platform, genes, entrez)))
    out.write("!platform_table_end\n")


def _write_soft_samples(out: IO[str], gse: str, part: SeriesPart, decimals: int) -> None:
    platform, design = part.platform, part.design
    n_probes = len(platform.probe_ids)
    template = _column_template(platform.probe_ids, decimals)
    for i, gsm in enumerate(design.ids):
        f = _geo_sample_fields(design, part.style, i)
        out.write(f"^SAMPLE = {gsm}\n!Sample_title = {f['title']}\n!Sample_geo_accession = {gsm}\n")
        out.write("!Sample_status = Public on Jan 01 2024\n!Sample_type = RNA\n!Sample_channel_count = 1\n")
        out.write(f"!Sample_source_name_ch1 = {f['source']}\n!Sample_organism_ch1 = Homo sapiens\n")
        out.write("".join(f"!Sample_characteristics_ch1 = {c}\n" for c in f["characteristics"]))
        out.write("!Sample_molecule_ch1 = total RNA\n")
        out.write(f"!Sample_description = {f['description']}\n")
        out.write(f"!Sample_platform_id = {platform.gpl}\n!Sample_series_id = {gse}\n")
        out.write(f"!Sample_data_row_count = {n_probes}\n")
        out.write("#ID_REF = \n#VALUE = log2 signal (synthetic)\n!sample_table_begin\nID_REF\tVALUE\n")
        table = template % tuple(part.values[:, i].tolist())
        out.write(table.replace("\tnan\n", "\tnull\n") if "nan" in table else table)
        out.write("!sample_table_end\n")


def write_geo_series(
    folder: Path,
    gse: str,
    parts: Sequence[SeriesPart],
    genes: list[str],
    entrez: dict[str, str],
    config: SynthConfig,
) -> None:
    """One series folder as GenoTEX's input has it: `<GSE>_series_matrix.txt.gz` and
    `<GSE>_family.soft.gz`; a series on several platforms has the family SOFT only (as GSE781)."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(parts) == 1:
        part = parts[0]
        path = folder / f"{gse}_series_matrix.txt.gz"
        write_series_matrix(path, gse, part.platform, part.design, part.style, part.values, config)
    write_family_soft(folder / f"{gse}_family.soft.gz", gse, parts, genes, entrez, config)


def entrez_ids(genes: list[str]) -> dict[str, str]:
    """Entrez ids of the symbols, from the same table the symbols came from (empty if none)."""
    if not SYMBOL_TABLE.is_file():
        return {}
    wanted = set(genes)
    found: dict[str, str] = {}
    with gzip.open(SYMBOL_TABLE, "rt") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if "entrez_id" not in header or "symbol" not in header:
            return {}
        i_id, i_sym = header.index("entrez_id"), header.index("symbol")
        for line in handle:
            row = line.rstrip("\n").split("\t")
            if len(row) > max(i_id, i_sym) and row[i_sym] in wanted and row[i_sym] not in found:
                found[row[i_sym]] = row[i_id]
    return found


# ----------------------------------------------------------------------------- TCGA


def tcga_barcodes(
    n_samples: int, n_tumour: int, rng: np.random.Generator, n_sites: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sample barcodes TCGA-<site>-<patient>-01|11, their trait (1 tumour) and site index.

    Some normals come from patients who also gave a tumour sample, as in TCGA.
    """
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    sites = [f"S{chr(ord('A') + k)}" for k in range(n_sites)]
    n_normal = n_samples - n_tumour
    n_patients = n_tumour + n_normal - n_normal // 2  # half of the normals are paired with a tumour
    codes: set[str] = set()
    patients = []
    while len(patients) < n_patients:
        code = "".join(rng.choice(alphabet, 4))
        if code not in codes:
            codes.add(code)
            patients.append(code)
    site_of = rng.integers(0, n_sites, n_patients)
    samples: list[tuple[int, int]] = [(p, 1) for p in range(n_tumour)]  # (patient, trait)
    samples += [(p, 0) for p in range(n_normal // 2)]  # paired normals
    samples += [(n_tumour + k, 0) for k in range(n_normal - n_normal // 2)]
    order = rng.permutation(len(samples))
    ids, trait, site = [], [], []
    for idx in order:
        p, t = samples[idx]
        ids.append(f"TCGA-{sites[site_of[p]]}-{patients[p]}-{'01' if t else '11'}")
        trait.append(t)
        site.append(site_of[p])
    return ids, np.array(trait), np.array(site)


def write_tcga_genes(
    path: Path, genes: list[str], ids: list[str], values: np.ndarray, decimals: int = 4
) -> None:
    """Xena HiSeqV2_PANCAN: 'sample' header, genes in rows, samples in columns."""

    def write(tmp: Path) -> None:
        with _gz_writer(tmp) as out:
            out.write("sample\t" + "\t".join(ids) + "\n")
            for start in range(0, len(genes), WRITE_CHUNK):
                rows = _fmt_rows(values[start : start + WRITE_CHUNK], decimals)
                out.write(
                    "".join(
                        f"{g}\t{row}\n"
                        for g, row in zip(genes[start : start + WRITE_CHUNK], rows, strict=True)
                    )
                )

    _write_atomically(path, write)


CLINICAL_COLUMNS = (
    "sampleID",
    "_INTEGRATION",
    "_PATIENT",
    "_cohort",
    "_primary_disease",
    "_primary_site",
    "age_at_initial_pathologic_diagnosis",
    "bcr_patient_barcode",
    "bcr_sample_barcode",
    "days_to_birth",
    "gender",
    "sample_type",
    "sample_type_id",
    "tissue_source_site",
    "vital_status",
)


def write_tcga_clinical(path: Path, rows: list[dict[str, str]], code: str) -> None:
    """Xena clinicalMatrix: tab-separated, one row per sample, '' for unknown values."""
    columns = [*CLINICAL_COLUMNS, f"_GENOMIC_ID_TCGA_{code}_exp_HiSeqV2_PANCAN"]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="\n") as out:
            out.write("\t".join(columns) + "\n")
            for row in rows:
                out.write("\t".join(row.get(c, "") for c in columns) + "\n")

    _write_atomically(path, write)


def _clinical_row(
    sample: str,
    trait: int,
    age: float,
    age_shown: bool,
    male: int,
    code: str,
    trait_name: str,
    rng: np.random.Generator,
    has_expression: bool,
) -> dict[str, str]:
    patient = sample[:12]
    disease = trait_name.replace("_", " ").lower()
    return {
        "sampleID": sample,
        "_INTEGRATION": sample,
        "_PATIENT": patient,
        "_cohort": f"TCGA {trait_name.replace('_', ' ')} ({code})",
        "_primary_disease": disease,
        "_primary_site": "synthetic",
        "age_at_initial_pathologic_diagnosis": str(int(age)) if age_shown else "",
        "bcr_patient_barcode": patient,
        "bcr_sample_barcode": sample + "A",
        "days_to_birth": str(-int(age * 365.25 + rng.integers(0, 365))) if age_shown else "",
        "gender": "MALE" if male else "FEMALE",
        "sample_type": "Primary Tumor" if trait else "Solid Tissue Normal",
        "sample_type_id": "01" if trait else "11",
        "tissue_source_site": sample.split("-")[1],
        "vital_status": "LIVING" if rng.random() < 0.7 else "DECEASED",
        f"_GENOMIC_ID_TCGA_{code}_exp_HiSeqV2_PANCAN": sample if has_expression else "",
    }


# ----------------------------------------------------------------------------- cohorts


def _design_truth(design: Design) -> dict[str, Any]:
    return {
        sid: {
            "trait": int(design.trait[i]),
            "age": int(design.age[i]),
            "age_shown": bool(design.age_shown[i]),
            "male": int(design.male[i]),
            "batch": int(design.batch[i]),
        }
        for i, sid in enumerate(design.ids)
    }


def generate_geo(
    config: SynthConfig,
    model: GeneModel,
    index: int,
    seed: np.random.SeedSequence,
    out: Path,
    one_class: bool = False,
) -> dict[str, Any]:
    rng = np.random.default_rng(_child(seed, 2))
    stem = f"99{config.seed % 1000:03d}{index + 1:02d}"
    gse, gpl = f"GSE{stem}", f"GPL{stem}"
    width = max(4, len(str(config.n_samples)))
    ids = [f"GSM{stem}{i + 1:0{width}d}" for i in range(config.n_samples)]
    n_cases = config.n_samples if one_class else int(round(config.geo_case_fraction * config.n_samples))
    design = draw_design(ids, case_labels(len(ids), n_cases, rng), config, rng)
    genes_x = simulate_expression(model, design, config, seed)
    platform = make_platform(gpl, len(model.genes), config, np.random.default_rng(_child(seed, 3)))
    values = probe_values(platform, genes_x, np.random.default_rng(_child(seed, 4)))
    del genes_x
    styles = geo_styles(config.trait)
    style = styles[index % len(styles)]
    folder = out / "GEO" / config.trait / gse
    parts = [SeriesPart(platform, design, style, values)]
    write_geo_series(folder, gse, parts, model.genes, entrez_ids(model.genes), config)
    return {
        "source": "GEO",
        "cohort": gse,
        "platform": gpl,
        "folder": str(folder.relative_to(out)),
        "n_samples": len(ids),
        "n_cases": int(design.trait.sum()),
        "n_probes": len(platform.probe_ids),
        "n_multi_gene_probes": sum(1 for g in platform.probe_genes if len(g) > 1),
        "n_control_probes": sum(1 for g in platform.probe_genes if not g),
        "characteristics": asdict(style),
        "expected_usable": not one_class,
        "expected_usable_why": "cases only: the trait has one class" if one_class else "both classes present",
        "samples": _design_truth(design),
    }


def generate_tcga(
    config: SynthConfig, model: GeneModel, seed: np.random.SeedSequence, out: Path
) -> dict[str, Any]:
    return tcga_cohort(config, model, seed, out)[0]


def tcga_cohort(
    config: SynthConfig,
    model: GeneModel,
    seed: np.random.SeedSequence,
    out: Path,
    n_tumour: int | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """One Xena cohort written under out/TCGA/: its truth entry and its genes x samples values.

    `n_tumour` fixes the tumour count (all of them: one class, like DLBC), else it follows
    tcga_tumour_fraction with at least 2 of each class."""
    rng = np.random.default_rng(_child(seed, 2))
    if n_tumour is None:
        n_tumour = int(round(config.tcga_tumour_fraction * config.n_samples))
        n_tumour = min(max(n_tumour, 2), config.n_samples - 2)
    ids, trait, site = tcga_barcodes(config.n_samples, n_tumour, rng, max(2, config.n_batches))
    design = draw_design(ids, trait, config, rng)
    design.batch = site  # in TCGA the tissue source site is the batch
    # patient-level age and gender: a paired normal shares them with its tumour sample
    by_patient: dict[str, int] = {}
    for i, sid in enumerate(ids):
        first = by_patient.setdefault(sid[:12], i)
        design.age[i], design.male[i], design.age_shown[i] = (
            design.age[first],
            design.male[first],
            design.age_shown[first],
        )
    genes_x = simulate_expression(model, design, config, seed)
    genes_x -= model.mu[:, None].astype(np.float32)  # Xena PANCAN values are centred per gene
    folder = out / "TCGA" / f"TCGA_{config.trait}_({config.tcga_code})"
    folder.mkdir(parents=True, exist_ok=True)
    code = config.tcga_code
    write_tcga_genes(
        folder / f"TCGA.{code}.sampleMap_HiSeqV2_PANCAN.gz", model.genes, ids, genes_x, config.decimals
    )
    rows = [
        _clinical_row(
            sid,
            int(design.trait[i]),
            design.age[i],
            bool(design.age_shown[i]),
            int(design.male[i]),
            code,
            config.trait,
            rng,
            True,
        )
        for i, sid in enumerate(ids)
    ]
    n_extra = int(round(config.extra_clinical_fraction * config.n_samples))
    known = set(ids)
    extra_ids, extra_trait, _ = tcga_barcodes(n_extra + 2, n_extra, rng, max(2, config.n_batches))
    extra = [(sid, int(t)) for sid, t in zip(extra_ids, extra_trait, strict=True) if sid not in known][
        :n_extra
    ]
    rows += [
        _clinical_row(
            sid, t, float(rng.integers(30, 85)), True, int(rng.random() < 0.5), code, config.trait, rng, False
        )
        for sid, t in extra
    ]
    rows.sort(key=lambda r: r["sampleID"])
    write_tcga_clinical(folder / f"TCGA.{code}.sampleMap_{code}_clinicalMatrix", rows, code)
    return {
        "source": "TCGA",
        "cohort": f"TCGA_{config.trait}_({code})",
        "folder": str(folder.relative_to(out)),
        "n_samples": len(ids),
        "n_cases": int(trait.sum()),
        "n_clinical_only_samples": len(extra),
        "expected_usable": bool(0 < trait.sum() < len(ids)),
        "expected_usable_why": "both classes present" if 0 < trait.sum() < len(ids) else "one class only",
        "samples": _design_truth(design),
    }, genes_x


def generate(config: SynthConfig, out: Path | str) -> dict[str, Any]:
    """Write the cohorts and truth.json under `out`; returns the truth record."""
    config = config.resolved()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GenoteamError(
            f"output folder {out} is not empty",
            "give a new folder (stale cohorts would mix with the new ones and not match truth.json)",
        )
    out.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(config.seed)
    n_geo = config.n_geo_cohorts + config.n_one_class_geo_cohorts
    truth_seed, tcga_seed, *geo_seeds = root.spawn(2 + n_geo)
    model = plant_truth(config, np.random.default_rng(truth_seed))
    cohorts = []
    if config.kind in ("geo", "both"):
        cohorts += [
            generate_geo(config, model, i, geo_seeds[i], out, one_class=i >= config.n_geo_cohorts)
            for i in range(n_geo)
        ]
    if config.kind in ("tcga", "both"):
        cohorts.append(generate_tcga(config, model, tcga_seed, out))
    files = sorted((p for p in out.rglob("*") if p.is_file() and p.name != "truth.json"), key=str)
    truth = {
        "generator": "genoteam.synthetic",
        "genoteam_version": __version__,
        "seed": config.seed,
        "config": asdict(config),
        "gene_symbols": model.symbol_source,
        "trait": config.trait,
        "trait_genes": _effects(model, model.trait_effect, "effect"),
        "age_genes": _effects(model, model.age_effect, "effect_per_decade"),
        "gender_genes": _effects(model, model.male_effect, "effect_male"),
        "batch_gene_count": int(model.batch_genes.sum()),
        "model": "x = mu + sd*z + effect*trait + age_effect*(age-60)/10 + male_effect*male + batch_shift "
        "(log2; GEO probes add affinity and noise; TCGA values are centred by mu)",
        "cohorts": cohorts,
        "files": [_file_entry(p, out) for p in files],
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def _effects(model: GeneModel, effect: np.ndarray, key: str) -> list[dict[str, Any]]:
    idx = np.flatnonzero(effect)
    idx = idx[np.argsort(-np.abs(effect[idx]), kind="stable")]
    return [{"gene": model.genes[i], key: round(float(effect[i]), 6)} for i in idx]
