"""Route samples for the learner pages (see route_walker.py).

The completion and webhook routes name a row of the victim's (its first one; without
one, a row that does not exist). tests/learners/test_pages_tenancy.py makes sure the
victim has them (:func:`add_learner_rows`) and walks every route again.
"""

from typing import Any

from tests.support.route_walker import Kind, Sample, Victim


def add_learner_rows(victim: Victim) -> None:
    """A registration, a completion and a webhook endpoint of the victim's (if it has none)."""
    from pars.accounts.access import get_provider_access
    from pars.learners.models import ActivityRegistration, LearnerCompletion, WebhookEndpoint
    from pars.learners.services import submit_completion
    from pars.testing import learner_row, register

    if not ActivityRegistration.objects.filter(activity=victim.activity).exists():
        register(victim.activity, "ABIM")
    if not LearnerCompletion.objects.filter(provider=victim.provider).exists():
        access = get_provider_access(victim.user, victim.provider.provider_id)
        submit_completion(
            access,
            learner_row(victim.activity, first_name=victim.secret_marker),
            channel="web",
        )
    if not WebhookEndpoint.objects.filter(provider=victim.provider).exists():
        WebhookEndpoint.objects.create(
            provider=victim.provider,
            url=f"https://victim.example/{victim.secret_marker}",
            secret="victim-webhook-secret",
        )


def _first_pk(victim: Victim, model_name: str) -> int:
    from django.apps import apps

    model = apps.get_model("learners", model_name)
    row = model._default_manager.filter(provider=victim.provider).order_by("pk").first()
    return row.pk if row is not None else 0


def _provider(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id}


def _activity(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "pk": v.activity.pk}


def _registration(v: Victim) -> dict[str, Any]:
    return {**_activity(v), "code": "ABIM"}


def _completion(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "pk": _first_pk(v, "LearnerCompletion")}


def _provider_year(v: Victim) -> dict[str, Any]:
    from tests.support.tenancy_samples_reporting import _provider_year as provider_year

    return provider_year(v)  # the year exists, so a 404 is the tenancy rule's


def _endpoint(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "pk": _first_pk(v, "WebhookEndpoint")}


LEARNER_SAMPLES: dict[str, Sample] = {
    "learners:registration_new": Sample(Kind.PROVIDER, _activity),
    "learners:registration": Sample(Kind.PROVIDER, _registration),
    "learners:registration_delete": Sample(Kind.PROVIDER, _registration),
    "learners:rules": Sample(Kind.PUBLIC),
    "learners:list": Sample(Kind.PROVIDER, _provider),
    "learners:export_csv": Sample(Kind.PROVIDER, _provider),
    "learners:export_xlsx": Sample(Kind.PROVIDER, _provider),
    "learners:new": Sample(Kind.PROVIDER, _provider),
    "learners:detail": Sample(Kind.PROVIDER, _completion),
    "learners:correct": Sample(Kind.PROVIDER, _completion),
    "learners:resubmit": Sample(Kind.PROVIDER, _completion),
    "learners:withdraw": Sample(Kind.PROVIDER, _completion),
    "learners:uploads": Sample(Kind.PROVIDER, _provider),
    "learners:template": Sample(Kind.PROVIDER, _provider),
    "learners:accme_template": Sample(Kind.PROVIDER, _provider),
    "learners:prevalidate": Sample(Kind.PROVIDER, _provider),
    "learners:webhooks": Sample(Kind.PROVIDER, _provider),
    "learners:webhook_deactivate": Sample(Kind.PROVIDER, _endpoint),
    "learners:webhook_delete": Sample(Kind.PROVIDER, _endpoint),
    "learners:webhook_test": Sample(Kind.PROVIDER, _endpoint),
    "learners:staff_list": Sample(Kind.STAFF, _provider),
    "learners:staff_export_csv": Sample(Kind.STAFF, _provider),
    "learners:staff_export_xlsx": Sample(Kind.STAFF, _provider),
    "learners:year_checks": Sample(Kind.PROVIDER, _provider_year),
}
