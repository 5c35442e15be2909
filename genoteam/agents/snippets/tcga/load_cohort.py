# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
from genoteam.toolkit.cohort_info import validate_and_save_cohort_info
from genoteam.toolkit.tcga import find_tcga_files, read_tcga_clinical, read_tcga_genes

tcga_files = find_tcga_files(cohort_dir)
clinical = read_tcga_clinical(tcga_files.clinical)
genes = read_tcga_genes(tcga_files.genes) if tcga_files.genes is not None else None
is_gene_available = genes is not None
print(f"clinical: {clinical.shape[0]} samples x {clinical.shape[1]} columns ({tcga_files.clinical.name})")
if is_gene_available:
    print(f"expression: {genes.shape[0]} genes x {genes.shape[1]} samples ({tcga_files.genes.name})")
else:
    print("no expression matrix in this cohort: recorded as unavailable")
    validate_and_save_cohort_info(False, cohort, cohort_info_file, False, True)
print("clinical columns:", list(clinical.columns))
