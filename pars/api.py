"""The JSON web service, version 1: `Authorization: Bearer <API key>`.

A key belongs to one provider; every endpoint reaches data through that key's
ProviderAccess, so another provider's records answer 404.
"""

import datetime

from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.security import HttpBearer

from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.services import authenticate_api_key
from pars.activities.models import Activity


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ProviderAccess | None:
        key = authenticate_api_key(token)
        return get_api_access(key.provider) if key else None


api = NinjaAPI(
    title="PARS web service",
    version="1",
    description="Program and Activity Reporting System. Authenticate with "
    "`Authorization: Bearer <API key>`; a provider administrator creates keys under API keys.",
    auth=ApiKeyAuth(),
    urls_namespace="api-v1",
)


class ProviderOut(Schema):
    provider_id: str
    name: str
    accreditor_type: str
    accreditation_status: str
    term_start: datetime.date | None
    term_end: datetime.date | None


class ActivityOut(Schema):
    provider_activity_id: str
    title: str
    activity_format: str
    start_date: datetime.date
    end_date: datetime.date
    reporting_year: int
    status: str


def _access(request: HttpRequest) -> ProviderAccess:
    access = request.auth  # type: ignore[attr-defined]
    assert isinstance(access, ProviderAccess)
    return access


@api.get("/provider", response=ProviderOut, summary="The provider this API key belongs to")
def provider(request: HttpRequest) -> object:
    return _access(request).provider


@api.get("/activities", response=list[ActivityOut], summary="List activities")
def activities(request: HttpRequest, year: int | None = None) -> object:
    records = _access(request).records(Activity).order_by("provider_activity_id")
    if year is not None:
        records = records.filter(reporting_year=year)
    return records


@api.get(
    "/activities/{provider_activity_id}",
    response=ActivityOut,
    summary="One activity, by Provider Activity ID",
)
def activity(request: HttpRequest, provider_activity_id: str) -> object:
    return _access(request).get(Activity, provider_activity_id=provider_activity_id)
