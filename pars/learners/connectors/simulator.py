"""The registry simulator: a stand-in recipient for tests, the demo and staging.

It behaves like a board's or state's system: it keeps a registry of learners per
recipient code (:class:`~pars.learners.models.RegistryLearner`, loaded from a file by
:func:`load_registry`), judges each record it receives against it, and remembers each
batch by its key (:class:`~pars.learners.models.SimulatedBatch`), so a batch sent again
returns the stored answer and is recorded once (``times_received`` counts the resends).

Judging a record:

* a withdrawal is accepted;
* a submission to a recipient that matches no learners (``matches_learners`` off: the
  REMS program, which only receives reports) is accepted without a lookup;
* a submission is accepted when the learner is in the registry: found by the
  identifier (a license number with the record's license state, else the board's), else
  by NPI where the recipient accepts one, else by name and birth date where the identifier
  is optional (ABS); first name, last name and birth month/day must agree;
* otherwise it is rejected with reason code ``identity_mismatch`` and a message that
  names the fields that differ, never their values;
* a record of an activity listed in ``connector_config["reject_activity_ids"]`` is
  rejected with reason code ``activity_not_registered``.

``recipient.connector_config`` tunes it: ``results_delay_seconds`` (results are ready
that long after receipt; default 0), ``fail_next_sends`` / ``fail_next_fetches`` (that
many calls fail as if the recipient were down, counting down), ``fail_sends_permanently``
(every send is refused as a 4xx would be).
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from pars.learners.connectors.base import (
    ACCEPTED,
    IDENTITY_MISMATCH,
    MATCH,
    MISMATCH,
    NOT_FOUND,
    REJECTED,
    ItemResult,
    MatchingUnavailable,
    MatchOutcome,
    PermanentDeliveryError,
    TransientDeliveryError,
    match_message,
)
from pars.learners.models import IdentifierKind, Recipient, RegistryLearner, SimulatedBatch
from pars.learners.validation import npi_is_valid, parse_month_day

logger = logging.getLogger(__name__)


class SimulatorConnector:
    """The connector of recipients whose ``connector`` is "simulator"."""

    def send(self, batch_key: str, recipient: Recipient, items: list[dict[str, Any]]) -> str:
        config = recipient.connector_config or {}
        if config.get("fail_sends_permanently"):
            raise PermanentDeliveryError(
                f"The {recipient.code} registry simulator refuses batches (configured)."
            )
        _count_down(recipient, "fail_next_sends", "receive the batch")
        receipt = f"SIM-{recipient.code}-{batch_key}"
        with transaction.atomic():
            updated = SimulatedBatch.objects.filter(key=batch_key).update(
                times_received=F("times_received") + 1
            )
            if updated:
                logger.info("Simulator %s: batch %s received again", recipient.code, batch_key)
                return receipt
            delay = float(config.get("results_delay_seconds") or 0)
            results = [asdict(_judge(recipient, item)) for item in items]
            try:
                with transaction.atomic():
                    SimulatedBatch.objects.create(
                        recipient_code=recipient.code,
                        key=batch_key,
                        results=results,
                        results_ready_at=timezone.now() + datetime.timedelta(seconds=delay),
                    )
            except IntegrityError:  # the same key arrived twice at once
                SimulatedBatch.objects.filter(key=batch_key).update(
                    times_received=F("times_received") + 1
                )
        logger.info(
            "Simulator %s: batch %s received (%d records)", recipient.code, batch_key, len(items)
        )
        return receipt

    def fetch_results(self, batch_key: str, recipient: Recipient) -> list[ItemResult] | None:
        _count_down(recipient, "fail_next_fetches", "answer")
        batch = SimulatedBatch.objects.filter(key=batch_key).first()
        if batch is None:
            raise PermanentDeliveryError(
                f"The {recipient.code} registry simulator has no batch with this key."
            )
        if batch.results_ready_at > timezone.now():
            return None
        return [ItemResult(**result) for result in batch.results]

    def match_learners(
        self, recipient: Recipient, learners: Sequence[Mapping[str, Any]]
    ) -> list[MatchOutcome]:
        if not recipient.matches_learners:
            raise MatchingUnavailable(
                f"{recipient.code} records are reported, not matched to a registry: "
                "there is no learner to check."
            )
        return [match_learner(recipient, learner) for learner in learners]


def _count_down(recipient: Recipient, name: str, what: str) -> None:
    """Fail this call if the recipient's config says so, and count the failure down."""
    config = dict(recipient.connector_config or {})
    remaining = int(config.get(name) or 0)
    if remaining <= 0:
        return
    config[name] = remaining - 1
    Recipient.objects.filter(pk=recipient.pk).update(connector_config=config)
    recipient.connector_config = config
    raise TransientDeliveryError(
        f"The {recipient.code} registry simulator is unavailable and could not {what} "
        "(simulated outage)."
    )


