"""Writing a GenoTEX-like synthetic corpus (its plan: genoteam.synthetic_corpus).

    OUT/task_info.json      GenoTEX's task file: {trait: {related_genes, conditions}}
    OUT/input/GEO/<Trait>/<GSE>/<GSE>_series_matrix.txt.gz + <GSE>_family.soft.gz
    OUT/input/TCGA/TCGA_<Trait>_(<CODE>)/...   Xena files (genoteam.synthetic)
    OUT/truth/              a reference folder in GenoTEX's output layout, for `genoteam eval --ref`:
        preprocess/<Trait>/cohort_info.json   every cohort's expected record (usable or not, and why)
        preprocess/<Trait>/<cohort>.csv       the true linked table of each usable cohort
        regress/<Trait>/significant_genes_condition_<C>.json   the planted genes, for each question
                                              a correct analysis can answer
    OUT/corpus.json         the plan, per cohort its kind and expected verdict, every parameter

Each trait plants its own genes (genoteam.synthetic's model) in one gene universe; the planted
genes are the answer to every question about the trait, whatever the condition (Age and Gender
are confounders the analysis must adjust for; a two-step condition is another trait). The task
file's related_genes of a trait are most of its planted genes plus decoys, as known genes are.
A question is in truth/regress/ only when GenoTEX's selection finds its cohorts in the truth's
records (a trait whose cohorts are all unusable has no answer: insufficient data is right).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoteam import __version__
from genoteam.synthetic import (
    Design,
    GeneModel,
    Platform,
    SeriesPart,
    SynthConfig,
    _child,
    case_labels,
    draw_design,
    entrez_ids,
    gene_universe,
    make_platform,
    plant_truth,
    probe_values,
    simulate_expression,
    tcga_cohort,
    write_geo_series,
)
from genoteam.synthetic_corpus import (
    PAIR_PLATFORMS,
    PLATFORMS,
    TWO_PLATFORM,
    CohortSpec,
    CorpusConfig,
    CorpusPlan,
    TraitSpec,
    plan_corpus,
)
from genoteam.synthetic_traits import geo_wordings, trait_absent_wording
from genoteam.toolkit import layout
from genoteam.toolkit.cohort_info import cohort_order_key, initial_record
from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.linking import BINARY_MIN_COUNT, BINARY_MIN_PROPORTION
from genoteam.toolkit.stats.selection import condition_genes, rank_cohort_pairs, select_one_step_cohort
from genoteam.toolkit.traits import condition_is_trait

REASONS = {
    "usable": "usable: both classes, expression and trait recorded",
    TWO_PLATFORM: "usable: the same specimens on two arrays (one cohort, the union of their genes)",
    "no_trait_variation": "not usable: every sample is a case (the trait has one class)",
    "too_few_samples": "not usable: the rarer class has too few samples (GenoTEX's bias rule)",
    "trait_absent": "not usable: nothing in the metadata says which samples have the trait",
    "constant_expression": "not usable: no gene varies (every probe has one value in all samples)",
    "missing_expression": "not usable: every expression value is missing",
}


def write_corpus(config: CorpusConfig, out: Path | str) -> dict[str, Any]:
    """Write the corpus under `out` (a new or empty folder); returns the corpus.json record."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GenoteamError(
            f"output folder {out} is not empty",
            "give a new folder (stale cohorts would mix with the new ones and not match the truth)",
        )
    plan = plan_corpus(config)
    scale = plan.scale
    genes, symbol_source = gene_universe(scale.n_genes)
    synth = SynthConfig(
        n_genes=scale.n_genes,
        n_samples=max(8, scale.samples[0]),
        seed=config.seed,
        n_trait_genes=scale.n_trait_genes,
        effect_min=scale.effect[0],
        effect_max=scale.effect[1],
    ).resolved()
    root = np.random.SeedSequence(config.seed)
    writer = _Writer(out, genes, entrez_ids(genes), synth, _platforms(synth, root))
    task_info: dict[str, dict[str, Any]] = {}
    traits = []
    for index, trait in enumerate(plan.traits):
        seed = _child(root, 100, index)
        model = plant_truth(replace(synth, trait=trait.name), np.random.default_rng(_child(seed, 0)))
        task_info[trait.name] = {
            "related_genes": _known_genes(
                model, scale.n_known_decoys, np.random.default_rng(_child(seed, 1))
            ),
            "conditions": list(trait.conditions),
        }
        traits.append(writer.trait(trait, model, seed))
    layout.atomic_write_json(out / "task_info.json", task_info)
    answered = _write_answers(out / "truth", plan, traits, task_info, genes)
    record = {
        "generator": "genoteam.synthetic_write",
        "genoteam_version": __version__,
        "config": asdict(config),
        "scale": asdict(scale),
        "gene_symbols": symbol_source,
        "n_traits": len(plan.traits),
        "n_questions": plan.n_questions,
        "n_answerable_questions": len(answered),
        "n_cohorts": sum(len(t["cohorts"]) for t in traits),
        "layout": {"task_info": "task_info.json", "input": "input", "truth": "truth"},
        "traits": traits,
    }
    layout.atomic_write_json(out / "corpus.json", record)
    return record


