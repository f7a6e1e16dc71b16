"""The JSON web service, version 1: `Authorization: Bearer <API key>`.

A key belongs to one provider; every endpoint reaches data through that key's
ProviderAccess, so another provider's records answer 404.
"""

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.openapi.schema import OpenAPISchema

from pars.accounts.api_auth import ApiKeyAuth, api_access
from pars.activities.api import exports_router, rules_router
from pars.activities.api import router as activities_router
from pars.activities.upload_api import router as uploads_router
from pars.learners.api import router as learners_router
from pars.learners.services import CompletionRefused
from pars.lib import api_errors
from pars.reporting.api import router as reporting_router


class ParsApi(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        api_errors.document_common_responses(schema)
        return schema


api = ParsApi(
    title="PARS web service",
    version="1",
    description="Program and Activity Reporting System. Authenticate with "
    "`Authorization: Bearer <API key>`; a provider administrator creates keys under API keys.",
    auth=ApiKeyAuth(),
    urls_namespace="api-v1",
)
# Every refusal in the one error shape (ApiErrors), none of them a 500.
api_errors.install(api)


def _refused(request: HttpRequest, exc: Any) -> HttpResponse:
    # A learner write the writer refused after the view's own checks (a registration of an
    # activity that starts before the board's first day): 400 with the writer's errors.
    errors = [
        {"row": error.row, "field": error.field, "rule": error.rule, "message": error.message}
        for error in exc.errors
    ]
    detail = errors[0]["message"] if errors else "The request was refused."
    return JsonResponse({"detail": detail, "errors": errors}, status=400)


api.add_exception_handler(CompletionRefused, _refused)


class ProviderOut(Schema):
    provider_id: str
    name: str
    accreditor_type: str
    accreditation_status: str
    term_start: datetime.date | None
    term_end: datetime.date | None


@api.get("/provider", response=ProviderOut, summary="The provider this API key belongs to")
def provider(request: HttpRequest) -> object:
    return api_access(request).provider


api.add_router("/activities", activities_router)
api.add_router("/exports", exports_router)
api.add_router("/rules", rules_router)
api.add_router("/uploads", uploads_router)
api.add_router("/annual-reports", reporting_router)
api.add_router("", learners_router)
