"""The web service's one error shape, and the refusals every operation may answer.

Every refusal of the web service, whoever produces it (an endpoint, django-ninja's
parameter validation, the authentication, the rate limit, Django's URL resolver),
answers ``{"detail": "...", "errors": [{"row", "field", "rule", "message"}]}``:
the ``ApiErrors`` schema of the OpenAPI description.

* :func:`install` turns the exceptions a request may raise into that shape: a missing
  or wrong key (401), another provider's or an unknown record (404), parameters that do
  not validate (422), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413, Django's
  ``RequestDataTooBig``), a JSON body nested too deeply to parse (400, Python's
  ``RecursionError``), none of them a 500.
* :class:`ApiErrorMiddleware` does the same for the refusals made outside the API's
  views (Django's 404 for an address no route matches, django-ninja's 405).
* :func:`document_common_responses` adds those statuses to every operation of the
  OpenAPI description, so what the service answers is what it documents.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

# Errors of the HTTP channel itself (not business rules: not in the rule catalogs).
RULE_BODY = "api.body.invalid"
RULE_TOO_LARGE = "api.body.too_large"
RULE_KEY = "api.key.invalid"
RULE_FORBIDDEN = "api.permission.denied"
RULE_NOT_FOUND = "api.not_found"
RULE_METHOD = "api.method.not_allowed"
RULE_PARAMETER = "api.parameter.invalid"
RULE_RATE_LIMITED = "api.rate_limited"
RULE_REQUEST = "api.request.invalid"

# The largest `offset` a list accepts: far beyond any provider's records, and within
# the 64-bit integers databases page with (a larger one answered 500 before).
MAX_OFFSET = 1_000_000_000

BODY_NOT_JSON = "The request body is not valid JSON."
BODY_TOO_DEEP = "The request body is nested too deeply to read."


class UploadErrorOut(Schema):
    """One error (the name is the one the OpenAPI description has always had)."""

    row: int | None
    field: str
    rule: str
    message: str


class UploadRowErrorOut(UploadErrorOut):
    """An error of an uploaded file: where it is in the file, as well as the field."""

    record: str = Field(
        description="The record's key in the file: its Provider Activity ID; for a learner "
        "record its activity, recipient and completion date (never personal data). "
        "Empty when the error is not one record's."
    )
    column: str = Field(
        description="The file's own header of the field (its column header; in XML the "
        "element), which the message also names; for a field the file has no column for, "
        "the template's header; empty when unknown. `field` keeps PARS's name of the field."
    )


class ApiErrors(Schema):
    """Every refusal of the web service: a summary and the errors, each with its rule."""

    detail: str
    errors: list[UploadErrorOut]


def error_body(
    field: str, rule: str, message: str, *, row: int | None = None, detail: str | None = None
) -> dict[str, Any]:
    """One error in the shape every refusal has."""
    error = {"row": row, "field": field, "rule": rule, "message": message}
    return {"detail": detail or message, "errors": [error]}


def error_response(
    status: int,
    field: str,
    rule: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    response = JsonResponse(error_body(field, rule, message), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def parse_json(body: bytes, **options: Any) -> tuple[Any, str | None]:
    """(data, None), or (None, why) for a body that is not JSON or is nested so deeply
    that the parser runs out of stack (``RecursionError``, a 500 before)."""
    try:
        return json.loads(body or b"null", **options), None
    except (ValueError, UnicodeDecodeError):
        return None, BODY_NOT_JSON
    except RecursionError:
        return None, BODY_TOO_DEEP


# ---------------------------------------------------------------------------
# Exceptions raised while a request is answered


def _key_refused(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(
        401,
        "Authorization",
        RULE_KEY,
        "A valid API key is needed: send `Authorization: Bearer <API key>`.",
        {"WWW-Authenticate": "Bearer"},
    )


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 401:
        return _key_refused(request, exc)
    return error_response(exc.status_code, "request", RULE_REQUEST, str(exc))


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(404, "path", RULE_NOT_FOUND, _not_found_message(exc))


def _not_found_message(exc: Exception | None) -> str:
    # Our own 404s name what was not found ("No such activity."); nothing else is echoed.
    text = str(exc) if exc is not None else ""
    return text if text.startswith("No such ") else "Not found."


def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(403, "Authorization", RULE_FORBIDDEN, str(exc) or "Not allowed.")


# Parameters whose refusal has a rule of its own (documented before django-ninja checked them).
_PARAMETER_RULES = {"Idempotency-Key": "api.idempotency_key.invalid"}


def _invalid_parameters(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ())]
        # ("query", "limit") -> "limit"; the value itself is never echoed.
        field = ".".join(location[1:]) or (location[0] if location else "request")
        message = f"{field}: {error.get('msg', 'invalid value')}."
        rule = _PARAMETER_RULES.get(field, RULE_PARAMETER)
        errors.append({"row": None, "field": field[:100], "rule": rule, "message": message})
    if not errors:
        errors.append(
            {"row": None, "field": "request", "rule": RULE_PARAMETER, "message": "Invalid."}
        )
    detail = errors[0]["message"] if len(errors) == 1 else f"{len(errors)} problems; see errors."
    return JsonResponse({"detail": detail, "errors": errors}, status=422)


def _too_large(request: HttpRequest, exc: Exception) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = "The request is too large"
    if isinstance(exc, RequestDataTooBig) and limit:
        message += f": a JSON body may be at most {limit:,} bytes"
    return error_response(413, "body", RULE_TOO_LARGE, message + ".")


def _suspicious(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(400, "request", RULE_REQUEST, "The request could not be read.")


def _too_deep(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Parsers of the endpoints turn this into the same answer themselves; a RecursionError
    # reaching here comes from reading a nested value after parsing.
    return error_response(400, "body", RULE_BODY, BODY_TOO_DEEP)


_HANDLERS: dict[type[Exception], Callable[[HttpRequest, Any], HttpResponse]] = {
    AuthenticationError: _key_refused,
    HttpError: _http_error,
    Http404: _not_found,
    PermissionDenied: _forbidden,
    NinjaValidationError: _invalid_parameters,
    RequestDataTooBig: _too_large,
    TooManyFieldsSent: _too_large,
    TooManyFilesSent: _too_large,
    SuspiciousOperation: _suspicious,
    RecursionError: _too_deep,
}


def install(api: NinjaAPI) -> None:
    """Answer the exceptions of the API's views in the one error shape."""
    for exc_class, handler in _HANDLERS.items():
        api.add_exception_handler(exc_class, handler)


