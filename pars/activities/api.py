"""Activities in the web service: create-or-update by Provider Activity ID, read, list, delete.

The request schema published in OpenAPI is generated from the data dictionary and is
the JSON channel's contract (``pars.lib.json_contract``): a value of the wrong JSON type
answers 422 (rule ``api.field.type``); the body then goes to the one validator
(dictionary field names to values), and its problems come back as 400 with field
errors, each with its rule ID (see ``/api/v1/rules/activities``), with ``api.field.invalid``
for a spelling files may use but JSON may not (a label for a code, mm/dd/yyyy).
"""

from __future__ import annotations

import base64
import contextlib
import json
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Count, QuerySet, Window
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import (
    URLResolver,
    get_resolver,
    get_script_prefix,
    get_urlconf,
    register_converter,
    reverse,
)
from ninja import HeaderEx, P, QueryEx, Router
from ninja.responses import NinjaJSONEncoder

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities import services
from pars.activities.api_schemas import (
    DERIVED_FIELDS,
    INPUT_FIELDS,
    LEGACY_FIELD,
    POST_SCHEMA,
    PUT_REQUEST_BODY,
    PUT_SCHEMA,
    READ_ONLY_FIELDS,
    REQUEST_BODY,
    STORED_READ_ONLY,
    ActivityIdPath,
    ActivityOut,
    RulesOut,
    SupporterOut,
)
from pars.activities.dictionary import FIELDS, LEGACY_ACTIVITY_TYPES
from pars.activities.models import Activity, CommercialSupport
from pars.activities.status_needs import status_needs
from pars.activities.validation import HAS_LEARNER_RECORDS_RULE, rules_for_year, validate_activity
from pars.activities.xml_export import xml_file_response
from pars.activities.year_lock import locked_years
from pars.intake import dry_run as dry_runs
from pars.intake.coerce import is_blank
from pars.intake.fields import Kind
from pars.intake.idempotency import IdempotencyKeyHeader, Outcome, fingerprint, run_idempotent
from pars.intake.models import Channel
from pars.intake.outcomes import ADDED
from pars.intake.rules import FieldError
from pars.lib import json_contract, versions
from pars.lib.api_errors import (
    MAX_OFFSET,
    ApiErrors,
    UploadErrorOut,
    error_response,
    parse_json,
)
from pars.lib.json_contract import Violation

router = Router(tags=["activities"])


class ActivityIdConverter:
    """A Provider Activity ID in an address: any characters the dictionary allows, `/`
    included (sent raw or as %2F, it arrives decoded), but for an ending that names the
    activity's registrations (`/registrations`, `/registrations/<recipient>`: the routes
    of pars.learners.api_registrations)."""

    regex = r"(?![\s\S]*/registrations(?:/[^/]*)?\Z)[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class AnyTextConverter(ActivityIdConverter):
    """A Provider Activity ID followed by more of the address (a registration's)."""

    regex = r"[\s\S]+"


register_converter(ActivityIdConverter, "activity_id")
register_converter(AnyTextConverter, "any_text")
# The path of one activity; the OpenAPI document names it /activities/{provider_activity_id}.
ACTIVITY_PATH = "/{activity_id:provider_activity_id}"
rules_router = Router(tags=["rules"])

DEFAULT_LIMIT = 100
# What ninja's JSON renderer answers with.
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MAX_LIMIT = 1000

# Errors of the JSON channel itself (not business rules, so not in validation.RULES).
RULE_BODY = "api.body.invalid"
RULE_UNKNOWN_FIELD = "api.field.unknown"
RULE_ID_MISMATCH = "api.provider_activity_id.mismatch"
RULE_LEGACY_MISMATCH = "api.legacy_activity_type.mismatch"
RULE_READ_ONLY = "api.field.read_only"

# The web service's one error shape (the names of this module kept for its importers).
ErrorOut = UploadErrorOut
ErrorsOut = ApiErrors


