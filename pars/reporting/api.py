"""The annual report in the web service: read it, save and complete the program summary, attest.

Thin on purpose: every write goes through the reporting services
(`save_program_summary`, `complete_program_summary`, `attest`), which validate, check
that the year is still open, check who may attest and record the audit events. This
module only turns JSON into their arguments and their answers (or refusals) into JSON.

Decisions, as the OpenAPI description states them:

* **Amounts.** The four program-summary figures are sent as JSON strings (``"12500.50"``,
  ``"$12,500.50"``) or numbers (``12500.5``; read exactly, never through a binary float),
  and always answered as strings with two decimals (``"12500.50"``), or ``null`` when not
  entered. The computed totals answer money and hours/credits the same way; counts are
  integers.
* **PUT replaces all four figures**: a figure left out (or ``null``) is cleared, and a
  summary with a cleared figure is no longer complete. The fields of the answer other than
  the four figures are ignored in the body, so a report read by GET can be sent back.
* **A closed (attested) year answers 400**, like every other refusal, with rule
  ``activity.reporting_year.locked`` -- the same status and rule the activity endpoints give
  for a change in that year, so one client-side rule handles both.
* **Attesting needs the statement version** (``{"statement_version": N}``): it must be the
  version of the current statement (``current_statement.version`` in the report), which
  proves the integrator showed the current text; otherwise 400 with rule
  ``attestation.statement_version.required`` or ``attestation.statement_version.not_current``.
  An API key attests in the name of the administrator who created it, and only while that
  person is still an administrator of the provider (rule ``attestation.not_administrator``).
* **Unknown year** (no such reporting year): 404 with rule ``report.year.unknown``.
* ``Idempotency-Key`` is honored on the PUT and the POSTs (see `pars.lib.idempotency`).
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Router, Schema

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.api import RULE_BODY, RULE_UNKNOWN_FIELD
from pars.intake import dry_run as dry_runs
from pars.intake.idempotency import IdempotencyKeyHeader, Outcome, fingerprint, run_idempotent
from pars.intake.models import Channel
from pars.intake.rules import FieldError
from pars.lib import json_contract
from pars.lib.api_errors import ApiErrors, parse_json
from pars.lib.versions import (
    IF_MATCH_NOTE,
    IfMatchHeader,
    etag,
    etag_headers,
    precondition_failed,
    with_etag,
)
from pars.reporting.models import AnnualReport, ReportingYear
from pars.reporting.services import (
    PROGRAM_SUMMARY_FIELDS,
    AnnualReportRefused,
    attest,
    complete_program_summary,
    current_statement,
    save_program_summary,
    validate_program_summary,
    year_status,
)
from pars.reporting.summary import activity_totals

router = Router(tags=["annual report"])

RULE_YEAR_UNKNOWN = "report.year.unknown"
RULE_STATEMENT_REQUIRED = "attestation.statement_version.required"
RULE_STATEMENT_NOT_CURRENT = "attestation.statement_version.not_current"

_CENT = Decimal("0.01")

# YearStatus.stage (a label for people) -> a stable code for programs.


# ---------------------------------------------------------------------------
# Schemas

_AMOUNT_IN = (
    'US dollars, at most two decimals, not negative: a JSON string (`"12500.50"`, with an '
    'optional `$` and thousands commas: `"$12,500.50"`) or number (`12500.5`). Leave out, '
    '`null` or `""` to clear it.'
)
# The amounts as the schema states them (and the JSON channel takes them): a number, or a
# string of digits with an optional `$`, thousands commas and two decimals, or empty.
_MAX_AMOUNT = 999_999_999_999.99
AMOUNT_PATTERN = "^(\\$?([0-9]{1,12}|[0-9]{1,3}(,[0-9]{3}){1,3})(\\.[0-9]{1,2})?)?$"
_AMOUNT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": _MAX_AMOUNT, "multipleOf": 0.01},
        {"type": "string", "pattern": AMOUNT_PATTERN},
        {"type": "null"},
    ]
}
_AMOUNT_OUT = 'US dollars as a string with two decimals (`"12500.50"`); `null` when not entered.'


class ProgramSummaryIn(Schema):
    """The four figures of the program summary typed by the provider (PUT replaces all four)."""

    advertising_exhibit_income: str | float | None = Field(
        None,
        title=PROGRAM_SUMMARY_FIELDS["advertising_exhibit_income"],
        description=_AMOUNT_IN,
        json_schema_extra=_AMOUNT_SCHEMA,
    )
    registration_fees: str | float | None = Field(
        None,
        title=PROGRAM_SUMMARY_FIELDS["registration_fees"],
        description=_AMOUNT_IN,
        json_schema_extra=_AMOUNT_SCHEMA,
    )
    government_grants: str | float | None = Field(
        None,
        title=PROGRAM_SUMMARY_FIELDS["government_grants"],
        description=_AMOUNT_IN,
        json_schema_extra=_AMOUNT_SCHEMA,
    )
    private_donations: str | float | None = Field(
        None,
        title=PROGRAM_SUMMARY_FIELDS["private_donations"],
        description=_AMOUNT_IN,
        json_schema_extra=_AMOUNT_SCHEMA,
    )


class AttestationIn(Schema):
    """The attestation: the version of the statement the integrator showed."""

    statement_version: int = Field(
        description="The version of the current attestation statement "
        "(`current_statement.version` of the report); any other version is refused."
    )


class StatementOut(Schema):
    version: int
    text: str
    effective_from: datetime.date


class TaskOut(Schema):
    label: str
    url: str | None = Field(description="The PARS web page where the task is done, if any")


class TotalsOut(Schema):
    """Computed from the year's activities at every request (never typed, never stored)."""

    activities: int
    by_format: dict[str, int] = Field(description="Activities per activity-format code")
    hours_of_instruction: str = Field(description="Sum, as a string with two decimals")
    ama_credits: str = Field(description="Sum, as a string with two decimals")
    physician_interactions: int
    other_interactions: int
    commercial_support_monetary: str = Field(
        description="Monetary commercial support received, US dollars with two decimals"
    )
    in_kind_supports: int = Field(description="Supporters that gave in-kind support")
    commercial_supporters: int = Field(description="Distinct supporter names")
    activities_supported: int = Field(description="Activities with at least one supporter")


