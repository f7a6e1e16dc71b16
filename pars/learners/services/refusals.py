"""Why the writer refuses a record: the exceptions every channel turns into an answer."""

from __future__ import annotations

from pars.learners.validation import (
    FieldError,
)


class CompletionRefused(Exception):
    """A single write (web form, JSON) the validator or writer refused, with its errors."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


class RegistrationRefused(CompletionRefused):
    pass
