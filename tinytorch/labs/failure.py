"""The exception every graded check raises: what was expected, and a hint."""

from __future__ import annotations


class LabFailure(AssertionError):
    """A graded check failed: ``message`` says what was expected, ``hint`` how to get there."""

    def __init__(self, message: str, hint: str | None = None, kind: str = "wrong"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind  # "wrong" | "undefined" | "provenance" | "no_delegation" | "forbidden_helper" | ...