class AnnualReportOut(Schema):
    year: int
    deadline: datetime.date
    days_left: int = Field(description="Days until the deadline (negative once it passed)")
    stage: str = Field(description="open, activities_complete, ready_to_attest or attested")
    stage_label: str
    tasks_left: list[TaskOut] = Field(description="What is still missing, in order")
    activities_entered: int
    activities_closed: int
    advertising_exhibit_income: str | None = Field(
        title=PROGRAM_SUMMARY_FIELDS["advertising_exhibit_income"], description=_AMOUNT_OUT
    )
    registration_fees: str | None = Field(
        title=PROGRAM_SUMMARY_FIELDS["registration_fees"], description=_AMOUNT_OUT
    )
    government_grants: str | None = Field(
        title=PROGRAM_SUMMARY_FIELDS["government_grants"], description=_AMOUNT_OUT
    )
    private_donations: str | None = Field(
        title=PROGRAM_SUMMARY_FIELDS["private_donations"], description=_AMOUNT_OUT
    )
    program_summary_completed_at: datetime.datetime | None
    attested_at: datetime.datetime | None
    attested_by: str | None = Field(description="The email of the administrator who attested")
    attestation_statement_version: int | None = Field(
        description="The version of the statement attested to"
    )
    current_statement: StatementOut = Field(
        description="The statement an attestation now agrees to: show its text, send its version"
    )
    totals: TotalsOut


# What the answer carries besides the four figures: ignored in a PUT body.
READ_ONLY_FIELDS = frozenset(AnnualReportOut.model_fields) - set(PROGRAM_SUMMARY_FIELDS)


SUMMARY_SCHEMA = ProgramSummaryIn.model_json_schema()
ATTESTATION_SCHEMA = AttestationIn.model_json_schema()


