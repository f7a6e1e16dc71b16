"""Tenancy is a rule: every route is walked as an outsider and must not leak."""

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from pars.accounts.models import Role, User
from pars.accounts.services import create_api_key
from pars.intake.models import Upload
from pars.learners.models import LearnerCompletion, Recipient, WebhookEndpoint
from pars.providers.models import ContactRole, Provider
from pars.testing import (
    make_activity,
    make_contact,
    make_decision,
    make_member,
    make_provider,
    register,
)
from tests.support.route_walker import Kind, Sample, Victim, walk_as_outsider
from tests.support.tenancy_samples_accreditation import ACCREDITATION_SAMPLES
from tests.support.tenancy_samples_activities import ACTIVITY_SAMPLES
from tests.support.tenancy_samples_datareports import DATAREPORTS_SAMPLES
from tests.support.tenancy_samples_learners import LEARNER_SAMPLES
from tests.support.tenancy_samples_learners_api import LEARNER_API_SAMPLES
from tests.support.tenancy_samples_notifications import NOTIFICATION_SAMPLES
from tests.support.tenancy_samples_reporting import REPORTING_SAMPLES
from tests.support.tenancy_samples_reporting_api import REPORTING_API_SAMPLES
from tests.support.tenancy_samples_research import RESEARCH_SAMPLES
from tests.support.tenancy_samples_review import REVIEW_SAMPLES
from tests.support.tenancy_samples_uploads import UPLOAD_SAMPLES

# The real URLs plus a view that skips the tenancy accessor.
PLANTED_URLS = "tests.support.planted_urls"


def _provider(v: Victim) -> dict[str, str]:
    return {"provider_id": v.provider.provider_id}


def _uid_token(v: Victim) -> dict[str, str]:
    return {
        "uidb64": urlsafe_base64_encode(force_bytes(v.user.pk)),
        "token": default_token_generator.make_token(v.user),
    }


SAMPLES: dict[str, Sample] = {
    "home": Sample(Kind.SELF),
    "accounts:login": Sample(Kind.PUBLIC),
    "accounts:logout": Sample(Kind.PUBLIC),
    "accounts:password_reset": Sample(Kind.PUBLIC),
    "accounts:password_reset_done": Sample(Kind.PUBLIC),
    "accounts:password_reset_confirm": Sample(Kind.PUBLIC, _uid_token),
    "accounts:set_password": Sample(Kind.PUBLIC, _uid_token),
    "accounts:password_reset_complete": Sample(Kind.PUBLIC),
    "accounts:password_change": Sample(Kind.SELF),
    "accounts:password_change_done": Sample(Kind.SELF),
    "accounts:choose_provider": Sample(Kind.SELF),
    "accounts:member_list": Sample(Kind.PROVIDER, _provider),
    "accounts:member_invite": Sample(Kind.PROVIDER, _provider),
    "accounts:member_role": Sample(
        Kind.PROVIDER, lambda v: {**_provider(v), "pk": v.membership.pk}
    ),
    "accounts:member_remove": Sample(
        Kind.PROVIDER, lambda v: {**_provider(v), "pk": v.membership.pk}
    ),
    "accounts:member_resend": Sample(
        Kind.PROVIDER, lambda v: {**_provider(v), "pk": v.membership.pk}
    ),
    "accounts:api_keys": Sample(Kind.PROVIDER, _provider),
    "accounts:member_mfa_policy": Sample(Kind.PROVIDER, _provider),
    "accounts:mfa_settings": Sample(Kind.SELF),
    "accounts:mfa_verify": Sample(Kind.SELF),
    "accounts:mfa_enrol": Sample(Kind.SELF),
    "accounts:mfa_recovery": Sample(Kind.SELF),
    "accounts:mfa_disable": Sample(Kind.SELF),
    "accounts:staff_mfa_reset": Sample(Kind.STAFF, lambda v: {"pk": v.user.pk}),
    "accounts:api_key_revoke": Sample(
        Kind.PROVIDER, lambda v: {**_provider(v), "pk": v.api_key.pk}
    ),
    "reporting:dashboard": Sample(Kind.PROVIDER, _provider),
    "reporting:guide": Sample(Kind.PUBLIC),
    "providers:profile": Sample(Kind.PROVIDER, _provider),
    "providers:profile_edit": Sample(Kind.PROVIDER, _provider),
    "providers:contact_new": Sample(Kind.PROVIDER, _provider),
    "providers:contact_edit": Sample(Kind.PROVIDER, lambda v: {**_provider(v), "pk": v.contact.pk}),
    "providers:contact_delete": Sample(
        Kind.PROVIDER, lambda v: {**_provider(v), "pk": v.contact.pk}
    ),
    "providers:decisions": Sample(Kind.PROVIDER, _provider),
    "providers:staff_list": Sample(Kind.STAFF),
    "providers:staff_detail": Sample(Kind.STAFF, _provider),
    "providers:staff_decision_add": Sample(Kind.STAFF, _provider),
    "activities:list": Sample(Kind.PROVIDER, _provider),
    "activities:detail": Sample(Kind.PROVIDER, lambda v: {**_provider(v), "pk": v.activity.pk}),
    "api-v1:api-root": Sample(Kind.API_PUBLIC),
    "api-v1:openapi-json": Sample(Kind.API_PUBLIC),
    "api-v1:openapi-view": Sample(Kind.API_PUBLIC),
    "api-v1:changelog": Sample(Kind.API_PUBLIC),
    "api-v1:provider": Sample(Kind.API_SCOPED),
    "api-v1:activities": Sample(Kind.API_SCOPED),
    "api-v1:activity": Sample(
        Kind.API_OBJECT, lambda v: {"provider_activity_id": v.activity.provider_activity_id}
    ),
    "admin:login": Sample(Kind.PUBLIC),
    "admin:logout": Sample(Kind.PUBLIC),
    **ACTIVITY_SAMPLES,
    **UPLOAD_SAMPLES,
    **REPORTING_SAMPLES,
    **REPORTING_API_SAMPLES,
    **LEARNER_SAMPLES,
    **LEARNER_API_SAMPLES,
    **ACCREDITATION_SAMPLES,
    **REVIEW_SAMPLES,
    **DATAREPORTS_SAMPLES,
    **RESEARCH_SAMPLES,
    **NOTIFICATION_SAMPLES,
}