# The list, in bulk: values() rows turned into what ActivityOut dumps for each instance
# (the same keys in the same order, the same conversions), without a model per record.
_LIST_FIELDS = [
    name for name in ActivityOut.model_fields if name != "supporters" and name not in DERIVED_FIELDS
]
_FLOAT_FIELDS = frozenset(spec.name for spec in FIELDS if spec.kind is Kind.DECIMAL)
_OUTCOME_FIELDS = frozenset(spec.name for spec in FIELDS if spec.kind is Kind.OUTCOMES)
_SUPPORTER_OUT = list(SupporterOut.model_fields)
# Dates and timestamps as text here, as DjangoJSONEncoder writes them (not one encoder
# fallback per value when the page is serialized).
_DATE_FIELDS = frozenset(
    name
    for name in _LIST_FIELDS
    if Activity._meta.get_field(name).get_internal_type() == "DateField"
)
_TIME_FIELDS = frozenset(
    name
    for name in _LIST_FIELDS
    if Activity._meta.get_field(name).get_internal_type() == "DateTimeField"
)
_as_json_text = DjangoJSONEncoder().default
# PostgreSQL: a row's JSON columns and its supporters read as one JSON array (one parse
# per row, not one per column through the field's converter; no second query for the
# supporters). Table and column names come from the models, never from input.
_JSON_LIST_FIELDS = [
    name
    for name in _LIST_FIELDS
    if Activity._meta.get_field(name).get_internal_type() == "JSONField"
]
_PLAIN_LIST_FIELDS = [name for name in _LIST_FIELDS if name not in _JSON_LIST_FIELDS]
_JSON_COLUMNS = "pars_json_columns"
_TABLE = Activity._meta.db_table
_COLUMNS = {field.name: field.column for field in Activity._meta.concrete_fields}
_SUPPORT_COLUMNS = {field.name: field.column for field in CommercialSupport._meta.concrete_fields}
_JSON_COLUMNS_SQL = (  # noqa: S608
    "json_build_array({columns}, (SELECT json_agg(json_build_object({supporter}) "
    "ORDER BY s.position) FROM {support} s WHERE s.activity_id = {table}.{pk}))::text"
).format(
    columns=", ".join(f"{_TABLE}.{_COLUMNS[name]}" for name in _JSON_LIST_FIELDS),
    supporter=", ".join(f"'{name}', s.{_SUPPORT_COLUMNS[name]}" for name in _SUPPORTER_OUT),
    support=CommercialSupport._meta.db_table,
    table=_TABLE,
    pk=_COLUMNS["id"],
)


def list_values(records: QuerySet[Activity], **annotations: Any) -> list[dict[str, Any]]:
    """values() of `records` (pk, _LIST_FIELDS and `annotations`), in one query; on
    PostgreSQL with each row's "supporters" (as _SUPPORTER_OUT dicts, by position)."""
    if connection.vendor != "postgresql":
        return list(records.annotate(**annotations).values("pk", *_LIST_FIELDS, *annotations))
    json_columns = RawSQL(_JSON_COLUMNS_SQL, [])  # noqa: S611 (the models' names, no input)
    rows = list(
        records.annotate(**annotations, **{_JSON_COLUMNS: json_columns}).values(
            "pk", *_PLAIN_LIST_FIELDS, *annotations, _JSON_COLUMNS
        )
    )
    for row in rows:
        *columns, supporters = json.loads(row.pop(_JSON_COLUMNS))
        row.update(zip(_JSON_LIST_FIELDS, columns, strict=True))
        row["supporters"] = supporters or []
    return rows


def activities_json(records: QuerySet[Activity]) -> list[dict[str, Any]]:
    """The records as the list answers them (ready for NinjaJSONEncoder): one query on
    PostgreSQL, two elsewhere."""
    return rows_json(list_values(records))


def rows_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """values() rows of activities (pk and _LIST_FIELDS) as the list answers them: one
    query for the supporters, none when the rows came with theirs (list_values)."""
    if rows and "supporters" in rows[0]:  # read with them (list_values, PostgreSQL)
        return [_list_item(row, row["supporters"]) for row in rows]
    supporters: dict[int, list[dict[str, Any]]] = {row["pk"]: [] for row in rows}
    if rows:
        found = CommercialSupport.objects.filter(activity__in=list(supporters))
        for supporter in found.order_by("activity", "position").values("activity", *_SUPPORTER_OUT):
            supporters[supporter.pop("activity")].append(supporter)
    return [_list_item(row, supporters[row["pk"]]) for row in rows]


