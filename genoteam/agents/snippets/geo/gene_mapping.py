# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# Probes -> genes by the symbol policy's rule (analyst: mean of a gene's log2 probes; genotex: value/n summed).
from genoteam.toolkit.gene_mapping import collapse_rule, map_probes_to_genes

gene_data, mapping_report = map_probes_to_genes(expression, annotation, collapse=collapse_rule(symbol_policy))
print(mapping_report.summary())
for note in mapping_report.notes:
    print("note:", note)
print(gene_data.iloc[:5, :5])