@pytest.fixture
def victim(db: None) -> Victim:
    return plant_victim(make_provider(name="Victim Health Sciences", provider_id="0000042"))


def plant_victim(provider: Provider) -> Victim:
    """One row of every provider-owned kind at `provider` (tests/test_sandbox_tenancy.py
    plants them in a sandbox too)."""
    user = make_member(provider, Role.ADMIN, email="victim-admin@victim.example")
    marker = "VICTIM-SECRET-7f3a"
    api_key, _ = create_api_key(provider=provider, name="victim key")
    upload = Upload.objects.create(
        provider=provider,
        file_format="tsv",
        original_name=f"{marker}.txt",
        file="uploads/victim.txt",
        size=1,
        sha256="0" * 64,
    )
    activity = make_activity(provider, provider_activity_id=marker, title=f"{marker} course")
    # One row of each learner kind too: a registration, a completion, a webhook endpoint.
    register(activity, "ABIM")
    LearnerCompletion.objects.create(
        provider=provider,
        activity=activity,
        recipient=Recipient.objects.get(code="ABIM"),
        learner_key="id:654321",
        first_name=marker,
        last_name=marker,
        birth_month=1,
        birth_day=2,
        learner_id="654321",
        completion_date=activity.start_date,
    )
    WebhookEndpoint.objects.create(
        provider=provider, url="https://victim.example/hook", secret=marker
    )
    return Victim(
        provider=provider,
        user=user,
        membership=user.memberships.get(),
        activity=activity,
        contact=make_contact(provider, role=ContactRole.PRIMARY, name=marker),
        decision=make_decision(provider, notes=marker),
        api_key=api_key,
        upload=upload,
        secret_marker=marker,
    )


@pytest.fixture
def outsider(db: None) -> tuple[User, str]:
    provider = make_provider(name="Outsider Institute", provider_id="0000666")
    user = make_member(provider, Role.ADMIN, email="mallory@outsider.example")
    make_activity(provider, provider_activity_id="OUT-1")
    _, secret = create_api_key(provider=provider)
    return user, secret


