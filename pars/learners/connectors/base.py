"""What PARS asks of a recipient's connector, whatever carries the records.

A connector moves one *batch* of records to one recipient and brings back the
recipient's answer per record. Three calls:

* :meth:`Connector.send` hands over a batch under its key and returns a receipt. The
  key is the idempotency key: the same key sent again (after a worker died between
  sending and recording it) must be recognized by the recipient and change nothing.
* :meth:`Connector.fetch_results` returns the answer per record, or ``None`` while the
  recipient has not decided yet.
* :meth:`Connector.match_learners` checks learners against the recipient's registry
  (pre-validation and the release of held records); connectors that cannot raise
  :class:`MatchingUnavailable`.

Errors say what to do next: :class:`TransientDeliveryError` (try again later, with
backoff) or :class:`PermanentDeliveryError` (retrying will not help). Their messages
never carry personal values: they end up in logs and on staff pages.

Each item sent is a dict built by ``pars.learners.delivery`` (see ``docs/learner-
delivery.md``): ``ref`` (unique per record version and action), ``record_id``,
``version``, ``action`` ("submit" or "withdraw"), the activity, the learner's identity
and the credits. A result names the item by its ``ref``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pars.activities.dictionary import US_STATE_NAMES
from pars.learners.models import ConnectorKind, IdentifierKind

if TYPE_CHECKING:
    from pars.learners.models import Recipient


class DeliveryError(Exception):
    """A connector could not do what was asked. The message holds no personal values."""


class TransientDeliveryError(DeliveryError):
    """The recipient could not be reached or answered 5xx: try again later."""


class PermanentDeliveryError(DeliveryError):
    """The recipient refused the request itself (4xx, bad configuration): do not retry."""


class MatchingUnavailable(DeliveryError):
    """This recipient's connector offers no learner matching (or it is down)."""


# Outcomes a connector reports per item.
ACCEPTED = "accepted"
REJECTED = "rejected"
OUTCOMES = (ACCEPTED, REJECTED)

# Reason code of a rejection because the learner was not found or did not match:
# PARS holds such a record until the registry or the learner's data is fixed.
IDENTITY_MISMATCH = "identity_mismatch"
# Reason code of a withdrawal of a record the recipient does not have.
RECORD_NOT_FOUND = "record_not_found"


@dataclass(frozen=True)
class ItemResult:
    """The recipient's answer to one item of a batch."""

    ref: str
    outcome: str  # ACCEPTED | REJECTED
    reason: str = ""
    reason_code: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemResult:
        """Read one result as a recipient sends it (file or web service); ValueError if bad."""
        ref = str(data.get("ref") or "").strip()
        outcome = str(data.get("outcome") or data.get("status") or "").strip().lower()
        if not ref or outcome not in OUTCOMES:
            raise ValueError("a result needs a ref and an outcome of accepted or rejected")
        return cls(
            ref=ref,
            outcome=outcome,
            reason=str(data.get("reason") or "")[:500],
            reason_code=str(data.get("reason_code") or data.get("code") or "")[:60],
        )


# Match statuses (the same words pre-validation shows).
MATCH = "match"
MISMATCH = "mismatch"
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class MatchOutcome:
    """Whether one learner is in the recipient's registry.

    ``fields`` names what differs for a mismatch (``first_name``, ``last_name``,
    ``birth_date``, ``license_state``), never the values. ``by`` says how the learner
    was looked up: "learner_id", "npi" or "name".
    """

    status: str  # MATCH | MISMATCH | NOT_FOUND
    fields: list[str] = field(default_factory=list)
    by: str = "learner_id"


_FIELD_WORDS = {
    "first_name": "first name",
    "last_name": "last name",
    "birth_date": "birth date",
    "license_state": "license state",
}


def identifier_words(recipient: Recipient) -> str:
    """What the recipient calls the learner's identifier: a state's license number (which
    means something only with its state), else the recipient's own label."""
    if recipient.identifier_kind == IdentifierKind.LICENSE and recipient.state:
        return f"{US_STATE_NAMES.get(recipient.state, recipient.state)} license number"
    return recipient.identifier_label


def match_message(recipient: Recipient, outcome: MatchOutcome) -> str:
    """What a match outcome means, in words that quote no identifier or birth date."""
    code = recipient.code
    if outcome.status == MATCH:
        return f"The learner matches the {code} registry."
    if outcome.status == MISMATCH:
        words = [_FIELD_WORDS.get(name, name.replace("_", " ")) for name in outcome.fields]
        differs = " and ".join(words) if len(words) <= 2 else ", ".join(words)
        how = "NPI" if outcome.by == "npi" else identifier_words(recipient)
        return (
            f"A learner with this {how} is in the {code} registry, but the {differs} "
            f"{'differs' if len(words) == 1 else 'differ'}."
        )
    if outcome.by == "name":
        return f"No learner with this name and birth date is in the {code} registry."
    how = "NPI" if outcome.by == "npi" else identifier_words(recipient)
    return f"No learner with this {how} is in the {code} registry."


class Connector(Protocol):
    """The interface every connector implements (see the module docstring)."""

    def send(self, batch_key: str, recipient: Recipient, items: list[dict[str, Any]]) -> str:
        """Deliver the batch (idempotent by key); returns the recipient's receipt."""
        ...

    def fetch_results(self, batch_key: str, recipient: Recipient) -> list[ItemResult] | None:
        """The results of a batch sent earlier; None while they are not ready."""
        ...

    def match_learners(
        self, recipient: Recipient, learners: Sequence[Mapping[str, Any]]
    ) -> list[MatchOutcome]:
        """One outcome per learner (keys: first_name, last_name, birth_month, birth_day,
        learner_id, npi, license_state), in order."""
        ...


def connector_for(recipient: Recipient, *, sandbox: bool = False) -> Connector:
    """The connector of a recipient, by ``recipient.connector``; for a sandbox's records
    always the registry simulator (pars.activities.sandbox)."""
    kind = ConnectorKind.SIMULATOR if sandbox else recipient.connector
    # The concrete connectors import this module, so each is imported when chosen.
    if kind == ConnectorKind.SIMULATOR:
        from pars.learners.connectors.simulator import SimulatorConnector

        return SimulatorConnector()
    if kind == ConnectorKind.FILE:
        from pars.learners.connectors.file import FileConnector

        return FileConnector()
    if kind == ConnectorKind.HTTP:
        from pars.learners.connectors.http import HttpConnector

        return HttpConnector()
    raise PermanentDeliveryError(f"Recipient {recipient.code} has an unknown connector.")
