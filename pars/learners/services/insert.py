"""Inserting new completions: a bulk insert, through COPY on PostgreSQL for big batches."""

from __future__ import annotations

import datetime
import json
import types
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from django.db import connection
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.audit.models import AuditEvent
from pars.intake.models import Upload
from pars.learners.dictionary import COMPLETION_FIELDS
from pars.learners.models import (
    CompletionStatus,
    LearnerCompletion,
)
from pars.learners.validation import (
    COMPLETION_VALUE_FIELDS,
    CleanCompletion,
    completion_attributes,
)
from pars.lib.prepared_rows import checked_at_once

from .copy_behind import copy_behind

COPY_THRESHOLD = 500  # rows from which a PostgreSQL insert goes through COPY

# The columns COPY writes: the links, the record's values (its dictionary fields as
# stored, COMPLETION_VALUE_FIELDS) and the bookkeeping of a new record.
_LINK_COLUMNS = ("provider_id", "activity_id", "recipient_id")
_BOOKKEEPING_COLUMNS = (
    "status",
    "status_reason",
    "status_code",
    "status_changed_at",
    "version",
    "ever_sent",
    "last_channel",
    "upload_id",
    "created_by_event_id",
    "created_at",
    "updated_at",
)
_COPY_COLUMNS = (*_LINK_COLUMNS, *COMPLETION_VALUE_FIELDS, *_BOOKKEEPING_COLUMNS)


def _insert(
    access: ProviderAccess,
    new: list[tuple[int, int, CleanCompletion]],
    *,
    channel: str,
    upload: Upload | None,
    event: AuditEvent | None = None,
    use_copy: bool = True,
    later: list[Callable[[], None]] | None = None,
) -> list[int | None]:
    """Insert the records; their ids, in order (None for rows that went through COPY).
    `later` (the upload job): a COPY is not run here but added to it, to be started
    once the caller's savepoint is released and left to run beside the job (see
    copy_behind.py)."""
    if not new:
        return []
    now = timezone.now()
    if connection.vendor != "postgresql" or not use_copy or len(new) < COPY_THRESHOLD:
        created = LearnerCompletion.objects.bulk_create(
            [
                LearnerCompletion(
                    provider=access.provider,
                    activity_id=activity_pk,
                    recipient_id=recipient_pk,
                    status=CompletionStatus.QUEUED,
                    status_changed_at=now,
                    last_channel=channel,
                    upload=upload,
                    created_by_event=event,
                    created_at=now,
                    updated_at=now,
                    **record.values(),
                )
                for activity_pk, recipient_pk, record in new
            ],
            batch_size=1_000,
        )
        return [completion.pk for completion in created]
    # COPY is several times faster than INSERT for the big learner files (and model
    # instances would cost more than the database): the rows were checked against the
    # table above, and the unique constraint still holds.
    fixed_head = f"{access.provider.pk}\t"
    stamp = now.isoformat()
    fixed_tail = (
        f"\t{CompletionStatus.QUEUED}\t\t\t{stamp}\t1\tf\t{channel}\t"
        f"{upload.pk if upload is not None else NULL}\t"
        f"{event.pk if event is not None else NULL}\t{stamp}\t{stamp}\n"
    )
    encode = copy_row_encoder()
    text = "".join(
        [
            f"{fixed_head}{activity_pk}\t{recipient_pk}\t{encode(record)}{fixed_tail}"
            for activity_pk, recipient_pk, record in new
        ]
    )
    if later is not None:
        later.append(lambda: copy_behind(_COPY_SQL, text, _TABLE))
        return [None] * len(new)
    with connection.cursor() as cursor, checked_at_once(cursor, _TABLE):
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(_COPY_SQL) as copy:
            copy.write(text)
    return [None] * len(new)


_TABLE = LearnerCompletion._meta.db_table
_COPY_SQL = f"COPY {_TABLE} ({', '.join(_COPY_COLUMNS)}) FROM STDIN"


NULL = "\\N"
_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A text value in COPY's text format (backslash and control characters escaped)."""
    if "\\" in value or not value.isprintable():
        return value.translate(_COPY_SPECIAL)
    return value


def _copy_encoders() -> list[Callable[[Any], str]]:
    """How COPY writes each of COMPLETION_VALUE_FIELDS, chosen once by its type."""
    attribute_types = completion_attributes(COMPLETION_FIELDS)
    return [_encoder_for(attribute_types[name]) for name in COMPLETION_VALUE_FIELDS]


