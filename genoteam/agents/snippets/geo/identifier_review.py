# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# Symbols or probes? Count how many row ids the NCBI symbol table knows. The scale is decided here,
# on the values as measured, before any collapse to genes (log2 at most once).
from genoteam.toolkit.gene_mapping import measured_on_log2_scale, share_of_known_symbols

row_ids = [str(name) for name in expression.index[:5000]]
known_fraction = share_of_known_symbols(expression.index, sample_size=5000)
requires_gene_mapping = bool(known_fraction <= 0.5)
expression, scale_decision = measured_on_log2_scale(expression, symbol_policy)
print(f"scale: {scale_decision.reason if scale_decision else 'kept as submitted (GenoTEX policy)'}")
if not requires_gene_mapping:
    gene_data = expression
print(f"first ids: {row_ids[:10]}")
print(
    f"{known_fraction:.1%} of the first {len(row_ids)} ids are gene symbols -> requires_gene_mapping={requires_gene_mapping}"
)
