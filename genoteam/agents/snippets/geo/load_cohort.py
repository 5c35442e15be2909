# genoteam-snippet: platform=* file_format=*
# ruff: noqa: F821 -- a kernel cell: names come from the setup cell and earlier units
# Read the series folder, keep this cohort (its platform, or the platforms that hold the same
# specimens, combined), and show what a person would look at first.
from genoteam.toolkit.geo import characteristics_table, read_geo_cohort, unique_values_by_row
from genoteam.toolkit.platforms import series_cohorts

series = read_geo_cohort(cohort_dir)
parts = series_cohorts(series)
if cohort not in parts:
    raise ValueError(f"cohort {cohort} is not in {cohort_dir}; the series holds {sorted(parts)}")
platform_data = parts[cohort].only_platform()
background = parts[cohort].background
expression = platform_data.expression
annotation = platform_data.annotation
samples = platform_data.samples

print(f"series {series.accession} ({series.source_kind}); cohort {cohort} on {platform_data.platform_id}")
for key, text in background.items():
    print(f"{key}: {str(text)[:600]}")
print(
    f"expression: {expression.shape[0]} probes x {expression.shape[1]} samples; annotation: {annotation.shape}"
)
for note in platform_data.notes:
    print("note:", note)
characteristics = characteristics_table(samples)
for row, values in unique_values_by_row(characteristics, max_values=8).items():
    print(f"characteristics row {row}: {values}")
del series, parts, platform_data  # the whole series (every platform's tables): later units read this cohort's
