"""The JSON web service, version 1: `Authorization: Bearer <API key>`.

A key belongs to one provider; every endpoint reaches data through that key's
ProviderAccess, so another provider's records answer 404.
"""

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from pars import api_contract, api_deprecation
from pars.accounts.api_auth import ApiKeyAuth, api_access
from pars.accounts.key_check import KeyCheckFailed
from pars.activities.api import exports_router, rules_router
from pars.activities.api import router as activities_router
from pars.activities.upload_api import router as uploads_router
from pars.api_changelog import changelog as changelog_body
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
        # The contract's names (pars/api_contract.py): what generated clients are built from.
        published = api_contract.publish(schema)
        schema.clear()
        schema.update(published)
        return schema

    def get_openapi_operation_id(self, operation: Operation) -> str:
        """A short, stable camelCase id per operation (pars.api_contract.OPERATION_IDS);
        a deprecated view's operation is marked so, its description saying until when."""
        info = api_deprecation.deprecation_of(operation.view_func)
        if info is not None:
            operation.deprecated = True
            note = info.note()
            if note not in (operation.description or ""):
                operation.description = f"{note}\n\n{operation.description or ''}".strip()
        return api_contract.operation_id(operation.view_func)

    def create_temporal_response(self, request: HttpRequest) -> HttpResponse:
        # Kept on the request so that a deprecated view's headers reach the answer.
        response = super().create_temporal_response(request)
        setattr(request, api_deprecation.TEMPORAL_RESPONSE, response)
        return response


api = ParsApi(
    title="PARS web service",
    version="1",
    description="Program and Activity Reporting System. Authenticate with "
    "`Authorization: Bearer <API key>`; a provider administrator creates keys under API keys. "
    "What changed, and how long a deprecated operation keeps answering: "
    "[the changelog](/api/v1/changelog) (docs/api-changelog.md).",
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


def _key_check_failed(request: HttpRequest, exc: Any) -> HttpResponse:
    # Never sent: the rate-limit middleware runs the request again the ordinary way (nothing
    # was written), which answers 401 or 429, or succeeds (pars.accounts.key_check).
    return api_errors.error_response(401, "Authorization", api_errors.RULE_KEY, "Checking the key.")


api.add_exception_handler(KeyCheckFailed, _key_check_failed)


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


class ChangeOut(Schema):
    kind: str
    breaking: bool
    summary: str
    regenerate: bool = False


class ReleaseOut(Schema):
    date: datetime.date
    version: str
    changes: list[ChangeOut]


class ChangelogOut(Schema):
    policy: str
    docs: str
    releases: list[ReleaseOut]


@api.get(
    "/changelog",
    auth=None,
    response=ChangelogOut,
    url_name="changelog",
    summary="What changed in the web service, newest first (no API key needed)",
    description="Each change of version 1 and whether a client built before it needs "
    "changing, and the deprecation policy: an operation to be replaced answers for at "
    "least 12 months after its successor, with `Deprecation` and `Sunset` headers.",
)
def changelog(request: HttpRequest) -> object:
    return changelog_body()


api.add_router("/activities", activities_router)
api.add_router("/exports", exports_router)
api.add_router("/rules", rules_router)
api.add_router("/uploads", uploads_router)
api.add_router("/annual-reports", reporting_router)
api.add_router("", learners_router)
