"""Names and sizes of GenoTEX's evaluation, in a module light enough for the CLI to import."""

GENOTEX_N_GENES = 20000  # GenoTEX pads ranked gene lists to this many genes (AUROC, GSEA-ES)
SUBTASKS = ("gene", "clinical", "linked")
TASKS = ("selection", "preprocessing", "analysis")  # GenoTEX's three evaluated tasks
