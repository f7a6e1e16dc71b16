"""Route samples for the activity pages and API (see route_walker.py)."""

from typing import Any

from tests.support.route_walker import Kind, Sample, Victim


def _provider(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id}


def _activity(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "pk": v.activity.pk}


def _api_activity(v: Victim) -> dict[str, Any]:
    return {"provider_activity_id": v.activity.provider_activity_id}


ACTIVITY_SAMPLES: dict[str, Sample] = {
    "activities:new": Sample(Kind.PROVIDER, _provider),
    "activities:export_xml": Sample(Kind.PROVIDER, _provider),
    "activities:export_tsv": Sample(Kind.PROVIDER, _provider),
    "activities:export_xlsx": Sample(Kind.PROVIDER, _provider),
    "api-v1:activities_export_xml": Sample(Kind.API_SCOPED),
    "activities:edit": Sample(Kind.PROVIDER, _activity),
    "activities:copy": Sample(Kind.PROVIDER, _activity),
    "activities:delete": Sample(Kind.PROVIDER, _activity),
    "activities:rules": Sample(Kind.PUBLIC),
    "activities:sandbox": Sample(Kind.PROVIDER, _provider),
    # The walker GETs and POSTs; PUT and DELETE by another provider's key are proven
    # in tests/activities/test_activity_api.py.
    "api-v1:activity_put": Sample(Kind.API_OBJECT, _api_activity),
    "api-v1:activity_delete": Sample(Kind.API_OBJECT, _api_activity),
    # A list that also creates: another key lists only its own, and its writes act
    # for its own provider only (the walk checks the victim's rows are unchanged).
    "api-v1:activities": Sample(Kind.API_COLLECTION),
    "api-v1:activity_create": Sample(Kind.API_COLLECTION),
    "api-v1:activity_rules": Sample(Kind.API_PUBLIC),
}
