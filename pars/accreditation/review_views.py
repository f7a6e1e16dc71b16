"""The review package pages of the accreditor's staff: the page, an XLSX and a PDF download.

Staff only (`staff_view`: 404 for everyone else); the provider is reached through its
access, so state-accreditor staff get 404 for providers their society does not accredit.
The period is the provider's accreditation term unless ``?start=&end=`` (ISO dates) say
otherwise.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_date
from fpdf import FPDF

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.decorators import staff_view
from pars.accreditation.review_package import (
    ACTIVITY_COLUMNS,
    OUTCOME_FIELDS,
    Figures,
    ReviewPackage,
    build_review_package,
    default_period,
)
from pars.lib.dates import US_DATETIME, us_date
from pars.lib.error_pages import error_page
from pars.lib.spreadsheets import write_sheets_xlsx

PAGE_ACTIVITY_LIMIT = 1000  # the page lists this many; the downloads hold them all
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FIGURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("activities", "Activities"),
    ("hours_of_instruction", "Hours of instruction"),
    ("ama_credits", "AMA PRA Category 1 credits"),
    ("physician_learners", "Physician learners"),
    ("other_learners", "Other learners"),
    ("support_monetary", "Commercial support (US$)"),
    ("in_kind_supports", "In-kind supports"),
    ("supporters", "Commercial supporters"),
    ("activities_supported", "Activities supported"),
)


class BadPeriod(ValueError):
    pass


def _period(request: HttpRequest, access: ProviderAccess) -> tuple[datetime.date, datetime.date]:
    start, end = default_period(access.provider)
    for name in ("start", "end"):
        text = request.GET.get(name, "").strip()
        if not text:
            continue
        try:
            value = parse_date(text)
        except ValueError:
            value = None
        if value is None:
            raise BadPeriod(f"{name} must be a date like 2024-01-31.")
        if name == "start":
            start = value
        else:
            end = value
    if end < start:
        raise BadPeriod("The period cannot end before it starts.")
    return start, end


def _package(request: HttpRequest, provider_id: str) -> ReviewPackage:
    access = get_provider_access(request.user, provider_id)  # 404 before anything else
    start, end = _period(request, access)
    return build_review_package(access, start, end)


def _filename(package: ReviewPackage, extension: str) -> str:
    return (
        f"review-package-{package.provider.provider_id}-"
        f"{package.start:%Y%m%d}-{package.end:%Y%m%d}.{extension}"
    )


@staff_view
def package(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        review = _package(request, provider_id)
    except BadPeriod as error:
        return error_page(
            request, 400, heading="This review period cannot be shown", text=str(error)
        )
    activities = list(_limited(review))
    return render(
        request,
        "accreditation/review_package.html",
        {
            "review": review,
            "provider": review.provider,
            "activities": activities,
            "limited": review.totals.activities > len(activities),
            "limit": PAGE_ACTIVITY_LIMIT,
            "figure_columns": FIGURE_COLUMNS,
            "outcome_fields": OUTCOME_FIELDS,
            "query": request.GET.urlencode(),
        },
    )


def _limited(review: ReviewPackage) -> Iterable[dict[str, Any]]:
    for number, row in enumerate(review.iter_activities()):
        if number >= PAGE_ACTIVITY_LIMIT:
            break
        yield row


# --- XLSX -----------------------------------------------------------------------------------


def _figure_values(figures: Figures) -> list[Any]:
    return [getattr(figures, key) for key, _ in FIGURE_COLUMNS]


Sheet = tuple[str, list[Any], Iterable[Iterable[Any]]]


def _provider_sheet(review: ReviewPackage) -> Sheet:
    """Who the provider is and which period the package covers."""
    provider = review.provider
    return (
        "Provider",
        ["Field", "Value"],
        [
            ("Provider", provider.name),
            ("PARS provider ID", provider.provider_id),
            ("Accreditor type", provider.get_accreditor_type_display()),
            (
                "Recognized accreditor",
                provider.recognized_accreditor.name if provider.recognized_accreditor else "",
            ),
            ("Accreditation status", provider.get_accreditation_status_display()),
            ("Term start", provider.term_start),
            ("Term end", provider.term_end),
            ("Period start", review.start),
            ("Period end", review.end),
            ("Activities in the period", review.totals.activities),
        ],
    )


def _figure_sheets(review: ReviewPackage) -> Iterable[Sheet]:
    """The activity figures by year and by format, and the outcomes by year."""
    yield (
        "By year",
        ["Reporting year", *(label for _, label in FIGURE_COLUMNS)],
        [
            *([row.year, *_figure_values(row.figures)] for row in review.by_year),
            ["Total", *_figure_values(review.totals)],
        ],
    )
    yield (
        "By format",
        ["Format", *(label for _, label in FIGURE_COLUMNS)],
        [[row.label, *_figure_values(row.figures)] for row in review.by_format],
    )
    yield (
        "Outcomes",
        ["Reporting year", *OUTCOME_FIELDS.values()],
        [
            *([row.year, *(row.outcomes[key] for key in OUTCOME_FIELDS)] for row in review.by_year),
            ["Total", *(review.outcome_totals[key] for key in OUTCOME_FIELDS)],
        ],
    )


def _record_sheets(review: ReviewPackage) -> Iterable[Sheet]:
    """Commercial support, the annual attestations and the accreditation decisions."""
    yield (
        "Commercial support",
        ["Supporter", "Activities", "Monetary (US$)", "In-kind supports"],
        [[row.source, row.activities, row.monetary, row.in_kind] for row in review.supporters],
    )
    yield (
        "Attestations",
        [
            "Reporting year",
            "Program summary completed",
            "Attested at",
            "Attested by",
            "Statement version",
        ],
        [
            [
                row.year,
                row.summary_completed_at,
                row.attested_at,
                row.attested_by,
                row.statement_version,
            ]
            for row in review.attestations
        ],
    )
    yield (
        "Decisions",
        ["Decided on", "Decision", "Outcome", "Term start", "Term end", "Notes"],
        [
            [
                decision.decided_on,
                decision.get_decision_type_display(),
                decision.get_outcome_display(),
                decision.term_start,
                decision.term_end,
                decision.notes,
            ]
            for decision in review.decisions
        ],
    )


def _sheets(review: ReviewPackage) -> Iterable[Sheet]:
    """(sheet title, header, rows) for every part of the package."""
    yield _provider_sheet(review)
    yield (
        "Activities",
        [label for _, label in ACTIVITY_COLUMNS],
        ([row[key] for key, _ in ACTIVITY_COLUMNS] for row in review.iter_activities()),
    )
    yield from _figure_sheets(review)
    yield from _record_sheets(review)


def render_xlsx(review: ReviewPackage) -> bytes:
    # Numbers and dates stay real cells (dates shown mm/dd/yyyy, as on the pages); text
    # has formulas escaped (pars.lib.spreadsheets).
    stream = io.BytesIO()
    write_sheets_xlsx(stream, _sheets(review))
    return stream.getvalue()


@staff_view
def package_xlsx(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        review = _package(request, provider_id)
    except BadPeriod as error:
        return error_page(
            request, 400, heading="This review period cannot be shown", text=str(error)
        )
    response = HttpResponse(render_xlsx(review), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(review, "xlsx")}"'
    return response


# --- PDF ------------------------------------------------------------------------------------


def _latin1(value: Any) -> str:
    """Text the PDF core fonts can draw (they hold Latin-1 only)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.UTC).strftime(f"{US_DATETIME} UTC")
    elif isinstance(value, datetime.date):
        value = us_date(value)  # 12/31/2026, as on the pages
    text = str(value).replace("\u2013", "-").replace("\u2014", "-")
    return text.encode("latin-1", "replace").decode("latin-1")


