"""The one rule for a missing prerequisite (Docker, R, a peer package, the real data folder).

On a developer's machine a missing prerequisite skips the test with a message that says what to
install. In CI (CI=true) the same absence is a broken set-up, so the test fails: a check that CI
promises to run is never skipped there silently.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail_in_ci(message: str) -> NoReturn:
    """Skip with `message` here; fail with it in CI. Reported at the caller's line."""
    __tracebackhide__ = True
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)  # also usable where a whole module needs it
