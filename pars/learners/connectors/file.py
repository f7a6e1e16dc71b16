"""Outbound files: one JSON file per batch in a directory the recipient collects from.

For recipients that take files (an SFTP drop box mounted on the server, a directory a
transfer job picks up). ``recipient.connector_config``:

* ``outbox``: where batch files are written (default ``MEDIA_ROOT/outbox/<code>/``);
* ``inbox``: where the recipient's answers appear (default ``MEDIA_ROOT/inbox/<code>/``).

A batch is written as ``<outbox>/<batch key>.json`` atomically (a temporary file in the
same directory, then a rename), readable by the owner only, holding only this
recipient's records::

    {"batch_key": "…", "recipient": "ME", "created_at": "…", "items": [{…}, …]}

A resend of the same key finds the file and leaves it as it is. The answer is read from
``<inbox>/<batch key>.results.json``: ``{"results": [{"ref": "…", "outcome":
"accepted"|"rejected", "reason": "…", "reason_code": "…"}, …]}`` (or the bare list).
Until that file exists the results are "not ready".
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from pars.learners.connectors.base import (
    ItemResult,
    MatchingUnavailable,
    MatchOutcome,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from pars.learners.models import Recipient

logger = logging.getLogger(__name__)


def _directory(recipient: Recipient, name: str) -> Path:
    configured = (recipient.connector_config or {}).get(name)
    if configured:
        return Path(configured)
    return Path(settings.MEDIA_ROOT) / name / recipient.code


def outbox_path(recipient: Recipient, batch_key: str) -> Path:
    """Where the file of this batch is (or will be) written."""
    return _directory(recipient, "outbox") / f"{batch_key}.json"


def results_path(recipient: Recipient, batch_key: str) -> Path:
    """Where the recipient's answer to this batch is expected."""
    return _directory(recipient, "inbox") / f"{batch_key}.results.json"


def _safe_key(batch_key: str) -> str:
    if not batch_key or any(char in batch_key for char in "/\\") or batch_key.startswith("."):
        raise PermanentDeliveryError("A batch key must be a plain name.")
    return batch_key


class FileConnector:
    """The connector of recipients whose ``connector`` is "file"."""

    def send(self, batch_key: str, recipient: Recipient, items: list[dict[str, Any]]) -> str:
        target = outbox_path(recipient, _safe_key(batch_key))
        if target.exists():
            logger.info("File connector %s: batch %s already written", recipient.code, batch_key)
            return target.name
        document = {
            "batch_key": batch_key,
            "recipient": recipient.code,
            "created_at": timezone.now().isoformat(),
            "items": items,
        }
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                dir=target.parent, prefix=f".{batch_key}.", suffix=".tmp"
            )
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(document, stream, cls=DjangoJSONEncoder, indent=1)
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise TransientDeliveryError(
                f"Could not write the batch file for {recipient.code}: {error.strerror}."
            ) from error
        logger.info(
            "File connector %s: batch %s written (%d records)",
            recipient.code,
            batch_key,
            len(items),
        )
        return target.name

    def fetch_results(self, batch_key: str, recipient: Recipient) -> list[ItemResult] | None:
        source = results_path(recipient, _safe_key(batch_key))
        try:
            content = source.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise TransientDeliveryError(
                f"Could not read the results file of {recipient.code}: {error.strerror}."
            ) from error
        try:
            data = json.loads(content)
            rows = data["results"] if isinstance(data, dict) else data
            if not isinstance(rows, list):
                raise ValueError("results must be a list")
            return [ItemResult.from_dict(row) for row in rows]
        except (ValueError, KeyError, TypeError) as error:
            # The recipient may still be writing it, or will replace it: try again later.
            raise TransientDeliveryError(
                f"The results file of {recipient.code} for batch {batch_key} is not readable "
                f"({type(error).__name__})."
            ) from error

    def match_learners(
        self, recipient: Recipient, learners: Sequence[Mapping[str, Any]]
    ) -> list[MatchOutcome]:
        raise MatchingUnavailable(
            f"{recipient.code} takes files and offers no learner matching through PARS."
        )
