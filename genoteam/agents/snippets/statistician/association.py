# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
import os

from genoteam.toolkit.errors import GenoteamError
from genoteam.toolkit.layout import write_significant_genes
from genoteam.toolkit.stats.questions import answer_question
from genoteam.toolkit.stats.selection import load_task_info

task_info = load_task_info(task_info_file) if task_info_file else None
try:
    result = answer_question(
        preprocess_root,
        trait,
        condition,
        method=method,
        select_by=select_by,
        task_info=task_info,
        genotex_version=genotex_version,
    )
    answerable = True
except GenoteamError as error:  # the data cannot answer the question (a finding, not a bug)
    result, answerable, unanswerable_reason = None, False, error.problem
    print(f"not answerable: {error.problem}")
if answerable:
    write_significant_genes(output_root, trait, condition, result.to_json_dict())
    os.makedirs(os.path.dirname(out_table_file), exist_ok=True)
    result.table.to_csv(out_table_file, index=False)
    print(
        f"method {result.method}; cohorts {result.cohorts}; {result.table.shape[0]} genes tested; "
        f"{len(result.genes)} significant"
    )
    print(result.significant.head(10).to_string())
    for note in result.notes:
        print("note:", note)
