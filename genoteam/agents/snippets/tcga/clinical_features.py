# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# The offline domain expert: barcode sample types for the trait, the toolkit's column rules for Age/Gender.
from genoteam.toolkit.layout import write_clinical_data
from genoteam.toolkit.tcga import extract_tcga_clinical

tcga_clinical = extract_tcga_clinical(clinical, trait)
clinical_df = tcga_clinical.features
is_trait_available = bool(clinical_df.shape[1] > 0)
print(tcga_clinical.summary())
write_clinical_data(output_root, trait, cohort, clinical_df)
