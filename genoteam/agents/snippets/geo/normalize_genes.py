# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# Symbols by the policy; every rename, drop and merge, the scale and the batch-like fields and
# individuals of the samples go into the cohort record, which the statistics read.
from genoteam.toolkit.gene_mapping import GeneTableReport
from genoteam.toolkit.layout import update_cohort_record, write_gene_data
from genoteam.toolkit.sample_design import detect_geo_sample_info
from genoteam.toolkit.symbols import normalize_gene_symbols

gene_data, normalization_report = normalize_gene_symbols(gene_data, policy=symbol_policy)
print(normalization_report.summary())
gene_report = GeneTableReport(
    mapping_report if requires_gene_mapping else None,
    normalization_report,
    "probes mapped to genes" if requires_gene_mapping else "row IDs are gene symbols",
    scale_decision,
)
sample_info = detect_geo_sample_info(samples)
for note in sample_info.notes:
    print("samples:", note)
update_cohort_record(
    output_root, trait, cohort, gene_report.record() | {"sample_design": sample_info.record()}
)
write_gene_data(output_root, trait, cohort, gene_data)
print(f"gene data: {gene_data.shape[0]} genes x {gene_data.shape[1]} samples -> {out_gene_data_file}")
