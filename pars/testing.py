"""Builders for tests: small typed functions, one per kind of row."""

from __future__ import annotations

import copy
import datetime
import itertools
import tempfile
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from pars.accounts.models import Membership, Role, User
from pars.activities.dictionary import Kind
from pars.activities.models import Activity, ActivityFormat
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.learners.models import ActivityRegistration, Recipient
from pars.providers.models import (
    AccreditationDecision,
    AccreditationStatus,
    AccreditorType,
    Contact,
    ContactRole,
    DecisionType,
    Provider,
    RecognizedAccreditor,
)

TEST_PASSWORD = "correct-horse-battery-staple-42"
_numbers = itertools.count(1000)


def make_provider(**fields: Any) -> Provider:
    number = next(_numbers)
    defaults: dict[str, Any] = {
        "provider_id": f"{number:07d}",
        "name": f"Provider {number}",
        "accreditor_type": AccreditorType.ACCME,
        "accreditation_status": AccreditationStatus.ACCREDITATION,
    }
    defaults.update(fields)
    return Provider.objects.create(**defaults)


def make_accreditor(state: str = "ME", name: str | None = None) -> RecognizedAccreditor:
    return RecognizedAccreditor.objects.get_or_create(
        state=state, defaults={"name": name or f"{state} Medical Society"}
    )[0]


def make_user(email: str | None = None, **fields: Any) -> User:
    email = email or f"user{next(_numbers)}@example.org"
    return User.objects.create_user(email, TEST_PASSWORD, **fields)


def make_member(provider: Provider, role: str = Role.EDITOR, **user_fields: Any) -> User:
    user = make_user(**user_fields)
    Membership.objects.create(user=user, provider=provider, role=role)
    return user


def make_contact(provider: Provider, **fields: Any) -> Contact:
    defaults: dict[str, Any] = {
        "role": ContactRole.OTHER,
        "name": "Pat Contact",
        "email": "pat@example.org",
    }
    defaults.update(fields)
    return Contact.objects.create(provider=provider, **defaults)


def make_decision(provider: Provider, **fields: Any) -> AccreditationDecision:
    defaults: dict[str, Any] = {
        "decision_type": DecisionType.REACCREDITATION,
        "outcome": AccreditationStatus.ACCREDITATION,
        "decided_on": datetime.date(2024, 7, 19),
    }
    defaults.update(fields)
    return AccreditationDecision.objects.create(provider=provider, **defaults)


def course_json(**overrides: Any) -> dict[str, Any]:
    """A complete live course as a JSON client sends it (tests and bench/api_latency.py):
    the OpenAPI example (pars.api_contract), with commercial support and two supporters."""
    from pars.api_contract import ACTIVITY_EXAMPLE  # the documented course, not a second copy

    record: dict[str, Any] = {
        **copy.deepcopy({k: v for k, v in ACTIVITY_EXAMPLE.items() if k != "provider_activity_id"}),
        "commercial_support_received": True,
        "supporters": [
            {"source": "Example Pharma", "monetary_amount": 5000},
            {"source": "Device Co", "in_kind": True, "in_kind_description": "Ultrasound units"},
        ],
    }
    record.update(overrides)
    return record


def make_activity(provider: Provider, **fields: Any) -> Activity:
    number = next(_numbers)
    defaults: dict[str, Any] = {
        "provider_activity_id": f"ACT-{number}",
        "title": f"Activity {number}",
        "activity_format": ActivityFormat.COURSE,
        "start_date": datetime.date(2026, 3, 1),
        "end_date": datetime.date(2026, 3, 2),
        "reporting_year": 2026,
    }
    defaults.update(fields)
    return Activity.objects.create(provider=provider, **defaults)


def register(activity: Activity, code: str = "ABIM", **fields: Any) -> Any:
    """Register an activity with a recipient (the board's defaults: 10 points, MK type)."""
    recipient = Recipient.objects.get(code=code)
    defaults: dict[str, Any] = {}
    if recipient.kind == "moc_board":
        defaults = {"moc_points": Decimal(10), "credit_types": recipient.credit_types[:1]}
    if recipient.kind == "rems":
        defaults = {"rems_type": "opioid_analgesic"}
    defaults.update(fields)
    return ActivityRegistration.objects.create(
        provider=activity.provider, activity=activity, recipient=recipient, **defaults
    )


# A learner row as files and the JSON body carry it; valid for ABIM with the
# registration above, for an activity dated March 2026.
LEARNER_ROW: dict[str, Any] = {
    "recipient": "ABIM",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "birth_date": "12-10",
    "learner_id": "123456",
    "completion_date": "2026-03-02",
    "cme_credits": "10",
    "moc_points": "10",
    "moc_credit_types": "Medical Knowledge",
}


def learner_row(activity: Activity, **overrides: Any) -> dict[str, Any]:
    row = {"provider_activity_id": activity.provider_activity_id, **LEARNER_ROW}
    row.update(overrides)
    return row


def as_json_record(row: dict[str, Any]) -> dict[str, Any]:
    """A learner record written as file text, as a JSON client sends it: credits as JSON
    numbers, credit types as an array, Yes/No as booleans (text that is no such value is
    left as it is)."""
    yes, no = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}
    record = dict(row)
    for name, value in row.items():
        spec = COMPLETION_FIELDS_BY_NAME.get(name)
        if spec is None or not isinstance(value, str):
            continue
        if not value.strip():  # an empty cell: no value (null), unless text
            record[name] = value if spec.kind is Kind.TEXT else None
        elif spec.kind is Kind.DECIMAL:
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                continue
            record[name] = int(number) if number == number.to_integral_value() else float(number)
        elif spec.kind is Kind.TEXT_LIST:
            record[name] = [part.strip() for part in value.split(";") if part.strip()]
        elif spec.kind is Kind.BOOLEAN and value.strip().lower() in yes | no:
            record[name] = value.strip().lower() in yes
    return record


def learner_json(activity: Activity, **overrides: Any) -> dict[str, Any]:
    """:func:`learner_row` as the JSON body of the web service sends it."""
    return as_json_record(learner_row(activity, **overrides))


def round_trips(connection: Any, run: Callable[[], object]) -> int:
    """The times `run` waited for PostgreSQL to answer on `connection` (a simple Query, or
    the Sync that ends extended-protocol messages, as libpq's trace shows them): BEGIN and
    COMMIT included, savepoints (a test's own transaction) left out."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        try:
            run()
        finally:
            pgconn.untrace()
        trace.seek(0)
        sent = [line for line in trace.read().splitlines() if "\tF\t" in line]
    return sum(
        1 for line in sent if ("\tQuery\t" in line and "SAVEPOINT" not in line) or "\tSync" in line
    )