def _encoder_for(kind_type: Any) -> Callable[[Any], str]:
    """The COPY text of a value of one type (None, where the type allows it, as NULL)."""
    if isinstance(kind_type, types.UnionType):
        (inner,) = (arg for arg in kind_type.__args__ if arg is not type(None))
        encode = _encoder_for(inner)
        return lambda value: NULL if value is None else encode(value)
    if kind_type is str:
        return _copy_text
    if kind_type is bool:
        return lambda value: "t" if value else "f"
    if kind_type is datetime.date:
        return datetime.date.isoformat
    if getattr(kind_type, "__origin__", None) is list:
        # Lists of codes repeat from row to row: each is encoded once per batch.
        encoded: dict[tuple[str, ...], str] = {}

        def encode_list(value: list[str]) -> str:
            key = tuple(value)
            text = encoded.get(key)
            if text is None:
                text = encoded[key] = _copy_text(json.dumps(value))
            return text

        return encode_list
    return str  # int, Decimal


def copy_row_encoder() -> Callable[[Any], str]:
    """A record's COMPLETION_VALUE_FIELDS as COPY text (tab-separated), by one function
    generated from the clean record's types (_row_encoder_source), so no value goes
    through a dispatch of its own. A record whose text needs escaping (a backslash, a
    tab, a line break, any character that is not printable) is written by the general
    encoders (_copy_encoders), which the fast line always equals otherwise
    (tests/learners/test_fast_paths.py)."""
    general = _copy_encoders()
    values_of = attrgetter(*COMPLETION_VALUE_FIELDS)

    def slow(values: tuple[Any, ...]) -> str:
        return "\t".join([encode(value) for encode, value in zip(general, values, strict=True)])

    namespace: dict[str, Any] = {}
    exec(_ROW_ENCODER_CODE, namespace)  # noqa: S102 (our own source, from the types: see below)
    make = namespace["make"]
    encode: Callable[[Any], str] = make(values_of, slow, general, NULL, datetime.date.isoformat)
    return encode


def _row_encoder_source() -> str:
    """The source of ``make(values_of, slow, general, NULL, isodate)``, which returns the
    encoder of one record: its text values are checked at once (joined), then every value
    is written by the expression its type calls for."""
    attribute_types = completion_attributes(COMPLETION_FIELDS)
    names = [f"v{index}" for index in range(len(COMPLETION_VALUE_FIELDS))]
    texts: list[str] = []
    cells: list[str] = []
    for index, field_name in enumerate(COMPLETION_VALUE_FIELDS):
        kind_type = attribute_types[field_name]
        if kind_type is str:
            texts.append(names[index])
            cells.append(names[index])
        else:
            cells.append(f"({_cell_expression(names[index], kind_type, index)})")
    values = ", ".join(names)
    plain = f"''.join(({', '.join(texts)},))" if texts else "''"
    line = "\\t".join("{" + cell + "}" for cell in cells)
    return (
        "def make(values_of, slow, general, NULL, isodate):\n"
        "    def encode(record):\n"
        f"        values = {values} = values_of(record)\n"
        f"        plain = {plain}\n"
        "        if '\\\\' in plain or not plain.isprintable():\n"
        "            return slow(values)\n"
        f'        return f"{line}"\n'
        "    return encode\n"
    )


def _cell_expression(name: str, kind_type: Any, index: int) -> str:
    """The expression writing one non-text value as _encoder_for() does."""
    if isinstance(kind_type, types.UnionType):
        (inner,) = (arg for arg in kind_type.__args__ if arg is not type(None))
        if inner is str:  # text that may be None: the general encoder, as is
            return f"general[{index}]({name})"
        return f"NULL if {name} is None else {_cell_expression(name, inner, index)}"
    if kind_type is bool:
        return f"'t' if {name} else 'f'"
    if kind_type is datetime.date:
        return f"isodate({name})"
    if kind_type is str or getattr(kind_type, "__origin__", None) is list:
        return f"general[{index}]({name})"  # the list's encoder remembers its lists
    return f"str({name})"  # int, Decimal


_ROW_ENCODER_CODE = compile(_row_encoder_source(), "<learner copy row encoder>", "exec")
