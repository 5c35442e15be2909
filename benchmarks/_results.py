"""The one place that writes a benchmark's section of benchmarks/RESULTS.md.

Why shared: every bench_*.py owns one section between `<!-- begin NAME -->` / `<!-- end NAME -->`
markers and must replace only that section, so the scripts never clobber each other's figures.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, begin: str, end: str, results: Path = RESULTS) -> None:
    """Replace the text from `begin` to `end` (both kept in `section`) or append `section` when absent."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)