def _list_item(row: dict[str, Any], supporters: list[dict[str, Any]]) -> dict[str, Any]:
    """The activity as answered, every value a JSON one (text, number, boolean, null, list,
    object): ready for the idempotency store and the ETag as it is, no round trip through
    an encoder (tests/activities/test_api_answer_values.py checks every field)."""
    item: dict[str, Any] = {}
    for name in ActivityOut.model_fields:
        if name == "supporters":
            item[name] = supporters
            continue
        if name in DERIVED_FIELDS:
            continue
        value = row[name]
        if value is None:
            pass
        elif name in _FLOAT_FIELDS:
            value = float(value)
        elif name in _DATE_FIELDS or name in _TIME_FIELDS:
            value = _as_json_text(value)
        elif name in _OUTCOME_FIELDS:
            value = [
                {"outcome": o["outcome"], "measurement_types": o["measurement_types"]}
                for o in value
            ]
        item[name] = value
    needs = status_needs(row, supporters)
    item["next_status"] = needs.next_status
    item["missing_for_next_status"] = [
        {"field": m.field, "label": m.label, "rule": m.rule} for m in needs.missing
    ]
    return item


def _stored_json(records: QuerySet[Activity]) -> dict[str, Any]:
    """The one activity of `records` as GET answers it (a JSON-ready dict, stored for
    idempotent replays), read as values; {} if there is none."""
    found = activities_json(records)
    return found[0] if found else {}


def _supporter_out(supporter: dict[str, Any]) -> dict[str, Any]:
    return {name: supporter[name] for name in _SUPPORTER_OUT}


def _errors(errors: list[FieldError]) -> tuple[int, dict[str, Any]]:
    detail = errors[0].message if len(errors) == 1 else f"{len(errors)} problems; see errors."
    return 400, {"detail": detail, "errors": [error.as_dict() for error in errors]}


def _channel_error(field: str, rule: str, message: str) -> tuple[int, dict[str, Any]]:
    return _errors([FieldError(None, field, rule, message)])


def contract_errors(found: list[Violation], row: int | None = None) -> list[FieldError]:
    """Violations of the request schema as errors of the one shape."""
    return [FieldError(row, item.field, item.rule, item.message) for item in found]


def activity_url(provider_activity_id: str) -> str:
    """The activity's address in the web service: the ID as one percent-encoded segment
    (`/` as %2F, `%` as %25, a space as %20), which the routes decode back to the ID."""
    segment = quote(provider_activity_id, safe="")
    if segment in (".", ".."):  # a client would resolve these as dot segments
        segment = segment.replace(".", "%2E")
    return f"{_activities_path(get_resolver(get_urlconf()), get_script_prefix())}/{segment}"


# Asked of every write's answer (Location): reversed once per URLconf and script prefix.
@lru_cache(maxsize=16)
def _activities_path(resolver: URLResolver, script_prefix: str) -> str:
    """The list's address under this URLconf (`resolver`, the current one) and prefix."""
    return reverse("api-v1:activities")


def activity_query(**params: str) -> str:
    """A query string of activity IDs and codes, each value percent-encoded."""
    return urlencode(params, quote_via=quote)


def _answer(outcome: Outcome) -> HttpResponse:
    response = JsonResponse(outcome.body, status=outcome.status_code, safe=False)
    if outcome.status_code in (200, 201):
        response["ETag"] = etag(outcome.body)
    if outcome.status_code == 201:
        response["Location"] = activity_url(outcome.body["provider_activity_id"])
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


# ---------------------------------------------------------------------------
# Writing


