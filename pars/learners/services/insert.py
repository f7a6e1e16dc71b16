"""Inserting new completions: a bulk insert, through COPY on PostgreSQL for big batches."""

from __future__ import annotations

import json

from django.db import connection
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.intake.models import Upload
from pars.learners.models import (
    CompletionStatus,
    LearnerCompletion,
)
from pars.learners.validation import (
    COMPLETION_VALUE_FIELDS,
    CleanCompletion,
)

COPY_THRESHOLD = 500  # rows from which a PostgreSQL insert goes through COPY


_COPY_COLUMNS = (
    "provider_id",
    "activity_id",
    "recipient_id",
    *COMPLETION_VALUE_FIELDS,
    "status",
    "status_reason",
    "status_code",
    "status_changed_at",
    "version",
    "ever_sent",
    "last_channel",
    "upload_id",
    "created_at",
    "updated_at",
)


def _insert(
    access: ProviderAccess,
    new: list[tuple[int, int, CleanCompletion]],
    *,
    channel: str,
    upload: Upload | None,
) -> None:
    if not new:
        return
    now = timezone.now()
    if connection.vendor != "postgresql" or len(new) < COPY_THRESHOLD:
        LearnerCompletion.objects.bulk_create(
            (
                LearnerCompletion(
                    provider=access.provider,
                    activity_id=activity_pk,
                    recipient_id=recipient_pk,
                    status=CompletionStatus.QUEUED,
                    status_changed_at=now,
                    last_channel=channel,
                    upload=upload,
                    created_at=now,
                    updated_at=now,
                    **record.values(),
                )
                for activity_pk, recipient_pk, record in new
            ),
            batch_size=1_000,
        )
        return
    # COPY is several times faster than INSERT for the big learner files (and model
    # instances would cost more than the database): the rows were checked against the
    # table above, and the unique constraint still holds.
    fixed_head = f"{access.provider.pk}\t"
    stamp = now.isoformat()
    fixed_tail = (
        f"\t{CompletionStatus.QUEUED}\t\t\t{stamp}\t1\tf\t{channel}\t"
        f"{upload.pk if upload is not None else NULL}\t{stamp}\t{stamp}\n"
    )
    table = LearnerCompletion._meta.db_table
    columns = ", ".join(_COPY_COLUMNS)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            lines = []
            types_json: dict[tuple[str, ...], str] = {}
            text = _copy_text
            for activity_pk, recipient_pk, r in new:
                # Only the free-text fields can hold a tab or a backslash; the others are
                # codes, digits and dates the validator produced.
                types = tuple(r.moc_credit_types)
                encoded = types_json.get(types)
                if encoded is None:
                    encoded = types_json[types] = text(json.dumps(r.moc_credit_types))
                cme = NULL if r.cme_credits is None else r.cme_credits
                moc = NULL if r.moc_points is None else r.moc_points
                surgical = (
                    NULL if r.surgical_procedures is None else "tf"[not r.surgical_procedures]
                )
                lines.append(
                    f"{fixed_head}{activity_pk}\t{recipient_pk}\t{text(r.learner_key)}\t"
                    f"{text(r.first_name)}\t{text(r.last_name)}\t{r.birth_month}\t"
                    f"{r.birth_day}\t{text(r.learner_id)}\t{r.npi}\t{r.license_state}\t"
                    f"{r.completion_date.isoformat()}\t{cme}\t{moc}\t{encoded}\t"
                    f"{r.profession}\t{r.practice_state}\t{r.dea_registration}\t"
                    f"{r.practice_area}\t{surgical}\t{r.time_in_practice}{fixed_tail}"
                )
            copy.write("".join(lines))


NULL = "\\N"
_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A text value in COPY's text format (backslash and control characters escaped)."""
    if "\\" in value or not value.isprintable():
        return value.translate(_COPY_SPECIAL)
    return value
