# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# Symbols or probes? Count how many row ids the NCBI symbol table knows.
from genoteam.toolkit.symbols import load_symbol_table

symbol_table = load_symbol_table()
row_ids = [str(name) for name in expression.index[:5000]]
known_fraction = sum(symbol_table.resolve(name) is not None for name in row_ids) / max(1, len(row_ids))
requires_gene_mapping = bool(known_fraction < 0.5)
if not requires_gene_mapping:
    gene_data = expression
print(f"first ids: {row_ids[:10]}")
print(
    f"{known_fraction:.1%} of the first {len(row_ids)} ids are gene symbols -> requires_gene_mapping={requires_gene_mapping}"
)