def _write(access: ProviderAccess, body: bytes, path_id: str | None) -> tuple[int, Any]:
    """Parse, validate and save one activity: (status, JSON answer)."""
    data, problem = parse_json(body)
    if problem:
        return _channel_error("body", RULE_BODY, problem)
    if not isinstance(data, dict):
        return _channel_error(
            "body", RULE_BODY, "The request body must be a JSON object of activity fields."
        )
    unknown = [name for name in data if name not in INPUT_FIELDS + READ_ONLY_FIELDS]
    if unknown:
        return _errors(
            [
                FieldError(
                    None,
                    str(name),
                    RULE_UNKNOWN_FIELD,
                    f"{name!r} is not an activity field; the fields are listed in the "
                    "request schema of the OpenAPI description.",
                )
                for name in unknown
            ]
        )
    # The JSON contract: a value of the wrong JSON type makes the request malformed (422).
    found = json_contract.violations(POST_SCHEMA if path_id is None else PUT_SCHEMA, data)
    typed = json_contract.type_violations(found)
    if typed:
        return 422, _errors(contract_errors(typed))[1]
    raw = {name: data[name] for name in INPUT_FIELDS if name in data}
    legacy_error = _legacy_format(raw)
    if legacy_error is not None:
        return _errors([legacy_error])
    if path_id is not None:
        body_id = raw.get("provider_activity_id")
        if not is_blank(body_id) and str(body_id).strip() != path_id.strip():
            return _channel_error(
                "provider_activity_id",
                RULE_ID_MISMATCH,
                f"The Provider Activity ID in the body ({body_id!r}) is not the one in the "
                f"address ({path_id!r}); leave it out of the body or make them equal.",
            )
        raw["provider_activity_id"] = path_id
    record, errors = validate_activity(raw)
    if errors and record is None:
        # Every problem in one answer, a closed reporting year's too (asked only now: a
        # valid record's year is checked by the writer, under its lock, with this answer).
        closed = locked_years(access.provider)
        if closed:
            record, errors = validate_activity(raw, closed_years=closed)
    # Spellings the validator reads from files but the JSON contract does not allow.
    errors += contract_errors(json_contract.unreported(found, [e.field for e in errors]))
    if record is None or errors:
        return _errors(errors)
    errors = _read_only_errors(access, record.provider_activity_id, data)
    if errors:
        return _errors(errors)
    try:
        # A POST most often adds an activity: written as new first (one round trip).
        outcome, row = services.write_record_row(
            access, record, channel=Channel.API, expect_new=path_id is None
        )
    except services.ActivityRefused as refused:
        return _errors(refused.errors)
    assert outcome.id is not None  # an added or updated (or unchanged) activity has one
    if row is not None:  # as stored, without reading it back
        saved = _list_item(row, [_supporter_out(s) for s in row["supporters"]])
    else:
        saved = _stored_json(access.records(Activity).filter(pk=outcome.id))
    return (201 if outcome.outcome == ADDED else 200), saved


def _legacy_format(raw: dict[str, Any]) -> FieldError | None:
    """Take `legacy_activity_type` out of the body: a legacy code goes to the validator as
    the Activity Format (which maps it, as files give it), when the Activity Format sent is
    that code, the format it stands for, or nothing."""
    code = raw.pop(LEGACY_FIELD, None)
    if not isinstance(code, str) or code not in LEGACY_ACTIVITY_TYPES:
        return None  # nothing, or not a code: the JSON contract reports it
    target = LEGACY_ACTIVITY_TYPES[code][0]
    given = raw.get("activity_format")
    if is_blank(given) or given in (code, target):
        raw["activity_format"] = code
        return None
    return FieldError(
        None,
        LEGACY_FIELD,
        RULE_LEGACY_MISMATCH,
        f"The legacy activity type {code!r} stands for the format {target!r}, not "
        f"{given!r}; leave it out or send the Activity Format it stands for.",
    )


def _read_only_errors(
    access: ProviderAccess, provider_activity_id: str, data: dict[str, Any]
) -> list[FieldError]:
    """An error for each read-only field sent with another value than the stored one."""
    sent = {name: data[name] for name in STORED_READ_ONLY if data.get(name) is not None}
    if not sent:
        return []
    current = _stored_json(
        access.records(Activity).filter(provider_activity_id=provider_activity_id)
    )
    return [
        FieldError(
            None,
            name,
            RULE_READ_ONLY,
            f"{name!r} is read-only: PARS sets it. Leave it out of the body, or send the "
            "value stored.",
        )
        for name, value in sent.items()
        if current.get(name) != value
    ]


