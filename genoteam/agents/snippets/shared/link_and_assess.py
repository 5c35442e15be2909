# genoteam-snippet: roles=geo,tcga platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# GenoTEX's final steps, one report per step, so the reviewer sees what was dropped and why.
from genoteam.toolkit.cohort_info import validate_and_save_cohort_info
from genoteam.toolkit.layout import write_linked_data
from genoteam.toolkit.linking import (
    handle_missing_values_with_report,
    judge_and_remove_biased_features_with_report,
    link_clinical_genetic_data_with_report,
)

linked, link_report = link_clinical_genetic_data_with_report(clinical_df, gene_data, how="inner")
print(link_report.summary())
linked, missing_report = handle_missing_values_with_report(linked, trait)
print(missing_report.summary())
linked_data, bias_report = judge_and_remove_biased_features_with_report(linked, trait)
is_biased = bool(bias_report.trait_biased)
print(bias_report.summary())
note = "; ".join([link_report.summary(), missing_report.summary(), bias_report.summary()])
# availability as the linked inputs show it (GenoTEX's final check), then the record
is_gene_available = bool(len(gene_data) > 0)
is_trait_available = bool(clinical_df.shape[1] > 0)
is_usable = validate_and_save_cohort_info(
    True, cohort, cohort_info_file, is_gene_available, is_trait_available, is_biased, linked_data, note
)
if is_usable:
    write_linked_data(output_root, trait, cohort, linked_data)
    print(f"linked data: {linked_data.shape[0]} samples x {linked_data.shape[1]} columns -> {out_data_file}")
else:
    print("the cohort is not usable; no linked table is written")
