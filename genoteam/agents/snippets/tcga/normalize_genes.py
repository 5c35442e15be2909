# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
from genoteam.toolkit.layout import write_gene_data
from genoteam.toolkit.symbols import normalize_gene_symbols

gene_data, normalization_report = normalize_gene_symbols(genes, policy=symbol_policy)
print(normalization_report.summary())
write_gene_data(output_root, trait, cohort, gene_data)
print(f"gene data: {gene_data.shape[0]} genes x {gene_data.shape[1]} samples -> {out_gene_data_file}")