def _idempotent_write(
    request: HttpRequest,
    key: str | None,
    path_id: str | None,
    if_match: str | None = None,
    dry_run: bool = False,
) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    if dry_run:  # the same run, rolled back (pars.intake.dry_run)
        answer = dry_runs.rehearse(lambda: _idempotent_write(request, key, path_id, if_match))
        _audit_dry_run(access, answer, path_id)
        return answer
    body = request.body
    # POST writes the activity its body names (create or update): If-Match checks that one.
    target = path_id if path_id is not None or if_match is None else _body_activity_id(body)
    checked = target is not None and if_match is not None
    # With If-Match, the activity is held from the check until the write commits.
    with transaction.atomic() if checked else contextlib.nullcontext():
        if checked:
            assert target is not None
            assert if_match is not None
            stale = _precondition_failed(access, target, if_match)
            if stale is not None:
                # A request refused on its own merits (malformed, invalid) gets that
                # refusal, as it would on any version; only a good one gets 412.
                status, refusal = dry_runs.rehearse(lambda: _write(access, body, path_id))
                return JsonResponse(refusal, status=status) if status >= 400 else stale
        outcome = run_idempotent(
            access.provider,
            key,
            lambda: fingerprint(request.method or "", request.path, body),
            lambda: _write(access, body, path_id),
        )
    return _answer(outcome)


