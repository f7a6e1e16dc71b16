"""Why an activity is where it is: its status, and what it still lacks for the next one.

Derived from the validator's own requirements (validation._missing_requirements), never from
a second list: what the validator lowers a record to Draft for is what this names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pars.activities.dictionary import FIELDS, FIELDS_BY_NAME
from pars.activities.validation import _missing_requirements
from pars.intake.fields import Kind, Status

# The status an activity may reach next, by its current status (None: closed).
_NEXT_STATUS = {"draft": "active", "active": "closed", "ready_to_close": "closed"}
_NEXT_LEVEL = {"active": Status.ACTIVE, "closed": Status.CLOSED}


@dataclass(frozen=True)
class MissingField:
    """A field an activity lacks for its next status, and the rule that asks for it."""

    field: str
    label: str
    rule: str


@dataclass(frozen=True)
class StatusNeeds:
    """An activity's status, the next one it may reach, and what it lacks for that."""

    status: str
    next_status: str | None
    missing: list[MissingField]


def status_needs(values: Mapping[str, Any], supporters: Iterable[Any] = ()) -> StatusNeeds:
    """For a stored activity's values (or a clean record's), its status and the fields it
    lacks for the next one, from the same requirements the validator applies."""
    status = str(values.get("status") or "draft")
    following = _NEXT_STATUS.get(status)
    if following is None:
        return StatusNeeds(status, None, [])
    level = _NEXT_LEVEL[following]
    missing = _missing_requirements(dict(values), list(supporters))
    needed = dict.fromkeys(
        (name, rule) for required_for, name, rule in missing if required_for <= level
    )
    return StatusNeeds(
        status,
        following,
        [MissingField(name, _label(name), rule) for name, rule in needed],
    )


def activity_needs(activity: Any) -> StatusNeeds:
    """status_needs of a stored Activity (its supporters read only if it needs them)."""
    values = {
        spec.name: getattr(activity, spec.name, None)
        for spec in FIELDS
        if spec.kind is not Kind.SUPPORTERS
    }
    values["status"] = activity.status
    supporters = activity.supporters.all() if activity.commercial_support_received else ()
    return status_needs(values, supporters)


def _label(name: str) -> str:
    spec = FIELDS_BY_NAME.get(name)
    return spec.label if spec is not None else name.replace("_", " ").capitalize()
