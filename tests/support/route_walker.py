"""Walks every URL pattern as an outsider and reports each route that leaks.

Each route needs a sample: what kind of route it is and how to fill its URL for a
victim provider's objects. A route with no sample is itself reported, so a new
view cannot ship without being walked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from pars.accounts.models import ApiKey, Membership, User
from pars.activities.models import Activity
from pars.intake.models import Upload
from pars.providers.models import AccreditationDecision, Contact, Provider


class Kind(Enum):
    PROVIDER = "one provider's page: outsiders get 404, anonymous goes to login"
    STAFF = "accreditor staff page: non-staff get 404, anonymous goes to login"
    SELF = "the signed-in user's own page: must not show the victim's data"
    PUBLIC = "open to anonymous users (login, password reset, guide)"
    ADMIN = "Django admin: non-staff are sent to the admin login"
    API_OBJECT = "API endpoint naming one record: other keys get 404, no key gets 401"
    API_SCOPED = "API endpoint scoped by the key: other keys never see the victim's data"
    API_COLLECTION = "API list that also creates: other keys see and change only their own"
    API_PUBLIC = "API description, open to all"


@dataclass
class Victim:
    """A provider with one row of every provider-owned kind, and one of its users."""

    provider: Provider
    user: User
    membership: Membership
    activity: Activity
    contact: Contact
    decision: AccreditationDecision
    api_key: ApiKey
    upload: Upload
    secret_marker: str  # text that only the victim's pages contain


@dataclass(frozen=True)
class Sample:
    kind: Kind
    kwargs: Callable[[Victim], dict[str, Any]] = field(default=lambda v: {})


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str | None

    @property
    def key(self) -> str:
        return self.name or self.pattern


def all_routes(urlconf: str | None = None) -> list[Route]:
    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> Iterator[Route]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace
                if pattern.namespace:
                    inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                name = pattern.name and (
                    f"{namespace}:{pattern.name}" if namespace else pattern.name
                )
                yield Route(prefix + str(pattern.pattern), name)

    return list(walk(get_resolver(urlconf).url_patterns, "", None))


def _admin_url(route: Route, victim: Victim, urlconf: str | None) -> str:
    values = {
        "object_id": str(victim.provider.pk),
        "id": str(victim.user.pk),
        "pk": str(victim.user.pk),  # django-otp's device admin pages
        "app_label": "providers",
        "content_type_id": "1",
        "url": "providers/",
    }
    names = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route.pattern)
    kwargs = {a or b: values[a or b] for a, b in names}
    if route.name:
        return reverse(route.name, kwargs=kwargs, urlconf=urlconf)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route.pattern)
    return "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)\$?", lambda m: values[m.group(1)], path)


def _text(response: Any) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode(errors="replace")


def _leaks(body: str, victim: Victim) -> bool:
    return victim.secret_marker in body or victim.provider.name in body


def victim_snapshot(victim: Victim) -> dict[str, Any]:
    """Every provider-owned row of the victim, to prove outsiders changed nothing."""
    from django.apps import apps

    snapshot: dict[str, Any] = {}
    for model in apps.get_models():
        names = {field.name for field in model._meta.get_fields()}
        if "provider" in names and model is not Provider:
            rows = model._default_manager.filter(provider=victim.provider).order_by("pk")
            snapshot[model.__name__] = list(rows.values())
    return snapshot


def _walk_api(
    route: Route,
    url: str,
    kind: Kind,
    bearer: dict[str, str],
    victim: Victim,
    problems: list[str],
) -> None:
    """Every method of an API route, without a key and with another provider's key."""
    client = Client()
    for method in ("get", "post", "put", "delete"):
        send = getattr(client, method)
        response = send(url)
        if response.status_code not in (401, 405):
            problems.append(
                f"{route.key} ({method} {url} with no API key): got {response.status_code}"
            )
        response = send(url, **bearer)
        status = response.status_code
        leaked = _leaks(_text(response), victim)
        if "X-PARS-Environment" not in response:  # live or sandbox, on every answer
            problems.append(f"{route.key} ({method} {url}): no X-PARS-Environment header")
        if status == 405:
            continue
        if kind is Kind.API_OBJECT and method in ("get", "delete"):
            ok = status == 404
        elif method == "get":
            ok = status == 200 and not leaked
        else:  # a write with another key may fail or act for its own provider only
            ok = status < 500 and not leaked
        if not ok:
            problems.append(
                f"{route.key} ({method} {url} with another provider's key): got {status}"
            )


