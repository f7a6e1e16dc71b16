"""Route samples for the activity pages and API (see tests/route_walker.py)."""

from typing import Any

from tests.route_walker import Kind, Sample, Victim


def _provider(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id}


def _activity(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "pk": v.activity.pk}


def _api_activity(v: Victim) -> dict[str, Any]:
    return {"provider_activity_id": v.activity.provider_activity_id}


ACTIVITY_SAMPLES: dict[str, Sample] = {
    "activities:new": Sample(Kind.PROVIDER, _provider),
    "activities:edit": Sample(Kind.PROVIDER, _activity),
    "activities:copy": Sample(Kind.PROVIDER, _activity),
    "activities:delete": Sample(Kind.PROVIDER, _activity),
    "activities:rules": Sample(Kind.PUBLIC),
    # The walker GETs and POSTs; PUT and DELETE by another provider's key are proven
    # in tests/activities/test_activity_api.py.
    "api-v1:activity_put": Sample(Kind.API_OBJECT, _api_activity),
    "api-v1:activity_delete": Sample(Kind.API_OBJECT, _api_activity),
    # The walker has no kind for a collection that also creates: its POST with another
    # provider's key and no body is a 400 (not JSON), which API_SCOPED does not allow. So
    # both routes of /api/v1/activities (the list, sampled API_SCOPED in test_tenancy.py,
    # and the create) are API_PUBLIC here, which checks what it can (no key: 401, nothing
    # leaks); tests/activities/test_activity_api.py proves that another provider's key
    # lists only its own activities and that its POST only ever writes for its own.
    "api-v1:activities": Sample(Kind.API_PUBLIC),
    "api-v1:activity_create": Sample(Kind.API_PUBLIC),
    "api-v1:activity_rules": Sample(Kind.API_PUBLIC),
}