def test_every_route_refuses_other_providers_and_anonymous_users(
    victim: Victim, outsider: tuple[User, str]
) -> None:
    user, api_key = outsider
    assert walk_as_outsider(victim, user, api_key, SAMPLES) == []


@pytest.mark.urls(PLANTED_URLS)
def test_the_walk_catches_a_view_that_skips_the_accessor(
    victim: Victim, outsider: tuple[User, str]
) -> None:
    user, api_key = outsider
    samples = {
        **SAMPLES,
        "leaky_activity": Sample(Kind.PROVIDER, SAMPLES["activities:detail"].kwargs),
    }
    problems = walk_as_outsider(victim, user, api_key, samples, urlconf=PLANTED_URLS)
    assert problems
    assert all(problem.startswith("leaky_activity ") for problem in problems)
    assert any("another provider's user): got 200" in problem for problem in problems)


@pytest.mark.urls(PLANTED_URLS)
def test_the_walk_fails_on_a_route_it_has_no_sample_for(
    victim: Victim, outsider: tuple[User, str]
) -> None:
    user, api_key = outsider
    problems = walk_as_outsider(victim, user, api_key, SAMPLES, urlconf=PLANTED_URLS)
    assert "leaky_activity: no sample; add one to the route walker" in problems


def test_provider_owned_models_all_name_their_owner_provider() -> None:
    # ProviderAccess.records() filters on a field called "provider": every model that
    # belongs to a provider must use that name, or the accessor could not scope it.
    from django.apps import apps

    for model in apps.get_models():
        if model is Provider:
            continue
        for field in model._meta.get_fields():
            if getattr(field, "related_model", None) is Provider and field.many_to_one:
                assert field.name == "provider", f"{model.__name__}.{field.name}"


def test_state_accreditor_staff_reach_no_provider_of_another_accreditor(
    victim: Victim, outsider: tuple[User, str]
) -> None:
    """State-accreditor staff see only their society's providers, on every route."""
    from django.test import Client
    from django.urls import reverse

    from pars.testing import make_accreditor, make_user
    from tests.conftest import log_in_verified
    from tests.support.route_walker import _leaks, _text, all_routes

    state_staff = make_user(
        "staff@other-society.example", is_staff=True, staff_accreditor=make_accreditor("TN")
    )
    client = Client()
    log_in_verified(client, state_staff)  # staff have passed two-factor authentication
    problems = []
    checked = 0
    for route in all_routes():
        sample = SAMPLES.get(route.key)
        if sample is None or sample.kind not in (Kind.PROVIDER, Kind.STAFF):
            continue
        kwargs = sample.kwargs(victim)
        url = reverse(route.key, kwargs=kwargs)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            checked += 1
            if "provider_id" in kwargs:
                if response.status_code != 404:
                    problems.append(f"{route.key} {method}: {response.status_code}")
            elif response.status_code >= 500 or _leaks(_text(response), victim):
                problems.append(f"{route.key} {method}: {response.status_code} or leaked")
    assert checked > 40
    assert problems == []


def test_a_read_only_member_changes_nothing_through_any_route(
    victim: Victim, outsider: tuple[User, str]
) -> None:
    """Every POST a read-only member can send is refused or harmless (the rows stay)."""
    from django.test import Client
    from django.urls import reverse

    from tests.support.route_walker import all_routes, victim_snapshot

    reader = make_member(victim.provider, Role.READONLY, email="rita@victim.example")
    client = Client()
    client.force_login(reader)
    before = victim_snapshot(victim)
    statuses = {}
    for route in all_routes():
        sample = SAMPLES.get(route.key)
        if sample is None or sample.kind is not Kind.PROVIDER:
            continue
        url = reverse(route.key, kwargs=sample.kwargs(victim))
        statuses[route.key] = client.post(url).status_code
    assert all(status < 500 for status in statuses.values()), statuses
    # The action routes that would change rows on a bare POST are refused outright.
    for name in (
        "accounts:member_remove",
        "accounts:member_role",
        "accounts:api_key_revoke",
        "providers:contact_delete",
        "activities:delete",
    ):
        assert statuses[name] == 403, name
    assert victim_snapshot(victim) == before
