"""The accreditor's data reports: the annual data report (page, CSV, XLSX) and the REMS report.

Accreditor staff see the national figures. Staff of a state medical society see the
same report computed over only the providers their society accredits (the page says
so); nobody else reaches these pages (404, like every staff page).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import BadRequest
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from pars.accounts.decorators import staff_view
from pars.accounts.models import User
from pars.datareports import rems_report
from pars.datareports.charts import report_charts
from pars.datareports.data_report import DataReport, data_report
from pars.lib.spreadsheets import write_rows_csv, write_sheets_xlsx
from pars.providers.models import AccreditorType
from pars.reporting.models import ReportingYear
from pars.reporting.services import current_reporting_year

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REMS_SHEETS = {
    "activities": ("Activities", rems_report.ACTIVITY_COLUMNS, rems_report.activity_rows),
    "learners": ("Learners", rems_report.LEARNER_COLUMNS, rems_report.learner_rows),
}


def _spool() -> Any:
    """Where a download is written before it is sent (FileResponse closes it)."""
    return tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)


def _download(raw: Any, filename: str, content_type: str) -> Any:
    raw.seek(0)
    # An attachment: a browser saves the file instead of showing it in the tab.
    return FileResponse(raw, as_attachment=True, filename=filename, content_type=content_type)


def _accreditor_id(user: Any) -> int | None:
    """The state medical society whose providers alone this staff user may see."""
    assert isinstance(user, User)
    return user.staff_accreditor_id if user.is_state_accreditor_staff else None


def _accreditor_type(request: HttpRequest) -> str | None:
    value = request.GET.get("type", "")
    if not value:
        return None
    if value not in AccreditorType.values:
        raise BadRequest("Unknown provider type.")
    return value


def _report(request: HttpRequest, year: int) -> DataReport:
    get_object_or_404(ReportingYear, year=year)
    return data_report(year, _accreditor_type(request), accreditor_id=_accreditor_id(request.user))


def _filename(report: DataReport, extension: str) -> str:
    suffix = f"-{report.accreditor_type}" if report.accreditor_type else ""
    return f"data-report-{report.year}{suffix}.{extension}"


@staff_view
@require_GET
def current(request: HttpRequest) -> HttpResponse:
    reporting_year = current_reporting_year()
    if reporting_year is None:
        return render(request, "datareports/no_year.html")
    return redirect("datareports:data_report", reporting_year.year)


@staff_view
@require_GET
def data_report_page(request: HttpRequest, year: int) -> HttpResponse:
    report = _report(request, year)
    charts = report_charts(report)
    query = f"?type={report.accreditor_type}" if report.accreditor_type else ""
    return render(
        request,
        "datareports/data_report.html",
        {
            "report": report,
            "sections": [(table, charts.get(table.key)) for table in report.tables],
            "years": list(ReportingYear.objects.values_list("year", flat=True)),
            "types": AccreditorType.choices,
            "query": query,
        },
    )


@staff_view
@require_GET
def data_report_csv(request: HttpRequest, year: int) -> HttpResponse:
    report = _report(request, year)
    raw = _spool()
    stream = io.TextIOWrapper(raw, "utf-8", newline="")
    write_rows_csv(
        stream,
        [f"PARS annual data report {report.year}"],
        # The figures move as providers report: the day they were read.
        [["Providers", report.accreditor_type_label], ["Figures as of", timezone.localdate()]],
    )
    for table in report.tables:
        stream.write("\r\n")
        write_rows_csv(stream, [table.title], [], bom=False)
        write_rows_csv(stream, table.columns, table.all_rows, bom=False)
    stream.flush()
    stream.detach()
    return _download(raw, filename=_filename(report, "csv"), content_type="text/csv")


@staff_view
@require_GET
def data_report_xlsx(request: HttpRequest, year: int) -> HttpResponse:
    report = _report(request, year)
    raw = _spool()
    about_rows: list[list[Any]] = [
        ["Providers", report.accreditor_type_label],
        ["Figures as of", timezone.localdate()],
    ]
    about = (
        "About",
        ["PARS annual data report", str(report.year)],
        about_rows + [[table.title, table.note] for table in report.tables],
    )
    sheets = [about] + [(table.sheet, table.columns, table.all_rows) for table in report.tables]
    write_sheets_xlsx(raw, sheets)
    return _download(raw, filename=_filename(report, "xlsx"), content_type=XLSX)


def _rems_sheets(
    request: HttpRequest, year: int
) -> list[tuple[str, tuple[str, ...], Iterable[Any]]]:
    get_object_or_404(ReportingYear, year=year)
    accreditor_id = _accreditor_id(request.user)
    return [
        (title, columns, rows(year, accreditor_id)) for title, columns, rows in REMS_SHEETS.values()
    ]


@staff_view
@require_GET
def rems_report_xlsx(request: HttpRequest, year: int) -> HttpResponse:
    sheets = _rems_sheets(request, year)
    raw = _spool()
    write_sheets_xlsx(raw, sheets)
    return _download(raw, filename=f"rems-report-{year}.xlsx", content_type=XLSX)


@staff_view
@require_GET
def rems_report_csv(request: HttpRequest, year: int, sheet: str) -> HttpResponse:
    if sheet not in REMS_SHEETS:
        raise Http404("No such part of the REMS report.")
    get_object_or_404(ReportingYear, year=year)
    _title, columns, rows = REMS_SHEETS[sheet]
    raw = _spool()
    stream = io.TextIOWrapper(raw, "utf-8", newline="")
    write_rows_csv(stream, columns, rows(year, _accreditor_id(request.user)))
    stream.flush()
    stream.detach()
    return _download(
        raw,
        filename=f"rems-report-{year}-{sheet}.csv",
        content_type="text/csv",
    )
