"""Idempotency-Key for API writes: a retried request gets the first answer again.

A client that sends ``Idempotency-Key: <key>`` with a POST or PUT may repeat the
request (after a timeout, say) without writing twice: the first answer is stored
per provider and key (model ``IdempotencyKey``), and a repeat with the same request
fingerprint gets it back without the action running again. The same key with a
different request is refused with 422 and rule ``api.idempotency_key.reused``.

    outcome = run_idempotent(provider, key, lambda: fingerprint(method, path, body), action)
    # outcome.status_code, outcome.body, outcome.replayed

``action`` returns ``(status code, JSON body)``; it runs inside the transaction that
stores its answer, so a failure rolls both back, and of two concurrent first
requests with one key only one writes. The fingerprint may be given as a callable,
computed only when there is a key (uploads hash the file, not the multipart body,
whose boundary changes from one try to the next).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from ninja import HeaderEx, P

from pars.accounts.access import system_access
from pars.intake.models import IdempotencyKey
from pars.providers.models import Provider

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# The printable characters a header can carry (Latin-1 but its controls, no-break space
# and soft hyphen): what ``str.isprintable`` accepts below, said for the OpenAPI description.
KEY_PATTERN = "^[ -~\u00a1-\u00ac\u00ae-\u00ff]*$"
# The header as an endpoint declares it (django-ninja checks it: 422 otherwise).
IdempotencyKeyHeader = HeaderEx[
    str | None,
    P(
        alias=HEADER,
        max_length=MAX_KEY_LENGTH,
        pattern=KEY_PATTERN,
        description="Makes a retry safe: the same key and request get the first answer again",
    ),
]
RULE_REUSED = "api.idempotency_key.reused"
RULE_INVALID = "api.idempotency_key.invalid"


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool = False  # True: the stored answer of an earlier request with this key


def fingerprint(*parts: str | bytes) -> str:
    """sha256 of the parts (e.g. method, path and body), each length-prefixed."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def key_error(rule: str, message: str) -> Outcome:
    """422 with the API's error list (and ``detail``, for endpoints that answer with one)."""
    error = {"row": None, "field": HEADER, "rule": rule, "message": message}
    return Outcome(422, {"detail": message, "errors": [error]})


def _stored(row: IdempotencyKey, request_fingerprint: str) -> Outcome:
    if row.request_fingerprint != request_fingerprint:
        return key_error(
            RULE_REUSED,
            "This Idempotency-Key was already used for a different request; "
            "send a new key with each new request.",
        )
    return Outcome(row.status_code, row.response_body, replayed=True)


def _storable(value: Any) -> Any:
    """`value` with NUL characters replaced (U+FFFD): PostgreSQL's jsonb cannot hold
    U+0000, and an answer may echo one sent in the request (an unknown field's name)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def run_idempotent(
    provider: Provider,
    key: str | None,
    request_fingerprint: str | Callable[[], str],
    action: Callable[[], tuple[int, Any]],
) -> Outcome:
    """Run ``action`` at most once per provider and key.

    Without a key the action simply runs. Answers of 500 and above are not stored.
    """
    if key is None or key == "":
        return Outcome(*action())
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return key_error(
            RULE_INVALID, f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable characters."
        )
    if callable(request_fingerprint):
        request_fingerprint = request_fingerprint()
    stored = system_access(provider).records(IdempotencyKey)
    known = stored.filter(key=key).first()
    if known is not None:
        return _stored(known, request_fingerprint)
    try:
        with transaction.atomic():
            status_code, body = action()
            body = _storable(body)  # the first answer is the one a retry replays
            if status_code < 500:
                IdempotencyKey.objects.create(
                    provider=provider,
                    key=key,
                    request_fingerprint=request_fingerprint,
                    status_code=status_code,
                    response_body=body,
                )
    except IntegrityError:
        # A concurrent request with the same key stored its answer first; ours is undone.
        known = stored.filter(key=key).first()
        if known is None:
            raise
        return _stored(known, request_fingerprint)
    return Outcome(status_code, body)