def walk_as_outsider(
    victim: Victim,
    outsider: User,
    outsider_api_key: str,
    samples: dict[str, Sample],
    urlconf: str | None = None,
) -> list[str]:
    """Every problem found, as one line each; an empty list means the routes hold."""
    problems: list[str] = []
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {outsider_api_key}"}
    login_path = reverse("accounts:login", urlconf=urlconf)
    before = victim_snapshot(victim)

    for route in all_routes(urlconf):
        is_admin = route.pattern.startswith("admin/") and route.key not in samples
        sample = Sample(Kind.ADMIN) if is_admin else samples.get(route.key)
        if sample is None:
            problems.append(f"{route.key}: no sample; add one to the route walker")
            continue
        # Fresh clients per route: a logout route must not sign the outsider out for the rest.
        anonymous = Client()
        other = Client()
        other.force_login(outsider)
        if sample.kind is Kind.ADMIN:
            url = _admin_url(route, victim, urlconf)
        else:
            url = reverse(route.name or "", kwargs=sample.kwargs(victim), urlconf=urlconf)

        def check(
            ok: bool, who: str, method: str, response: Any, url: str = url, key: str = route.key
        ) -> None:
            if not ok:
                status = response.status_code
                problems.append(f"{key} ({method} {url} as {who}): got {status}")

        for method in ("get", "post"):
            send = getattr(anonymous, method)
            send_other = getattr(other, method)
            if sample.kind in (Kind.PROVIDER, Kind.STAFF):
                response = send(url)
                check(
                    response.status_code == 302 and response["Location"].startswith(login_path),
                    "anonymous",
                    method,
                    response,
                )
                response = send_other(url)
                check(response.status_code == 404, "another provider's user", method, response)
            elif sample.kind is Kind.SELF:
                response = send(url)
                check(
                    response.status_code == 302 and login_path in response["Location"],
                    "anonymous",
                    method,
                    response,
                )
                response = send_other(url, follow=True)
                check(
                    response.status_code < 500 and not _leaks(_text(response), victim),
                    "another provider's user",
                    method,
                    response,
                )
            elif sample.kind is Kind.ADMIN:
                for who, client in (("anonymous", anonymous), ("another provider's user", other)):
                    response = getattr(client, method)(url)
                    check(
                        response.status_code == 302 and "/admin/login/" in response["Location"],
                        who,
                        method,
                        response,
                    )
            elif sample.kind is Kind.PUBLIC:
                for who, client in (("anonymous", anonymous), ("another provider's user", other)):
                    response = getattr(client, method)(url, follow=True)
                    check(
                        response.status_code < 500 and not _leaks(_text(response), victim),
                        who,
                        method,
                        response,
                    )
            elif sample.kind is Kind.API_PUBLIC:
                response = send(url)
                check(
                    response.status_code < 500 and not _leaks(_text(response), victim),
                    "anyone",
                    method,
                    response,
                )
        if sample.kind in (Kind.API_OBJECT, Kind.API_SCOPED, Kind.API_COLLECTION):
            _walk_api(route, url, sample.kind, bearer, victim, problems)
    after = victim_snapshot(victim)
    if after != before:
        changed = sorted(
            key for key in after.keys() | before.keys() if after.get(key) != before.get(key)
        )
        problems.append(f"the walk changed the victim's data: {changed}")
    return problems
