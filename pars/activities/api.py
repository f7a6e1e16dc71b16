"""Activities in the web service: create-or-update by Provider Activity ID, read, list, delete."""

import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from pars.accounts.api_auth import api_access
from pars.activities.models import Activity

router = Router(tags=["activities"])


class ActivityOut(Schema):
    provider_activity_id: str
    title: str
    activity_format: str
    start_date: datetime.date
    end_date: datetime.date
    reporting_year: int
    status: str


@router.get("", response=list[ActivityOut], summary="List activities")
def activities(request: HttpRequest, year: int | None = None) -> object:
    records = api_access(request).records(Activity).order_by("provider_activity_id")
    if year is not None:
        records = records.filter(reporting_year=year)
    return records


@router.get(
    "/{provider_activity_id}",
    response=ActivityOut,
    summary="One activity, by Provider Activity ID",
)
def activity(request: HttpRequest, provider_activity_id: str) -> object:
    return api_access(request).get(Activity, provider_activity_id=provider_activity_id)
