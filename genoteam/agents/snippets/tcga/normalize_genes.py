# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# The gene table step (scale on the measured values, symbols by the policy) and the cohort record:
# symbol changes, scale, the tumour-vs-normal statement, participants and batch-like fields.
from genoteam.toolkit.gene_mapping import gene_table
from genoteam.toolkit.layout import update_cohort_record, write_gene_data
from genoteam.toolkit.sample_design import detect_tcga_sample_info

gene_data, gene_report = gene_table(genes, symbol_policy=symbol_policy)
print(gene_report.summary())
sample_info = detect_tcga_sample_info(list(genes.columns), clinical)
print(f"comparison: {sample_info.comparison}")
for note in sample_info.notes:
    print("samples:", note)
update_cohort_record(
    output_root, trait, cohort, gene_report.record() | {"sample_design": sample_info.record()}
)
write_gene_data(output_root, trait, cohort, gene_data)
print(f"gene data: {gene_data.shape[0]} genes x {gene_data.shape[1]} samples -> {out_gene_data_file}")
