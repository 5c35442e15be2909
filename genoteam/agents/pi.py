"""The PI: the cohort plan (genoteam.pipeline.cohorts, shared with the reference pipeline and the
server) with its platform survey run in the sandbox, since reading a series means parsing input
files. The plan is rule-based and deterministic in every mode, so the same request always
preprocesses the same cohorts; each assignment is a recorded message.
"""

from __future__ import annotations

import json

from genoteam.toolkit.errors import GenoteamError

SURVEY_MARKER = "__GENOTEAM_SURVEY__"


def survey_cell(series_dirs: dict[str, str]) -> str:
    """Python for the sandbox: the cohorts (platform groups) of each GEO series folder."""
    return (
        "def _genoteam_survey(dirs):\n"
        "    import json\n"
        "    from genoteam.toolkit.platforms import survey_series\n"
        "    out = {name: survey_series(path) for name, path in dirs.items()}\n"
        f"    print({SURVEY_MARKER!r} + json.dumps(out))\n"
        f"_genoteam_survey({series_dirs!r})\n"
        "del _genoteam_survey\n"
    )


def parse_survey(stdout: str) -> dict[str, dict]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(SURVEY_MARKER):
            return json.loads(line[len(SURVEY_MARKER) :])
    raise GenoteamError(
        "the GEO platform survey printed no result", "see the sandbox output in provenance.json"
    )
