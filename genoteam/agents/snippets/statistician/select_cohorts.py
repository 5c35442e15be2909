# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
from genoteam.toolkit.layout import OutputLayout
from genoteam.toolkit.stats.selection import select_one_step_cohort
from genoteam.toolkit.traits import condition_is_trait

output_layout = OutputLayout(output_root)
cohort_info = output_layout.cohort_info(trait, missing_ok=True)
two_step = condition_is_trait(condition)
condition_info = output_layout.cohort_info(condition, missing_ok=True) if two_step else {}
for entity, records in [(trait, cohort_info)] + ([(condition, condition_info)] if two_step else []):
    print(f"{entity}: {len(records)} cohort(s)")
    for name, record in records.items():
        print(
            f"  {name}: usable={record.get('is_usable')} n={record.get('sample_size')} "
            f"age={record.get('has_age')} gender={record.get('has_gender')} note={str(record.get('note'))[:200]}"
        )
if two_step:
    selected_cohort = None
    has_usable_cohort = any(r.get("is_usable") for r in cohort_info.values()) and any(
        r.get("is_usable") for r in condition_info.values()
    )
else:
    selected_cohort = select_one_step_cohort(cohort_info, condition) if cohort_info else None
    has_usable_cohort = selected_cohort is not None
print(f"selected cohort: {selected_cohort}; usable cohort available: {has_usable_cohort}")
