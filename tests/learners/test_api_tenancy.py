"""The learner API as another provider's key, PATCH included (the route walker of
tests/test_tenancy.py, whose victim has a registration, a completion and a webhook
endpoint, sends GET, POST, PUT and DELETE only)."""

from typing import Any

from django.test import Client
from django.urls import reverse

from pars.accounts.models import User
from pars.learners.models import LearnerCompletion
from tests.support.route_walker import Kind, Victim, _leaks, _text, victim_snapshot
from tests.support.tenancy_samples_learners_api import LEARNER_API_SAMPLES
from tests.test_tenancy import SAMPLES, outsider, victim  # noqa: F401  (fixtures)


def test_patch_and_every_other_method_from_another_key_change_nothing(
    victim: Victim,  # noqa: F811
    outsider: tuple[User, str],  # noqa: F811
) -> None:
    assert LearnerCompletion.objects.filter(provider=victim.provider).exists()
    _, api_key = outsider
    other = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    anonymous = Client()
    before = victim_snapshot(victim)
    body: Any = '{"cme_credits": 1, "first_name": "Mallory"}'
    for name, sample in LEARNER_API_SAMPLES.items():
        url = reverse(name, kwargs=sample.kwargs(victim))
        for method in ("get", "post", "put", "patch", "delete"):
            if method == "get":
                response = other.get(url)
            else:
                response = getattr(other, method)(url, body, content_type="application/json")
            status = response.status_code
            assert status < 500, (name, method, status)
            assert not _leaks(_text(response), victim), (name, method)
            if sample.kind is Kind.API_OBJECT:
                assert status in (404, 405), (name, method, status)
            if sample.kind is not Kind.API_PUBLIC:
                status = getattr(anonymous, method)(url).status_code
                assert status in (401, 405), (name, method, "anonymous", status)
    assert victim_snapshot(victim) == before