# ---------------------------------------------------------------------------
# Refusals made outside the API's views

_STATUS_ERRORS = {
    400: ("request", RULE_REQUEST, "The request could not be read."),
    401: ("Authorization", RULE_KEY, "A valid API key is needed."),
    403: ("Authorization", RULE_FORBIDDEN, "Not allowed."),
    404: ("path", RULE_NOT_FOUND, "Not found: no operation of the web service has this address."),
    405: ("method", RULE_METHOD, "This method is not allowed here; see the Allow header."),
    413: ("body", RULE_TOO_LARGE, "The request is too large."),
}


def _api_prefix() -> str:
    return str(getattr(settings, "PARS_API_PATH_PREFIX", "/api/") or "/api/")


class ApiErrorMiddleware:
    """Refusals under /api/ that are not JSON yet (Django's HTML 404 for an address no
    route matches, django-ninja's plain 405) get the API's error shape; their headers
    (``Allow``, ``Retry-After``) stay."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        status = response.status_code
        if (
            400 <= status < 500
            and request.path_info.startswith(_api_prefix())
            and not str(response.get("Content-Type", "")).startswith("application/json")
        ):
            field, rule, message = _STATUS_ERRORS.get(
                status, ("request", RULE_REQUEST, "The request was refused.")
            )
            replacement = error_response(status, field, rule, message)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


# ---------------------------------------------------------------------------
# The OpenAPI description

ERROR_REF = "#/components/schemas/ApiErrors"


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }


def document_common_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add to every operation the refusals any of them may answer, all as ApiErrors:
    401 (with security), 404 (with a path parameter), 422 (with any parameter or body),
    400 and 413 (with a body), 429 (all: the rate limits)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ApiErrors, UploadErrorOut):
        if model.__name__ not in components:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            model_schema.pop("$defs", None)
            components[model.__name__] = model_schema
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            body = "requestBody" in operation
            common: dict[int, str] = {}
            if operation.get("security"):
                common[401] = "No valid API key (rule `api.key.invalid`)."
            if any(parameter.get("in") == "path" for parameter in parameters):
                common[404] = "No such record for this key's provider (rule `api.not_found`)."
            if body:
                common[400] = "The body cannot be read (rule `api.body.invalid`)."
                common[413] = "The body is too large (rule `api.body.too_large`)."
            if parameters or body:
                common[422] = (
                    "A parameter does not match the description (rule `api.parameter.invalid`)"
                    + (
                        ", or a body value is not of the JSON type it states (`api.field.type`)."
                        if body
                        else "."
                    )
                )
            common[429] = "Too many requests: see Retry-After (rule `api.rate_limited`)."
            for status, description in common.items():
                responses.setdefault(str(status), _error_response(description))
            responses["429"].setdefault("headers", {})["Retry-After"] = {
                "description": "Seconds until the limit resets",
                "schema": {"type": "integer", "minimum": 0},
            }
    return schema
