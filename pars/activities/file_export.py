"""Activities -> the current upload layout, as tab-delimited text or as the Excel template.

Usage::

    write_activities_tsv(text_stream, activities, supporters=max_supporters(activities))
    write_activities_xlsx(binary_stream, activities, supporters=...)

Each activity is one row under the header of the ``current`` layout
(`parsers.layouts.CURRENT`, as the upload template has it) with as many supporter blocks
as the activity with the most supporters. Values are written as files spell them, so that
the upload reads back exactly the stored values (an unchanged file re-uploaded changes
nothing): choices as their labels (a legacy activity keeps its activity-type code; State
and Country as codes), lists separated by "; ", Yes/No, dates mm/dd/yyyy (Excel dates in the
workbook), numbers without trailing zeros. Status is the activity's status (Ready to Close
asks for Active, which the end date turns back into Ready to Close); Action is blank.

Text that looks like a formula (starting with = + - @, see `pars.lib.spreadsheets`) is
escaped with a leading apostrophe in both files, as every export of PARS does: such a
value would come back from an upload with the apostrophe (the readers keep it).

Pass activities as an iterator with supporters prefetched
(``prefetch_related("supporters").iterator(chunk_size=…)``): rows are written one by one.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import Count, Max, QuerySet

from pars.activities.dictionary import (
    FIELDS,
    FIELDS_BY_NAME,
    MEASUREMENT_TYPES,
    OUTCOMES,
    STATUS_CODES,
    SUPPORTER_FIELDS_BY_NAME,
)
from pars.activities.models import Activity, CommercialSupport
from pars.activities.parsers.layouts import CURRENT, learner_counts_columns
from pars.activities.xlsx_template import activity_workbook, learner_counts_workbook
from pars.intake.fields import FieldSpec, Kind
from pars.intake.xlsx_template import write_filled
from pars.lib.spreadsheets import TextWriter, escape_formula

# Fields written as their codes, not their labels (the template offers the codes).
_CODE_FIELDS = ("state", "country")
_FIELD_COLUMNS = [column.target for column in CURRENT.columns[2:]]


def max_supporters(activities: QuerySet[Activity]) -> int:
    """The most supporters any of these activities has (the export's supporter blocks)."""
    counted = activities.order_by().annotate(n=Count("supporters")).aggregate(most=Max("n"))
    return int(counted["most"] or 0)


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("Yes" if value else "No")


def _labels(spec: FieldSpec, codes: Iterable[str]) -> str:
    return "; ".join(spec.choices.get(code, code) for code in codes)


def _outcomes(outcomes: Iterable[dict[str, Any]]) -> str:
    items = []
    for outcome in outcomes:
        code = outcome.get("outcome", "")
        types = [MEASUREMENT_TYPES.get(t, t) for t in outcome.get("measurement_types") or []]
        label = OUTCOMES.get(code, code)
        items.append(f"{label}:{','.join(types)}" if types else label)
    return "; ".join(items)


def _value(activity: Activity, spec: FieldSpec) -> Any:
    """A field's stored value as a file spells it (dates and numbers left native)."""
    value = getattr(activity, spec.name)
    kind = spec.kind
    if spec.name == "activity_format" and activity.legacy_activity_type:
        return activity.legacy_activity_type  # it also stands for the delivery method
    if kind is Kind.BOOLEAN:
        return _yes_no(value)
    if kind is Kind.CHOICE:
        return value if spec.name in _CODE_FIELDS else spec.choices.get(value, value)
    if kind is Kind.CHOICE_LIST:
        return _labels(spec, value or [])
    if kind is Kind.TEXT_LIST:
        return "; ".join(value or [])
    if kind is Kind.OUTCOMES:
        return _outcomes(value or [])
    if isinstance(value, Decimal):
        return value.normalize()  # 10.50 -> 10.5 (written with format "f": 1E+1 -> 10)
    return value


def _supporter_cells(supporter: CommercialSupport) -> list[Any]:
    """The supporter's cells in the order of the layout's supporter block."""
    cells = []
    for column in CURRENT.supporter_block:
        spec, value = SUPPORTER_FIELDS_BY_NAME[column.target], getattr(supporter, column.target)
        if spec.kind is Kind.BOOLEAN:
            value = _yes_no(value)
        elif spec.kind is Kind.CHOICE_LIST:
            value = _labels(spec, value or [])
        cells.append(value)
    return cells


def stored_raw(activity: Activity) -> dict[str, Any]:
    """The activity as the validator reads it back: each field as a file spells it, and
    its supporters whole (a Learner Counts row is laid over this, then validated)."""
    raw: dict[str, Any] = {
        spec.name: _value(activity, spec) for spec in FIELDS if spec.kind is not Kind.SUPPORTERS
    }
    raw["supporters"] = [
        {spec.name: getattr(supporter, spec.name) for spec in SUPPORTER_FIELDS_BY_NAME.values()}
        for supporter in activity.supporters.all()
    ]
    return raw


def activity_row(activity: Activity, supporters: int) -> list[Any]:
    """The activity's cells in the order of ``CURRENT.headers(supporters)``."""
    cells: list[Any] = ["", STATUS_CODES.get(activity.status, activity.status)]
    cells += [_value(activity, FIELDS_BY_NAME[name]) for name in _FIELD_COLUMNS]
    blank_block = [None] * len(CURRENT.supporter_block)
    given = list(activity.supporters.all())  # prefetched: no query per activity
    for position in range(supporters):
        cells += _supporter_cells(given[position]) if position < len(given) else blank_block
    return cells


def _text(value: Any) -> str:
    """A cell of the text file."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    return str(escape_formula(value))


def write_activities_tsv(
    stream: TextWriter, activities: Iterable[Activity], *, supporters: int
) -> int:
    """Write the tab-delimited file (UTF-8 with a byte-order mark, for Excel); how many rows."""
    stream.write("\ufeff")
    writer = csv.writer(stream, dialect="excel-tab", lineterminator="\r\n")
    writer.writerow(CURRENT.headers(supporters))
    count = 0
    for activity in activities:
        writer.writerow([_text(value) for value in activity_row(activity, supporters)])
        count += 1
    return count


def write_activities_xlsx(
    stream: IO[bytes], activities: Iterable[Activity], *, supporters: int
) -> None:
    """Write the Excel template (its columns, drop-downs and guide) filled with the activities."""
    template = activity_workbook(supporters)
    write_filled(stream, template, _rows(activities, supporters, _xlsx_value))


def _xlsx_value(value: Any) -> Any:
    # Excel keeps no Decimal; a float of a 2-decimal number reads back as written.
    return float(value) if isinstance(value, Decimal) else value


def _rows(
    activities: Iterable[Activity], supporters: int, cell: Callable[[Any], Any]
) -> Iterator[list[Any]]:
    for activity in activities:
        yield [cell(value) for value in activity_row(activity, supporters)]


def _learner_counts_rows(
    activities: Iterable[Activity], year: int | None, cell: Callable[[Any], Any]
) -> Iterator[list[Any]]:
    specs = [FIELDS_BY_NAME[column.target] for column in learner_counts_columns(year)]
    for activity in activities:
        yield [cell(_value(activity, spec)) for spec in specs]


def write_learner_counts_tsv(
    stream: TextWriter, activities: Iterable[Activity], *, year: int | None
) -> int:
    """The Learner Counts template of a year as tab-delimited text (UTF-8 with a
    byte-order mark), one row per activity; how many rows."""
    stream.write("\ufeff")
    writer = csv.writer(stream, dialect="excel-tab", lineterminator="\r\n")
    writer.writerow([column.header for column in learner_counts_columns(year)])
    count = 0
    for row in _learner_counts_rows(activities, year, _text):
        writer.writerow(row)
        count += 1
    return count


def write_learner_counts_xlsx(
    stream: IO[bytes], activities: Iterable[Activity], *, year: int | None
) -> None:
    """The Learner Counts template of a year (its drop-downs and guide), one row per
    activity."""
    template = learner_counts_workbook(year)
    write_filled(stream, template, _learner_counts_rows(activities, year, _xlsx_value))
