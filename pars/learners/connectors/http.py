"""A recipient's HTTPS web service (JSON), and the small HTTP client PARS uses outbound.

``recipient.connector_config``:

* ``url``: the base address, e.g. ``https://moc.example-board.org/pars/v1`` (https only,
  unless ``allow_http`` is true: for a test server);
* ``token_env``: the name of the environment variable holding the bearer token (the
  token itself is never stored in the database);
* ``timeout_seconds``: per request (default 30).

Calls (see docs/learner-delivery.md for the bodies):

* ``POST {url}/batches`` with ``Idempotency-Key: <batch key>``; 2xx (or 409: "already
  have it") is a receipt (``{"receipt": "…"}`` if the body says so);
* ``GET {url}/batches/{key}/results``: 202 or ``{"status": "pending"}`` while not
  ready, else ``{"results": [{"ref", "outcome", "reason", "reason_code"}, …]}``;
* ``POST {url}/matches`` with ``{"learners": […]}``: ``{"results": [{"status",
  "fields", "by"}, …]}``.

Connection errors, timeouts, 408, 429 and 5xx are :class:`TransientDeliveryError`; any
other 4xx is :class:`PermanentDeliveryError`. Redirects are not followed. Error messages
carry the status, never the response body (which might echo personal data).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from pars.learners.connectors.base import (
    MATCH,
    MISMATCH,
    NOT_FOUND,
    DeliveryError,
    ItemResult,
    MatchingUnavailable,
    MatchOutcome,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from pars.learners.models import Recipient

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 20 * 1024 * 1024
USER_AGENT = "PARS/1 (learner delivery)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx comes back as it is


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    """Send one request; returns (status, body) for any HTTP answer, 3xx included.

    Raises ``OSError`` (``urllib.error.URLError``, ``TimeoutError``) when there is no
    answer. The URL's scheme must be http or https.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("Only http and https addresses can be called.")
    prepared = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(prepared, timeout=timeout) as response:
            return response.status, response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(MAX_RESPONSE_BYTES)


def describe_os_error(error: OSError) -> str:
    """A short description of a network failure (no URLs with secrets, no bodies)."""
    reason: object = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return "timed out"
    name = reason if isinstance(reason, str) else type(reason).__name__
    return f"connection failed ({name})"[:200]


class HttpConnector:
    """The connector of recipients whose ``connector`` is "http"."""

    def _config(self, recipient: Recipient) -> tuple[str, dict[str, str], float]:
        config = recipient.connector_config or {}
        base = str(config.get("url") or "").rstrip("/")
        scheme = urllib.parse.urlsplit(base).scheme
        if scheme != "https" and not (scheme == "http" and config.get("allow_http")):
            raise PermanentDeliveryError(
                f"Recipient {recipient.code} needs an https url in its connector configuration."
            )
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        token_env = config.get("token_env")
        if token_env:
            token = os.environ.get(str(token_env))
            if not token:
                raise PermanentDeliveryError(
                    f"The token variable {token_env} of recipient {recipient.code} is not set."
                )
            headers["Authorization"] = f"Bearer {token}"
        return base, headers, float(config.get("timeout_seconds") or 30)

    def _call(
        self,
        recipient: Recipient,
        method: str,
        path: str,
        payload: Any = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        base, headers, timeout = self._config(recipient)
        body = None
        if payload is not None:
            body = json.dumps(payload, cls=DjangoJSONEncoder).encode()
        try:
            status, content = request(
                method,
                f"{base}{path}",
                body=body,
                headers={**headers, **(extra_headers or {})},
                timeout=timeout,
            )
        except OSError as error:
            raise TransientDeliveryError(
                f"{recipient.code}: {describe_os_error(error)}."
            ) from error
        if status in (408, 429) or status >= 500:
            raise TransientDeliveryError(f"{recipient.code} answered HTTP {status}.")
        if status >= 300 and status != 409:
            raise PermanentDeliveryError(f"{recipient.code} refused the request: HTTP {status}.")
        try:
            data = json.loads(content) if content.strip() else None
        except ValueError:
            data = None
        return status, data

    def send(self, batch_key: str, recipient: Recipient, items: list[dict[str, Any]]) -> str:
        status, data = self._call(
            recipient,
            "POST",
            "/batches",
            {"batch_key": batch_key, "recipient": recipient.code, "items": items},
            {"Idempotency-Key": batch_key},
        )
        receipt = data.get("receipt") if isinstance(data, dict) else None
        logger.info("HTTP connector %s: batch %s sent (HTTP %d)", recipient.code, batch_key, status)
        return str(receipt or batch_key)[:200]

    def fetch_results(self, batch_key: str, recipient: Recipient) -> list[ItemResult] | None:
        key = urllib.parse.quote(batch_key, safe="")
        status, data = self._call(recipient, "GET", f"/batches/{key}/results")
        if status == 202 or not isinstance(data, dict) or data.get("status") == "pending":
            return None
        rows = data.get("results")
        if not isinstance(rows, list):
            return None
        try:
            return [ItemResult.from_dict(row) for row in rows]
        except (ValueError, TypeError, AttributeError) as error:
            raise TransientDeliveryError(
                f"{recipient.code} sent results PARS cannot read ({type(error).__name__})."
            ) from error

    def match_learners(
        self, recipient: Recipient, learners: Sequence[Mapping[str, Any]]
    ) -> list[MatchOutcome]:
        try:
            _, data = self._call(recipient, "POST", "/matches", {"learners": list(learners)})
        except DeliveryError as error:
            raise MatchingUnavailable(str(error)) from error
        rows = data.get("results") if isinstance(data, dict) else None
        if not isinstance(rows, list) or len(rows) != len(learners):
            raise MatchingUnavailable(f"{recipient.code} sent a match answer PARS cannot read.")
        outcomes = []
        for row in rows:
            status = str((row or {}).get("status") or "")
            if status not in (MATCH, MISMATCH, NOT_FOUND):
                raise MatchingUnavailable(f"{recipient.code} sent an unknown match status.")
            fields = [str(name) for name in (row.get("fields") or [])][:10]
            outcomes.append(MatchOutcome(status, fields, str(row.get("by") or "learner_id")))
        return outcomes
