"""Reading: the list of completions (filters, keyset cursor) and one record's detail."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from typing import Annotated

from django.db.models import DateTimeField, Q
from django.db.models.functions import Greatest
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import P, QueryEx

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.upload_api import (
    ApiErrors,
)
from pars.learners.api_common import (
    RULE_QUERY,
    json_response,
    refusal,
)
from pars.learners.models import (
    CompletionStatus,
    LearnerCompletion,
    Recipient,
)
from pars.lib.versions import IF_MATCH_NOTE, etag, etag_headers, with_etag

from .answers import _records, completion_json, detail_json
from .schemas import (
    _STATUSES,
    DATE_TIME_PATTERN,
    STATUS_LIST_PATTERN,
    LearnerCompletionDetailOut,
    LearnerCompletionPage,
    _documented,
)
from .shared import DEFAULT_LIMIT, MAX_LIMIT, RULE_CURSOR, router


def _encode_cursor(changed_at: datetime.datetime, pk: int) -> str:
    text = json.dumps([changed_at.isoformat(), pk])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime.datetime, int] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = json.loads(text)
        changed_at = datetime.datetime.fromisoformat(stamp)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(pk, int) or timezone.is_naive(changed_at):
        return None
    return changed_at, pk


def _query_error(field: str, message: str, rule: str = RULE_QUERY) -> HttpResponse:
    return json_response(*refusal(field, rule, message))


@router.get(
    "/learner-completions",
    response={200: LearnerCompletionPage, 400: ApiErrors},
    url_name="learner_completions",
    openapi_extra={
        "responses": {
            "200": {
                "headers": {
                    "Link": {
                        "description": 'The next page, as `<address>; rel="next"` (the '
                        "same address as `next`); absent on the last page",
                        "schema": {"type": "string"},
                    }
                }
            }
        }
    },
    summary="List learner completions and their status",
    description="The key's completions, oldest change first, in pages of `limit` (at most "
    f"{MAX_LIMIT:,}); `next` is the URL of the next page (null on the last). Filters: "
    "`activity` (Provider Activity ID), `recipient` (code), `status` (one or several, "
    f"separated by commas: {_STATUSES}) and `updated_since` (ISO 8601 date-time: records "
    "whose data or status changed at or after it). `next_cursor` marks where the page ends, "
    "also on the last page: keep it and ask again later with `cursor=` to get the records "
    "changed since (a record whose status changes moves to the end of the list). Learners' "
    "identifiers, NPI, license state and birth month and day are left out unless "
    "`include=personal`.",
)
def list_completions(
    request: HttpRequest,
    activity: str | None = None,
    recipient: str | None = None,
    status: Annotated[str, _documented(STATUS_LIST_PATTERN, _STATUSES)] = "",
    updated_since: QueryEx[
        str | None, P(pattern=DATE_TIME_PATTERN, description="ISO 8601 date-time")
    ] = None,
    cursor: str | None = None,
    limit: QueryEx[int, P(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    include: Annotated[str, _documented("^(personal)?$", "personal")] = "",
) -> HttpResponse:
    access = api_access(request)
    if include not in (None, "", "personal"):
        return _query_error("include", "`include` takes one value: personal.")
    records = _records(access).annotate(
        changed_at=Greatest("updated_at", "status_changed_at", output_field=DateTimeField())
    )
    if activity:
        records = records.filter(activity__provider_activity_id=activity)
    if recipient:
        code = recipient.strip().upper()
        if not Recipient.objects.filter(code=code).exists():
            return _query_error(
                "recipient",
                "No recipient has this code (see /api/v1/recipients).",
                "learner.recipient.unknown",
            )
        records = records.filter(recipient__code=code)
    if status:
        wanted = [part.strip().lower() for part in status.split(",") if part.strip()]
        unknown = [part for part in wanted if part not in CompletionStatus.values]
        if unknown:
            return _query_error("status", f"A status is one of: {_STATUSES}.")
        records = records.filter(status__in=wanted)
    if updated_since is not None:
        try:
            since = datetime.datetime.fromisoformat(updated_since)
        except ValueError:  # the pattern holds, the date does not (February 30)
            return _query_error("updated_since", "Not a real date and time.")
        if timezone.is_naive(since):
            since = timezone.make_aware(since)
        records = records.filter(changed_at__gte=since)
    if cursor:
        position = _decode_cursor(cursor)
        if position is None:
            return _query_error("cursor", "This cursor is not one PARS gave.", RULE_CURSOR)
        changed_at, pk = position
        records = records.filter(Q(changed_at__gt=changed_at) | Q(changed_at=changed_at, pk__gt=pk))
    page = list(records.order_by("changed_at", "pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    # Where this page ends (the cursor sent, for an empty page): the next page now, or the
    # records changed since, later.
    next_cursor = _encode_cursor(page[-1].changed_at, page[-1].pk) if page else cursor
    next_url = None
    if more and next_cursor:
        query = request.GET.copy()
        query["cursor"] = next_cursor
        next_url = f"{request.path}?{query.urlencode()}"
    personal = include == "personal"
    return json_response(
        200,
        {
            "results": [completion_json(row, personal=personal) for row in page],
            "next": next_url,
            "next_cursor": next_cursor,
        },
        # The same next page as the activity list gives it (RFC 8288).
        {"Link": f'<{next_url}>; rel="next"'} if next_url else None,
    )


@router.get(
    "/learner-completions/{int:completion_id}",
    response=LearnerCompletionDetailOut,
    url_name="learner_completion",
    summary="One learner completion: its status, history and deliveries",
    description="The whole record, personal fields included, with its status (and the "
    "recipient's reason when rejected or held), its version, its history (`events`: field "
    "names, never values) and each delivery to the recipient with the recipient's answer."
    + IF_MATCH_NOTE,
    openapi_extra=etag_headers(200),
)
def completion_detail(request: HttpRequest, completion_id: int) -> HttpResponse:
    access = api_access(request)
    completion = _get(access, completion_id)
    data = detail_json(access, completion)
    return with_etag(json_response(200, data), etag(data))


def _get(access: ProviderAccess, completion_id: int) -> LearnerCompletion:
    """The key's completion, or 404 (also when it is another provider's)."""
    return access.get(LearnerCompletion, pk=completion_id)