def _pdf_table(pdf: FPDF, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    pdf.set_font("Helvetica", size=7)
    with pdf.table(text_align="LEFT", line_height=4, first_row_as_headings=True) as table:
        heading = table.row()
        for label in header:
            heading.cell(_latin1(label))
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(_latin1(value))
    pdf.ln(4)


def _pdf_heading(pdf: FPDF, text: str) -> None:
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(text=_latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def render_pdf(review: ReviewPackage, *, compress: bool = True) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.compress = compress
    pdf.set_title(_latin1(f"Review package: {review.provider.name}"))
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(
        text=_latin1(f"Review package: {review.provider.name} ({review.provider.provider_id})"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    sheets = list(_sheets(review))
    titles = {
        "Provider": "Provider",
        "Activities": f"Activities of the period ({review.totals.activities})",
        "By year": "Summary by reporting year",
        "By format": "Summary by format",
        "Outcomes": "Outcome fields: activities per reporting year",
        "Commercial support": "Commercial support by supporter",
        "Attestations": "Attestation record",
        "Decisions": "Accreditation decision history",
    }
    # The activity list goes last: it is the long part.
    order = [title for title, _, _ in sheets if title != "Activities"] + ["Activities"]
    by_title = {title: (header, rows) for title, header, rows in sheets}
    for title in order:
        header, rows = by_title[title]
        _pdf_heading(pdf, titles[title])
        _pdf_table(pdf, header, rows)
    return bytes(pdf.output())


@staff_view
def package_pdf(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        review = _package(request, provider_id)
    except BadPeriod as error:
        return error_page(
            request, 400, heading="This review period cannot be shown", text=str(error)
        )
    response = HttpResponse(render_pdf(review), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(review, "pdf")}"'
    return response