def _body_activity_id(body: bytes) -> str | None:
    """The Provider Activity ID a POST body names, if it is a JSON object naming one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("provider_activity_id") if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _audit_dry_run(access: ProviderAccess, answer: HttpResponse, path_id: str | None) -> None:
    saved = json.loads(answer.content) if answer.status_code in (200, 201) else {}
    record = saved.get("provider_activity_id") or path_id or ""
    dry_runs.audit(
        access,
        channel=Channel.API,
        description=f"Activity {record} checked (dry run): answered {answer.status_code}; "
        "nothing was saved.",
        details={"status_code": answer.status_code, "provider_activity_id": record},
    )


DryRunQuery = QueryEx[bool, P(description=dry_runs.DESCRIPTION)]


# ---------------------------------------------------------------------------
# Versions: ETag and If-Match

# The semantics are pars.lib.versions' (as for every single-record write); the activity
# endpoints keep their own wording in the OpenAPI description.
RULE_PRECONDITION = versions.RULE_PRECONDITION
IfMatchHeader = HeaderEx[
    str | None,
    P(
        alias="If-Match",
        description="The activity's `ETag` as last read: the write is refused with **412** "
        "(rule `api.precondition_failed`) when the activity has changed since (or, for "
        "`*`, does not exist), so that two systems cannot overwrite each other's change.",
    ),
]


def etag(answer: dict[str, Any]) -> str:
    """The version of an activity as answered (JSON-ready): a hash of its stored values,
    bookkeeping included (so any write changes it); derived fields left out."""
    return versions.etag(answer, leave_out=DERIVED_FIELDS)


def _precondition_failed(
    access: ProviderAccess, provider_activity_id: str, if_match: str
) -> HttpResponse | None:
    """412 when the activity (held until the write commits) is not at the version named."""
    held = access.records(Activity).filter(provider_activity_id=provider_activity_id)
    found = list(held.select_for_update().values_list("pk", flat=True))
    current = etag(_stored_json(held)) if found else None
    return versions.precondition_failed(if_match, current, what="activity")


_WRITE_RESPONSES = {200: ActivityOut, 201: ActivityOut, 400: ErrorsOut, 422: ErrorsOut}
# PUT also answers 412 to a stale If-Match.
_PUT_RESPONSES = {**_WRITE_RESPONSES, 412: ErrorsOut}
_ETAG_HEADER = {
    "description": "The activity's version: send it as If-Match to write only that version",
    "schema": {"type": "string"},
}
ONE_HEADERS = {"responses": {"200": {"headers": {"ETag": _ETAG_HEADER}}}}
LIST_HEADERS = {
    "responses": {
        "200": {
            "headers": {
                "Link": {
                    "description": 'The next page, as `<address>; rel="next"` (its `cursor` '
                    "continues after this page); absent on the last page",
                    "schema": {"type": "string"},
                },
                "X-Total-Count": {
                    "description": "How many activities there are (of the `year`, if given)",
                    "schema": {"type": "integer"},
                },
            }
        }
    }
}
_WRITE_DESCRIPTION = (
    "The body is one activity as a JSON object with the field names of the data dictionary "
    "(lists as arrays, `supporters` as an array of objects) and an optional `status`. The "
    "request schema is the contract: numbers, booleans and lists arrive as JSON numbers, "
    "booleans and arrays (a value of another JSON type answers **422**, rule "
    "`api.field.type`), codes as one of the codes listed (not their labels) and dates as "
    "yyyy-mm-dd (rule `api.field.invalid` when only that is wrong); `null` gives no value. "
    "The record is checked by the same validator as the web form and the batch files: "
    "problems answer **400** with `errors`, each naming its `field` and `rule` (see "
    "`/api/v1/rules/activities`); names that are not activity fields are refused with rule "
    "`api.field.unknown`. A new "
    "activity answers **201**, an update **200**; both return the saved record, which "
    "replaces the stored one as a whole (supporters included); a record equal to the "
    "stored one answers **200** and writes nothing (`updated_at` and the audit trail stay). "
    "A record read by GET can be sent back as it is: `legacy_activity_type` is taken with "
    "its format, and the readOnly fields (`last_channel`, `created_at`, `updated_at`) may "
    "be left out or sent as stored (another value: rule `api.field.read_only`). The "
    "Provider Activity ID may hold any characters: percent-encode it in an address "
    "(`/` as %2F); the `Location` header gives it so. Send an `Idempotency-Key` "
    "header to make a retry safe: the same key and body get the first answer again (with "
    "`Idempotent-Replayed: true`); the same key with another body answers **422** "
    "(rule `api.idempotency_key.reused`). The answer's `ETag` is the activity's version: "
    "send it back as `If-Match` on PUT or DELETE to write only if nobody changed the "
    "activity meanwhile (**412**, rule `api.precondition_failed`, otherwise)."
)


@router.get(
    "",
    response=list[ActivityOut],
    url_name="activities",
    summary="List activities",
    openapi_extra=LIST_HEADERS,
)
def activities(
    request: HttpRequest,
    year: int | None = None,
    limit: QueryEx[int, P(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: QueryEx[int, P(ge=0, le=MAX_OFFSET)] = 0,
    cursor: str | None = None,
) -> Any:
    """Ordered by Provider Activity ID, `limit` (1 to 1000) at a time. Page with the
    `Link: <…>; rel="next"` header (a `cursor` after the page's last activity; no `Link`
    on the last page): every activity is listed once even while others are added or
    deleted between pages. `offset` still pages by position (a page may then repeat or
    skip records that changed meanwhile). The `X-Total-Count` header counts them all. A
    `limit` or `offset` out of range, or a `cursor` not given by a `Link`, answers 422."""
    records = api_access(request).records(Activity).order_by("provider_activity_id")
    if year is not None:
        records = records.filter(reporting_year=year)
    every = records
    if cursor is not None:
        after = read_cursor(cursor)
        if after is None:
            return error_response(
                422, "cursor", RULE_CURSOR, "The cursor is not one a Link header gave."
            )
        records = records.filter(provider_activity_id__gt=after)
    # One query for the page and the count (and one more for the supporters); one more
    # than the page, to know whether another follows.
    page = records[offset : offset + limit + 1]
    rows = list_values(page, pars_total=Window(Count("pk")))
    # Past the end, or counted from the cursor on: count them all.
    total = rows[0]["pars_total"] if cursor is None and rows else every.count()
    following = len(rows) > limit
    rows = rows[:limit]
    # Serialized here in bulk: the bytes ActivityOut would give, without a model per record.
    answer = HttpResponse(
        json.dumps(rows_json(rows), cls=NinjaJSONEncoder), content_type=JSON_CONTENT_TYPE
    )
    answer["X-Total-Count"] = str(total)
    if following:
        query = {"limit": str(limit), "cursor": make_cursor(rows[-1]["provider_activity_id"])}
        if year is not None:
            query["year"] = str(year)
        link = request.build_absolute_uri(f"{request.path}?{urlencode(query)}")
        answer["Link"] = f'<{link}>; rel="next"'
    return answer


RULE_CURSOR = "api.cursor.invalid"


def make_cursor(provider_activity_id: str) -> str:
    """An opaque cursor: after this Provider Activity ID."""
    return base64.urlsafe_b64encode(provider_activity_id.encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> str | None:
    """The Provider Activity ID a cursor is after, or None if it is not a cursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return None
    return text or None