def _judge(recipient: Recipient, item: Mapping[str, Any]) -> ItemResult:
    ref = str(item["ref"])
    if item.get("action") == "withdraw":
        return ItemResult(ref, ACCEPTED)
    config = recipient.connector_config or {}
    activity_id = (item.get("activity") or {}).get("provider_activity_id")
    if activity_id and activity_id in (config.get("reject_activity_ids") or ()):
        return ItemResult(
            ref,
            REJECTED,
            f"{recipient.code} has no registration of this activity.",
            "activity_not_registered",
        )
    if not recipient.matches_learners:
        return ItemResult(ref, ACCEPTED)  # a report: no identity to match
    outcome = match_learner(recipient, item.get("learner") or {})
    if outcome.status == MATCH:
        return ItemResult(ref, ACCEPTED)
    return ItemResult(ref, REJECTED, match_message(recipient, outcome), IDENTITY_MISMATCH)


# ---------------------------------------------------------------------------
# Matching a learner against the registry


def _name(value: Any) -> str:
    """Names compare without case, spaces or punctuation ("O'Brien" = "obrien")."""
    return re.sub(r"[\W_]+", "", str(value or "")).casefold()


def _differences(row: RegistryLearner, learner: Mapping[str, Any], state: str) -> list[str]:
    fields = []
    if _name(row.first_name) != _name(learner.get("first_name")):
        fields.append("first_name")
    if _name(row.last_name) != _name(learner.get("last_name")):
        fields.append("last_name")
    if (row.birth_month, row.birth_day) != (
        _int(learner.get("birth_month")),
        _int(learner.get("birth_day")),
    ):
        fields.append("birth_date")
    given_state = str(learner.get("license_state") or "").upper()
    if state and row.license_state and given_state and row.license_state != given_state:
        fields.append("license_state")
    return fields


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def match_learner(recipient: Recipient, learner: Mapping[str, Any]) -> MatchOutcome:
    """Look the learner up in the simulator's registry of this recipient."""
    rows = RegistryLearner.objects.filter(recipient_code=recipient.code)
    # A license number means something only with its state: the record's, else the board's.
    state = ""
    if recipient.identifier_kind == IdentifierKind.LICENSE:
        state = str(learner.get("license_state") or recipient.state or "").strip().upper()
    learner_id = str(learner.get("learner_id") or "").strip()
    npi = str(learner.get("npi") or "").strip()
    found: list[RegistryLearner] = []
    by = "learner_id"
    if learner_id:
        by_id = rows.filter(learner_id__iexact=learner_id)
        if state:
            by_id = by_id.filter(license_state__in=(state, ""))
        found = list(by_id[:5])
    if not found and npi and recipient.accepts_npi:
        found = list(rows.filter(npi=npi)[:5])
        by = "npi" if found or not learner_id else by
    if not found and not recipient.identifier_required:
        month, day = _int(learner.get("birth_month")), _int(learner.get("birth_day"))
        candidates = rows.filter(birth_month=month or 0, birth_day=day or 0)
        wanted = (_name(learner.get("first_name")), _name(learner.get("last_name")))
        for row in candidates.iterator():
            if (_name(row.first_name), _name(row.last_name)) == wanted:
                return MatchOutcome(MATCH, by="name")
        if not learner_id:
            return MatchOutcome(NOT_FOUND, by="name")
    if not found:
        return MatchOutcome(NOT_FOUND, by=by)
    best = min((_differences(row, learner, state) for row in found), key=len)
    return MatchOutcome(MISMATCH, best, by=by) if best else MatchOutcome(MATCH, by=by)


# ---------------------------------------------------------------------------
# Loading the registry


class RegistryFileError(ValueError):
    """A registry file that cannot be loaded; the message names rows, never values."""


_HEADERS = {
    "learnerid": "learner_id",
    "boardid": "learner_id",
    "certifyingboardid": "learner_id",
    "licenseid": "learner_id",
    "licensenumber": "learner_id",
    "licenceid": "learner_id",
    "identifier": "learner_id",
    "id": "learner_id",
    "npi": "npi",
    "firstname": "first_name",
    "givenname": "first_name",
    "first": "first_name",
    "lastname": "last_name",
    "familyname": "last_name",
    "surname": "last_name",
    "last": "last_name",
    "birthdate": "birth_date",
    "dateofbirth": "birth_date",
    "dob": "birth_date",
    "birthmonth": "birth_month",
    "birthday": "birth_day",
    "licensestate": "license_state",
    "licencestate": "license_state",
    "stateoflicensure": "license_state",
    "state": "license_state",
}
REGISTRY_COLUMNS = ("learner_id", "npi", "first_name", "last_name", "birth_date", "license_state")


