"""The one error type the toolkit raises for bad inputs.

Every failure must say what went wrong and what to do, so the error carries both.
The toolkit imports nothing from the rest of genoteam; the rest re-uses this class.
"""

from __future__ import annotations


class GenoteamError(Exception):
    """A user-facing failure: `problem` says what went wrong, `hint` what to do about it."""

    def __init__(self, problem: str, hint: str = "") -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem}" + (f" -> {hint}" if hint else ""))


class InputFileError(GenoteamError):
    """A file that cannot be read as what it should be (corrupt, truncated, empty, wrong kind)."""

    def __init__(self, path: object, problem: str, hint: str = "") -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {problem}", hint)


def describe(error: BaseException) -> str:
    """One line for a user: a GenoteamError's problem with what to do, else the type and message."""
    if isinstance(error, GenoteamError):
        return str(error)
    return f"{type(error).__name__}: {error}"
