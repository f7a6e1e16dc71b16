"""Rules and the errors that cite them, shared by every record kind's validator.

Every error carries a stable rule ID from its kind's catalogue (``RULES`` of
`pars.activities.validation` and `pars.learners.validation`), published at ``/rules/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    id: str
    field: str
    message: str
    first_year: int | None = None
    last_year: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "field": self.field,
            "message": self.message,
            "first_year": self.first_year,
            "last_year": self.last_year,
        }


@dataclass(frozen=True)
class FieldError:
    row: int | None
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "rule": self.rule, "message": self.message}
