"""Downloads of learner completions (CSV and XLSX): every record the list's filters match.

The columns carry the data dictionary's labels and the dates are mm/dd/yyyy, as on the
pages. Personal fields come out masked as the staff page shows them unless the caller
says they may be shown (the provider's own users, or staff who gave a reason). Rows are
read in chunks with their activity and recipient joined, so a download costs the same
few queries whatever its size; text goes through the formula escaping of
:mod:`pars.lib.spreadsheets`.
"""

from __future__ import annotations

import csv
import datetime
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.learners.models import LearnerCompletion
from pars.learners.views.common import PersonalValues, mask
from pars.lib.dates import us_date
from pars.lib.spreadsheets import escape_formula, write_rows_xlsx

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 2000


def _label(name: str) -> str:
    return COMPLETION_FIELDS_BY_NAME[name].label


# The record's fields in the dictionary's order, then where the record stands.
HEADER = [
    _label("provider_activity_id"),
    _label("accme_activity_id"),
    "Activity Title",
    *(
        _label(name)
        for name in (
            "recipient",
            "first_name",
            "last_name",
            "birth_date",
            "learner_id",
            "npi",
            "license_state",
            "completion_date",
            "cme_credits",
            "moc_points",
            "moc_credit_types",
            "profession",
            "practice_state",
            "dea_registration",
            "practice_area",
            "surgical_procedures",
            "time_in_practice",
        )
    ),
    "Status",
    "Status Reason",
    "Status Since",
]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _typed(value: Any) -> Any:
    """A cell as its type: dates and numbers stay dates and numbers (a workbook sorts and
    sums them), booleans read Yes/No, the rest is text."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date()
    if isinstance(value, Decimal):
        return value.normalize()
    if value is None or isinstance(value, datetime.date):
        return value
    return _text(value)


def _csv_text(value: Any) -> str:
    """A typed cell as CSV text: dates mm/dd/yyyy as on the pages, text formula-escaped."""
    if isinstance(value, datetime.date):
        return us_date(value)
    return escape_formula(_text(value))


def completion_row(completion: LearnerCompletion, *, masked: bool) -> list[Any]:
    """One record as the download's cells, typed (see :func:`_typed`)."""
    personal = PersonalValues.of(completion, masked=masked)
    activity = completion.activity
    dea = mask(completion.dea_registration) if masked else completion.dea_registration
    cells = [
        activity.provider_activity_id,
        activity.accme_activity_id,
        activity.title,
        completion.recipient.code,
        completion.first_name,
        completion.last_name,
        personal.birth_date,
        personal.learner_id if completion.learner_id else "",
        personal.npi if completion.npi else "",
        personal.license_state if completion.license_state else "",
        completion.completion_date,
        completion.cme_credits,
        completion.moc_points,
        "; ".join(str(item) for item in completion.moc_credit_types or []),
        completion.profession,
        completion.practice_state,
        dea if completion.dea_registration else "",
        completion.practice_area,
        completion.surgical_procedures,
        completion.time_in_practice,
        completion.get_status_display(),
        completion.status_reason,
        completion.status_changed_at,
    ]
    return [_typed(cell) for cell in cells]


def _rows(completions: QuerySet[LearnerCompletion], *, masked: bool) -> Iterator[list[Any]]:
    records = completions.select_related("activity", "recipient").order_by(
        "activity__provider_activity_id", "last_name", "first_name", "pk"
    )
    for completion in records.iterator(chunk_size=CHUNK):
        yield completion_row(completion, masked=masked)


class _Echo:
    """A file-like object that hands back what is written: the CSV writer's line."""

    def write(self, text: str) -> str:
        return text


def _csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so that Excel reads the file as UTF-8
    yield writer.writerow([escape_formula(label) for label in HEADER])
    for row in rows:
        yield writer.writerow([_csv_text(cell) for cell in row])


def csv_response(
    completions: QuerySet[LearnerCompletion], *, masked: bool, filename: str
) -> HttpResponse | StreamingHttpResponse:
    """Every record as CSV, streamed row by row."""
    response = StreamingHttpResponse(
        _csv_lines(_rows(completions, masked=masked)), content_type=CSV_TYPE
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(
    completions: QuerySet[LearnerCompletion], *, masked: bool, filename: str
) -> FileResponse:
    """Every record as a one-sheet workbook, written in openpyxl's write-only mode."""
    # Spooled: a large workbook goes to disk rather than memory.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    write_rows_xlsx(spool, HEADER, _rows(completions, masked=masked), title="Learner completions")
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_TYPE
    )
