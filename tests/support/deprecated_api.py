"""A URL configuration for tests only: a ParsApi with deprecated operations, one that
returns data (ninja renders it) and one that returns its own response, beside a current one."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, JsonResponse
from django.urls import path

from pars.api import ParsApi
from pars.api_deprecation import deprecated

api = ParsApi(title="Deprecation test", version="1", urls_namespace="deprecation-test")
WHEN = {"since": datetime.date(2027, 1, 4), "sunset": datetime.date(2028, 1, 4)}


@api.get("/old-data", response=dict[str, str])
@deprecated(**WHEN, successor="/old-api/v1/current")
def old_data(request: HttpRequest) -> dict[str, str]:
    return {"answer": "old"}


@api.get("/old-response")
@deprecated(**WHEN, successor="/old-api/v1/current")
def old_response(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"answer": "old"})


@api.get("/current", response=dict[str, str])
def current(request: HttpRequest) -> dict[str, str]:
    return {"answer": "new"}


urlpatterns = [path("old-api/v1/", api.urls)]