def _platforms(synth: SynthConfig, root: np.random.SeedSequence) -> dict[str, Platform]:
    """The corpus's arrays, shared by every series on them; the pair splits the genes in two."""
    n = synth.n_genes
    found = {
        gpl: make_platform(gpl, n, synth, np.random.default_rng(_child(root, 1, k)), style)
        for k, (gpl, style) in enumerate(PLATFORMS)
    }
    half = n // 2
    for k, ((gpl, word), genes) in enumerate(zip(PAIR_PLATFORMS, (range(half), range(half, n)), strict=True)):
        rng = np.random.default_rng(_child(root, 2, k))
        platform = make_platform(gpl, n, synth, rng, "affymetrix", genes)
        platform.title = f"SYNTHETIC genoteam array {gpl} ({word}-like, half of the genes)"
        found[gpl] = platform
    return found


def _known_genes(model: GeneModel, n_decoys: int, rng: np.random.Generator) -> list[str]:
    """Most planted genes (as a curated list misses some) and decoys that are not planted."""
    planted = [model.genes[i] for i in np.flatnonzero(model.trait_effect)]
    kept = [
        planted[i]
        for i in sorted(rng.choice(len(planted), size=max(1, (3 * len(planted)) // 4), replace=False))
    ]
    others = [i for i in range(len(model.genes)) if not model.trait_effect[i]]
    decoys = [model.genes[others[i]] for i in rng.choice(len(others), size=n_decoys, replace=False)]
    known = kept + decoys
    return [known[i] for i in rng.permutation(len(known))]


class _Writer:
    """Writes the cohorts of each trait and their expected records (truth/preprocess/)."""

    def __init__(
        self,
        out: Path,
        genes: list[str],
        entrez: dict[str, str],
        synth: SynthConfig,
        platforms: dict[str, Platform],
    ) -> None:
        self.out, self.genes, self.entrez, self.synth, self.platforms = out, genes, entrez, synth, platforms
        self.input, self.truth = out / "input", out / "truth"

    def trait(self, trait: TraitSpec, model: GeneModel, seed: np.random.SeedSequence) -> dict[str, Any]:
        records: dict[str, dict[str, Any]] = {}
        cohorts = []
        for j, spec in enumerate(trait.cohorts):
            cseed = _child(seed, 2, j)
            if spec.source == "TCGA":
                design, values, folder = self._tcga(trait, spec, model, cseed)
            else:
                design, values, folder = self._geo(spec, model, cseed)
            record = expected_record(spec, design, self._style(spec))
            records[spec.cohort_id] = record
            if record["is_usable"]:
                self._linked_truth(trait.name, spec.cohort_id, design, values, record)
            cohorts.append(
                {
                    "cohort": spec.cohort_id,
                    "source": spec.source,
                    "kind": spec.kind,
                    "folder": folder,
                    "platforms": list(spec.platforms),
                    "n_samples": spec.n_samples,
                    "n_cases": int(design.trait.sum()),
                    "expected_usable": bool(record["is_usable"]),
                    "why": REASONS[spec.kind],
                    "wording": asdict(self._style(spec)) if spec.source == "GEO" else None,
                }
            )
        info_path = layout.OutputLayout(self.truth).cohort_info_path(trait.name)
        layout.atomic_write_json(info_path, {c: records[c] for c in sorted(records, key=cohort_order_key)})
        return {
            "trait": trait.name,
            "tcga_code": trait.tcga_code,
            "conditions": list(trait.conditions),
            "trait_genes": _effects(model, model.trait_effect),
            "age_genes": _effects(model, model.age_effect),
            "gender_genes": _effects(model, model.male_effect),
            "cohorts": cohorts,
        }

    def _style(self, spec: CohortSpec):
        if spec.kind == "trait_absent":
            return trait_absent_wording(spec.trait)
        wordings = geo_wordings(spec.trait)
        return wordings[spec.wording % len(wordings)]

    def _geo(
        self, spec: CohortSpec, model: GeneModel, seed: np.random.SeedSequence
    ) -> tuple[Design, np.ndarray, str]:
        rng = np.random.default_rng(_child(seed, 0))
        number = spec.cohort_id.removeprefix("GSE")
        ids = [f"GSM{number}{i + 1:04d}" for i in range(spec.n_samples)]
        design = draw_design(ids, case_labels(spec.n_samples, spec.n_cases, rng), self.synth, rng)
        genes_x = simulate_expression(model, design, self.synth, seed)
        style = self._style(spec)
        folder = self.input / "GEO" / spec.trait / spec.cohort_id
        parts = []
        for k, gpl in enumerate(spec.platforms):
            platform = self.platforms[gpl]
            values = probe_values(platform, genes_x, np.random.default_rng(_child(seed, 1, k)))
            if spec.kind == "constant_expression":
                values[:] = np.round(values.mean(axis=1, keepdims=True), 2)
            elif spec.kind == "missing_expression":
                values[:] = np.nan
            part_design, part_style = design, style
            if spec.kind == TWO_PLATFORM:  # GSE781: each specimen on both arrays, a GSM per array
                part_design = replace(design, ids=[f"GSM{number}{k + 1}{i + 1:03d}" for i in range(len(ids))])
                part_style = replace(style, title_suffix=PAIR_PLATFORMS[k][1])
            parts.append(SeriesPart(platform, part_design, part_style, values))
        config = replace(self.synth, trait=spec.trait)
        write_geo_series(folder, spec.cohort_id, parts, self.genes, self.entrez, config)
        if spec.kind == TWO_PLATFORM:
            design = parts[0].design  # the combined cohort is named by the first array's samples
        return design, genes_x, str(folder.relative_to(self.out))

    def _tcga(
        self, trait: TraitSpec, spec: CohortSpec, model: GeneModel, seed: np.random.SeedSequence
    ) -> tuple[Design, np.ndarray, str]:
        config = replace(self.synth, trait=trait.name, tcga_code=trait.tcga_code, n_samples=spec.n_samples)
        entry, values = tcga_cohort(config, model, seed, self.input, n_tumour=spec.n_cases)
        samples = entry["samples"]
        ids = list(samples)
        design = Design(
            ids,
            np.array([samples[s]["trait"] for s in ids]),
            np.array([float(samples[s]["age"]) for s in ids]),
            np.array([samples[s]["male"] for s in ids]),
            np.array([samples[s]["batch"] for s in ids]),
            np.array([samples[s]["age_shown"] for s in ids]),
        )
        return design, values, str(Path("input") / entry["folder"])

    def _linked_truth(
        self, trait: str, cohort: str, design: Design, values: np.ndarray, record: dict[str, Any]
    ) -> None:
        """The linked table a faithful preprocessing gives: trait, Age, Gender (when recorded), genes."""
        table = pd.DataFrame(values.T.astype(float).round(4), index=design.ids, columns=self.genes)
        clinical = {trait: design.trait.astype(float)}
        if record["has_age"]:
            clinical["Age"] = design.age.astype(float)
        if record["has_gender"]:
            clinical["Gender"] = design.male.astype(float)
        linked = pd.concat([pd.DataFrame(clinical, index=design.ids), table], axis=1)
        layout.write_linked_data(self.truth, trait, cohort, linked)


def _binary_fine(values: np.ndarray) -> bool:
    """GenoTEX's bias rule for a binary column (toolkit.linking): two classes, the rarer not too rare."""
    counts = np.bincount(values.astype(int), minlength=2)
    rare = int(counts.min())
    return rare > 0 and not (rare / len(values) < BINARY_MIN_PROPORTION and rare < BINARY_MIN_COUNT)


def expected_record(spec: CohortSpec, design: Design, style) -> dict[str, Any]:
    """The cohort_info.json record a correct preprocessing writes for this cohort (GenoTEX's fields)."""
    if spec.kind == "trait_absent":
        return initial_record(True, False) | {"note": REASONS[spec.kind]}
    if spec.kind in ("constant_expression", "missing_expression"):
        return initial_record(False, True) | {"note": REASONS[spec.kind]}
    tcga = spec.source == "TCGA"
    shown_age = design.age[design.age_shown]
    has_age = (tcga or style.show_age) and len(shown_age) > 0 and shown_age.min() != shown_age.max()
    has_gender = (tcga or style.show_gender) and _binary_fine(design.male)
    biased = not _binary_fine(design.trait)
    return {
        "is_usable": not biased,
        "is_gene_available": True,
        "is_trait_available": True,
        "is_available": True,
        "is_biased": biased,
        "has_age": bool(has_age),
        "has_gender": bool(has_gender),
        "sample_size": len(design.ids),
        "note": REASONS[spec.kind],
    }


def _effects(model: GeneModel, effect: np.ndarray) -> list[dict[str, Any]]:
    idx = np.flatnonzero(effect)
    idx = idx[np.argsort(-np.abs(effect[idx]), kind="stable")]
    return [{"gene": model.genes[i], "effect": round(float(effect[i]), 6)} for i in idx]


def _write_answers(
    truth: Path,
    plan: CorpusPlan,
    traits: list[dict[str, Any]],
    task_info: dict[str, Any],
    genes: list[str],
) -> list[tuple[str, str | None]]:
    """truth/regress/: the planted genes of each question GenoTEX's selection can answer."""
    infos = {t["trait"]: layout.OutputLayout(truth).cohort_info(t["trait"]) for t in traits}
    planted = {t["trait"]: t["trait_genes"] for t in traits}
    answered = []
    for trait, condition in plan.questions():
        if condition_is_trait(condition):
            ok = bool(rank_cohort_pairs(infos[trait], infos[condition])) and bool(
                condition_genes(task_info, trait, condition, genes, genes)
            )
        else:
            ok = select_one_step_cohort(infos[trait], condition) is not None
        if not ok:
            continue
        hits = planted[trait]
        result = {
            "significant_genes": {
                "Variable": [h["gene"] for h in hits],
                "Coefficient": [h["effect"] for h in hits],
                "Absolute Coefficient": [abs(h["effect"]) for h in hits],
            },
            "cv_performance": {},
            "truth": "planted trait genes (genoteam synthetic corpus)",
        }
        layout.write_significant_genes(truth, trait, condition, result)
        answered.append((trait, condition))
    return answered