@router.post(
    "",
    response=_PUT_RESPONSES,
    url_name="activity_create",
    summary="Create or update an activity by the Provider Activity ID in the body",
    description=_WRITE_DESCRIPTION,
    openapi_extra=REQUEST_BODY,
)
def create_activity(
    request: HttpRequest,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
    dry_run: DryRunQuery = False,
) -> HttpResponse:
    return _idempotent_write(request, idempotency_key, None, if_match, dry_run=dry_run)


@router.get(
    ACTIVITY_PATH,
    response=ActivityOut,
    url_name="activity",
    summary="One activity, by Provider Activity ID",
    openapi_extra=ONE_HEADERS,
)
def activity(request: HttpRequest, provider_activity_id: ActivityIdPath) -> Any:
    access = api_access(request)
    found = activities_json(
        access.records(Activity).filter(provider_activity_id=provider_activity_id)
    )
    if not found:
        raise Http404("No such activity.")
    # As the list answers it, with what the record lacks for its next status.
    answer = HttpResponse(
        json.dumps(found[0], cls=NinjaJSONEncoder), content_type=JSON_CONTENT_TYPE
    )
    answer["ETag"] = etag(found[0])
    return answer


@router.put(
    ACTIVITY_PATH,
    response=_PUT_RESPONSES,
    url_name="activity_put",
    summary="Create or update an activity by Provider Activity ID",
    description=_WRITE_DESCRIPTION
    + " The Provider Activity ID is the one in the address; the body may leave it out.",
    openapi_extra=PUT_REQUEST_BODY,
)
def put_activity(
    request: HttpRequest,
    provider_activity_id: ActivityIdPath,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
    dry_run: DryRunQuery = False,
) -> HttpResponse:
    return _idempotent_write(
        request, idempotency_key, provider_activity_id, if_match, dry_run=dry_run
    )


@router.delete(
    ACTIVITY_PATH,
    response={204: None, 400: ErrorsOut, 409: ErrorsOut, 412: ErrorsOut},
    url_name="activity_delete",
    summary="Delete an activity",
    description="Answers 204, or 404 when this provider has no activity with that ID. "
    "**409** with rule `activity.delete.has_learner_records` when learner completions or "
    "registrations refer to the activity (completions are withdrawn, never deleted); "
    "**400** with rule `activity.reporting_year.locked` when its reporting year is closed.",
)
def delete_activity(
    request: HttpRequest, provider_activity_id: ActivityIdPath, if_match: IfMatchHeader = None
) -> HttpResponse:
    access = api_access(request)
    activity = access.get(Activity, provider_activity_id=provider_activity_id)
    with transaction.atomic():
        if if_match is not None:
            stale = _precondition_failed(access, provider_activity_id, if_match)
            if stale is not None:
                return stale
        try:
            services.delete_activity(access, activity, channel=Channel.API)
        except services.ActivityRefused as refused:
            status, body = _errors(refused.errors)
            if any(error.rule == HAS_LEARNER_RECORDS_RULE for error in refused.errors):
                status = 409  # the activity's state conflicts with the delete, not the request
            return JsonResponse(body, status=status)
    return HttpResponse(status=204)


@rules_router.get(
    "/activities",
    auth=None,
    response=RulesOut,
    url_name="activity_rules",
    summary="The activity rule catalog (no API key needed)",
    description="Every rule the activity validator applies, with its field and message; "
    "`year` keeps the rules that apply to activities of that reporting year.",
)
def activity_rules(request: HttpRequest, year: int | None = None) -> Any:
    return {"rules": [rule.as_dict() for rule in rules_for_year(year)]}


exports_router = Router(tags=["exports"])


@exports_router.get(
    "/activities.xml",
    url_name="activities_export_xml",
    summary="Activities as MEMS XML",
    description="The key's activities (optionally one reporting year) as an ACCMEActivities "
    "document that re-imports to the same records through POST /api/v1/uploads.",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The document, as a download (attachment)",
                "content": {"application/xml": {"schema": {"type": "string"}}},
            }
        }
    },
)
def activities_xml(request: HttpRequest, year: int | None = None) -> Any:
    records = api_access(request).records(Activity).order_by("provider_activity_id")
    if year is not None:
        records = records.filter(reporting_year=year)
    return xml_file_response(records, f"activities{'-' + str(year) if year else ''}.xml")