def _request_body(model: type[Schema]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


# ---------------------------------------------------------------------------
# The answer


def _money(value: Decimal | int | None) -> str | None:
    if value is None:
        return None
    return format(Decimal(value).quantize(_CENT), "f")


def report_json(access: ProviderAccess, reporting_year: ReportingYear) -> dict[str, Any]:
    """The report as GET answers it (JSON-ready; also what the writes answer and store)."""
    report = (
        access.records(AnnualReport)
        .select_related("attested_by", "attestation_statement")
        .filter(reporting_year=reporting_year)
        .first()
    )
    if report is None:  # nothing saved yet: read an empty report, write nothing
        report = AnnualReport(provider=access.provider, reporting_year=reporting_year)
    status = year_status(access, reporting_year)
    totals = activity_totals(access, reporting_year.year)
    statement = current_statement()
    data = {
        "year": reporting_year.year,
        "deadline": reporting_year.deadline,
        "days_left": status.days_left,
        "stage": status.stage_code,
        "stage_label": status.stage,
        "tasks_left": [{"label": task.label, "url": task.url} for task in status.tasks_left],
        "activities_entered": status.activities_total,
        "activities_closed": status.activities_closed,
        **{name: _money(getattr(report, name)) for name in PROGRAM_SUMMARY_FIELDS},
        "program_summary_completed_at": report.program_summary_completed_at,
        "attested_at": report.attested_at,
        "attested_by": report.attested_by.email if report.attested_by else None,
        "attestation_statement_version": (
            report.attestation_statement.version if report.attestation_statement else None
        ),
        "current_statement": {
            "version": statement.version,
            "text": statement.text,
            "effective_from": statement.effective_from,
        },
        "totals": {
            "activities": totals.activities,
            "by_format": totals.by_format,
            "hours_of_instruction": _money(totals.hours_of_instruction),
            "ama_credits": _money(totals.ama_credits),
            "physician_interactions": totals.physician_interactions,
            "other_interactions": totals.other_interactions,
            "commercial_support_monetary": _money(totals.commercial_support_monetary),
            "in_kind_supports": totals.in_kind_supports,
            "commercial_supporters": totals.commercial_supporters,
            "activities_supported": totals.activities_supported,
        },
    }
    answer: dict[str, Any] = AnnualReportOut.model_validate(data).model_dump(mode="json")
    return answer


def _errors(errors: list[FieldError]) -> tuple[int, dict[str, Any]]:
    status = 404 if any(error.rule == RULE_YEAR_UNKNOWN for error in errors) else 400
    detail = errors[0].message if len(errors) == 1 else f"{len(errors)} problems; see errors."
    return status, {"detail": detail, "errors": [error.as_dict() for error in errors]}


def _error(field: str, rule: str, message: str) -> tuple[int, dict[str, Any]]:
    return _errors([FieldError(None, field, rule, message)])


def _contract_errors(found: list[json_contract.Violation]) -> list[FieldError]:
    return [FieldError(None, item.field, item.rule, item.message) for item in found]


def _malformed(found: list[json_contract.Violation]) -> tuple[int, dict[str, Any]]:
    """A value of the wrong JSON type: the request is malformed (422, api.field.type)."""
    return 422, _errors(_contract_errors(found))[1]


def _reporting_year(year: int) -> ReportingYear | None:
    return ReportingYear.objects.filter(year=year).first()


def _unknown_year(year: int) -> HttpResponse:
    status, body = _error("year", RULE_YEAR_UNKNOWN, f"There is no reporting year {year}.")
    return JsonResponse(body, status=status)


def _answer(outcome: Outcome) -> HttpResponse:
    response = JsonResponse(outcome.body, status=outcome.status_code, safe=False)
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    if outcome.status_code == 200:
        response["ETag"] = report_version(outcome.body)
    return response


def _json_object(body: bytes, what: str) -> dict[str, Any] | tuple[int, dict[str, Any]]:
    """The body as a JSON object (numbers as exact decimals), or the 400 answer."""
    data, problem = parse_json(body, parse_float=Decimal)
    if problem:
        return _error("body", RULE_BODY, problem)
    if not isinstance(data, dict):
        return _error("body", RULE_BODY, f"The request body must be a JSON object {what}.")
    return data


# A write of the report: None when done, or the refusal's (status, JSON answer).
Action = Callable[[ProviderAccess, bytes], tuple[int, Any] | None]


# Fields of the report that change with the clock, not with a write: not in its version.
_CLOCK_FIELDS = ("days_left", "stage", "stage_label")


def report_version(answer: dict[str, Any]) -> str:
    """The report's ETag: of the year's report as GET answers it, the clock left out. It
    covers the figures, the attestation, the current statement and the activity totals, so
    an attestation with If-Match attests to the report as it was read."""
    return etag(answer, leave_out=_CLOCK_FIELDS)


def _write(
    request: HttpRequest,
    year: int,
    key: str | None,
    action: Action,
    if_match: str | None = None,
) -> HttpResponse:
    """Run one write of the report once per Idempotency-Key and answer with the report."""
    access = api_access(request)
    reporting_year = _reporting_year(year)
    if reporting_year is None:
        return _unknown_year(year)
    body = request.body

    def run() -> tuple[int, Any]:
        refusal = action(access, body)
        if refusal is not None:
            return refusal
        return 200, report_json(access, reporting_year)

    # With If-Match, the year's report is held from the check until the write commits.
    with transaction.atomic() if if_match is not None else contextlib.nullcontext():
        if if_match is not None:
            held = access.records(AnnualReport).select_for_update()
            if not list(held.filter(reporting_year=reporting_year).values_list("pk", flat=True)):
                # No report saved yet: hold the provider, so two first writes queue up.
                provider = type(access.provider).objects.select_for_update()
                list(provider.filter(pk=access.provider.pk).values_list("pk", flat=True))
            current = report_version(report_json(access, reporting_year))
            stale = precondition_failed(if_match, current, "annual report")
            if stale is not None:
                # Refused on its own merits (malformed, invalid): that refusal, not 412.
                status, refused = dry_runs.rehearse(run)
                return JsonResponse(refused, status=status) if status >= 400 else stale
        outcome = run_idempotent(
            access.provider,
            key,
            lambda: fingerprint(request.method or "", request.path, body),
            run,
        )
    return _answer(outcome)


# ---------------------------------------------------------------------------
# The actions


def _save_summary(year: int) -> Action:
    def action(access: ProviderAccess, body: bytes) -> tuple[int, Any] | None:
        data = _json_object(body, "with the four figures of the program summary")
        if isinstance(data, tuple):
            return data
        unknown = [name for name in data if name not in PROGRAM_SUMMARY_FIELDS]
        unknown = [name for name in unknown if name not in READ_ONLY_FIELDS]
        if unknown:
            return _errors(
                [
                    FieldError(
                        None,
                        str(name),
                        RULE_UNKNOWN_FIELD,
                        f"{name!r} is not a program summary figure; the figures are "
                        + ", ".join(PROGRAM_SUMMARY_FIELDS)
                        + ".",
                    )
                    for name in unknown
                ]
            )
        violations = json_contract.violations(SUMMARY_SCHEMA, data)
        typed = json_contract.type_violations(violations)
        if typed:
            return _malformed(typed)
        # What the web form's spellings allow but the schema does not ("1,2,3"): refused.
        _, errors = validate_program_summary(data)
        unreported = json_contract.unreported(violations, [error.field for error in errors])
        if unreported:
            return _errors([*errors, *_contract_errors(unreported)])
        try:
            save_program_summary(access, year, data, channel=Channel.API)
        except AnnualReportRefused as refused:
            return _errors(refused.errors)
        return None

    return action


def _complete(year: int) -> Action:
    def action(access: ProviderAccess, body: bytes) -> tuple[int, Any] | None:
        try:
            complete_program_summary(access, year, channel=Channel.API)
        except AnnualReportRefused as refused:
            return _errors(refused.errors)
        return None

    return action


class _StatementChanged(Exception):
    pass


def _attest(year: int) -> Action:
    def action(access: ProviderAccess, body: bytes) -> tuple[int, Any] | None:
        data = _json_object(body, 'such as {"statement_version": 1}')
        if isinstance(data, tuple):
            return data
        typed = json_contract.type_violations(json_contract.violations(ATTESTATION_SCHEMA, data))
        if typed:
            return _malformed(typed)
        statement = current_statement()
        version = data.get("statement_version")
        if not isinstance(version, int) or isinstance(version, bool):
            return _error(
                "statement_version",
                RULE_STATEMENT_REQUIRED,
                "Send the version of the attestation statement you showed, as an integer: "
                f'{{"statement_version": {statement.version}}} for the current statement '
                "(current_statement in the annual report).",
            )
        if version != statement.version:
            return _not_current(version, statement.version)
        try:
            with transaction.atomic():
                report = attest(access, year, channel=Channel.API)
                # A new statement published in between: this attestation was not to it.
                if report.attestation_statement_id != statement.pk:
                    raise _StatementChanged
        except AnnualReportRefused as refused:
            return _errors(refused.errors)
        except _StatementChanged:
            return _not_current(version, current_statement().version)
        return None

    return action


def _not_current(sent: int, current: int) -> tuple[int, dict[str, Any]]:
    return _error(
        "statement_version",
        RULE_STATEMENT_NOT_CURRENT,
        f"Statement version {sent} is not the current attestation statement (version "
        f"{current}). Show the current text (current_statement in the annual report) to the "
        "person attesting, then send its version.",
    )


# ---------------------------------------------------------------------------
# Endpoints

_WRITE_RESPONSES = {
    200: AnnualReportOut,
    400: ApiErrors,
    404: ApiErrors,
    412: ApiErrors,
    422: ApiErrors,
}
_REPORT = (
    "Answers **200** with the annual report (as `GET /api/v1/annual-reports/{year}`). "
    "A refusal answers **400** with `errors`, each naming its `field` and `rule`; once the "
    "year is attested every change answers 400 with rule `activity.reporting_year.locked` "
    "(the same rule the activity endpoints give). A year PARS does not know answers **404** "
    "(rule `report.year.unknown`). Send an `Idempotency-Key` header to make a retry safe: "
    "the same key and body get the first answer again (with `Idempotent-Replayed: true`); "
    "the same key with another request answers **422** (rule `api.idempotency_key.reused`)."
    + IF_MATCH_NOTE
    + " The report's version covers its figures, attestation, current statement and activity "
    "totals (not the days left or the stage, which change with the date)."
)


@router.get(
    "/{int:year}",
    response={200: AnnualReportOut, 404: ApiErrors},
    url_name="annual_report",
    summary="The annual report of one reporting year",
    description="The key's provider's report for the year: the four program-summary figures "
    "(strings with two decimals, or null), when the summary was completed, the attestation "
    "(when, by whom, to which statement version) and the current statement to attest to, the "
    "totals computed from the year's activities, the stage and the tasks still missing. "
    "Reading never creates anything. An unknown year answers 404. The `ETag` is the report's "
    "version, for `If-Match` on its writes.",
    openapi_extra=etag_headers(200),
)
def annual_report_detail(request: HttpRequest, year: int) -> Any:
    access = api_access(request)
    reporting_year = _reporting_year(year)
    if reporting_year is None:
        return _unknown_year(year)
    data = report_json(access, reporting_year)
    return with_etag(JsonResponse(data), report_version(data))


@router.put(
    "/{int:year}/program-summary",
    response=_WRITE_RESPONSES,
    url_name="annual_report_program_summary",
    summary="Save the program summary figures",
    description="The body has the four figures (strings or numbers: US dollars, at most two "
    "decimals, not negative). PUT replaces all four: a figure left out or null is cleared, "
    "and the summary is then no longer complete. They are checked by the same rules as the "
    "web form (rules `program_summary.<figure>.invalid`, `.negative`); other names are "
    "refused with rule `api.field.unknown`, except the read-only fields of the report, which "
    "are ignored so that a report read by GET can be sent back. " + _REPORT,
    openapi_extra={**_request_body(ProgramSummaryIn), **etag_headers(200)},
)
def put_program_summary(
    request: HttpRequest,
    year: int,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    return _write(request, year, idempotency_key, _save_summary(year), if_match)


@router.post(
    "/{int:year}/program-summary/complete",
    response=_WRITE_RESPONSES,
    url_name="annual_report_program_summary_complete",
    summary="Mark the program summary complete",
    description="Needs all four figures (enter 0 for none): a missing one is refused with "
    "rule `program_summary.<figure>.required`. No body is needed. " + _REPORT,
    openapi_extra=etag_headers(200),
)
def complete_summary(
    request: HttpRequest,
    year: int,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    return _write(request, year, idempotency_key, _complete(year), if_match)


@router.post(
    "/{int:year}/attestation",
    response=_WRITE_RESPONSES,
    url_name="annual_report_attestation",
    summary="Attest the annual report (closes the year)",
    description='The body is `{"statement_version": N}`, the version of the current '
    "attestation statement (`current_statement` of the report), whose text the integrator "
    "showed to the person attesting; another version answers 400 with rule "
    "`attestation.statement_version.not_current`, none (or not an integer) with rule "
    "`attestation.statement_version.required`. The key attests in the name of the provider "
    "administrator who created it, and only while that person is still an administrator "
    "(otherwise rule `attestation.not_administrator`); every activity of the year must be "
    "entered and closed (`attestation.activities_incomplete`) and the program summary "
    "complete (`attestation.program_summary_incomplete`). Once attested, the year's "
    "activities and program summary can no longer change until the accreditor's staff "
    "reopen it. " + _REPORT,
    openapi_extra={**_request_body(AttestationIn), **etag_headers(200)},
)
def post_attestation(
    request: HttpRequest,
    year: int,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    return _write(request, year, idempotency_key, _attest(year), if_match)