def _header(name: str) -> str:
    return _HEADERS.get(re.sub(r"[\W_]+", "", name).casefold(), "")


def _read_text(path_or_stream: str | Path | IO[str] | IO[bytes]) -> str:
    if isinstance(path_or_stream, str | Path):
        return Path(path_or_stream).read_text(encoding="utf-8-sig")
    content = path_or_stream.read()
    if isinstance(content, bytes):
        return content.decode("utf-8-sig")
    return content.removeprefix("\ufeff")


def parse_registry(path_or_stream: str | Path | IO[str] | IO[bytes]) -> list[dict[str, Any]]:
    """The learners of a registry file (tab- or comma-separated, with a header row).

    Columns (any order, header names as below or common aliases): ``learner_id``,
    ``npi``, ``first_name``, ``last_name``, ``birth_date`` (MM-DD; or ``birth_month`` and
    ``birth_day``), ``license_state``. Raises :class:`RegistryFileError`.
    """
    text = _read_text(path_or_stream)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [_header(name) for name in next(reader)]
    except StopIteration:
        raise RegistryFileError("The registry file is empty.") from None
    if "first_name" not in header or "last_name" not in header:
        raise RegistryFileError("The header row needs First Name and Last Name columns.")
    if "birth_date" not in header and not {"birth_month", "birth_day"} <= set(header):
        raise RegistryFileError("The header row needs a Birth Date (MM-DD) column.")
    learners = []
    problems = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        raw = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name}
        birth = raw.get("birth_date") or f"{raw.get('birth_month', '')}-{raw.get('birth_day', '')}"
        month_day = parse_month_day(birth)
        if not raw.get("first_name") or not raw.get("last_name"):
            problems.append(f"row {number}: first and last name are required")
        elif month_day is None:
            problems.append(f"row {number}: the birth date is not a valid MM-DD")
        elif raw.get("npi") and not npi_is_valid(raw["npi"]):
            problems.append(f"row {number}: the NPI is not valid")
        elif len(raw.get("learner_id", "")) > 40:
            problems.append(f"row {number}: the identifier is longer than 40 characters")
        else:
            learners.append(
                {
                    "learner_id": raw.get("learner_id", ""),
                    "npi": raw.get("npi", ""),
                    "first_name": raw["first_name"][:100],
                    "last_name": raw["last_name"][:100],
                    "birth_month": month_day[0],
                    "birth_day": month_day[1],
                    "license_state": raw.get("license_state", "").upper()[:2],
                }
            )
    if problems:
        shown = "; ".join(problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise RegistryFileError(f"The registry file has errors: {shown}{more}.")
    return learners


def add_to_registry(
    recipient_code: str, learners: Iterable[Mapping[str, Any]], *, replace: bool = False
) -> int:
    """Put learners (dicts as :func:`parse_registry` returns) in a recipient's registry."""
    code = recipient_code.strip().upper()
    if not Recipient.objects.filter(code=code).exists():
        raise RegistryFileError(f"Unknown recipient '{code[:20]}'.")
    rows = [
        RegistryLearner(
            recipient_code=code,
            learner_id=str(learner.get("learner_id") or ""),
            npi=str(learner.get("npi") or ""),
            first_name=str(learner["first_name"]),
            last_name=str(learner["last_name"]),
            birth_month=int(learner["birth_month"]),
            birth_day=int(learner["birth_day"]),
            license_state=str(learner.get("license_state") or "").upper(),
        )
        for learner in learners
    ]
    with transaction.atomic():
        if replace:
            RegistryLearner.objects.filter(recipient_code=code).delete()
        RegistryLearner.objects.bulk_create(rows, batch_size=1_000)
    logger.info("Simulator %s: %d registry learners loaded", code, len(rows))
    return len(rows)


def load_registry(
    recipient_code: str,
    path_or_stream: str | Path | IO[str] | IO[bytes],
    replace: bool = True,
) -> int:
    """Load a registry file into the simulator (replacing that recipient's registry by
    default); returns the number of learners loaded. Release held records afterwards
    with ``pars.learners.delivery.release_held(recipient_code)``."""
    return add_to_registry(recipient_code, parse_registry(path_or_stream), replace=replace)
