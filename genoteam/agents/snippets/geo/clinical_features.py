# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# The offline domain expert: the toolkit's rule-based chooser picks the trait/Age/Gender rows and says why.
from genoteam.toolkit.clinical_geo import extract_geo_clinical
from genoteam.toolkit.cohort_info import initial_record, update_cohort_info
from genoteam.toolkit.layout import write_clinical_data

is_gene_available = bool(expression.shape[0] > 0)
clinical_df, clinical_choice = extract_geo_clinical(samples, trait)
is_trait_available = bool(clinical_choice.is_trait_available and clinical_df is not None)
print(f"is_gene_available={is_gene_available} ({expression.shape[0]} rows of expression)")
print(clinical_choice.text())
if not (is_gene_available and is_trait_available):
    # the initial check: record the cohort as unavailable, with the reason, and stop here
    record = initial_record(is_gene_available, is_trait_available)
    record["note"] = (
        "no expression values" if not is_gene_available else f"no trait information found for '{trait}'"
    )
    update_cohort_info(cohort_info_file, cohort, record)
    print(f"cohort {cohort} recorded as unavailable: {record['note']}")
else:
    write_clinical_data(output_root, trait, cohort, clinical_df)
    print(clinical_df.T.describe(include="all").to_string())
