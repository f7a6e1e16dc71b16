"""Route samples for the learner API (see route_walker.py).

Registrations are reached through the victim's activity, so another key gets 404 for them
in every walk. Completions and webhook endpoints are named by their ID: the samples use the
victim's own row when it has one and otherwise an ID no row has. The walk in
tests/test_tenancy.py runs with a victim that has neither (its fixture makes no learner
rows, and rows made while the URLs are filled would count as a change to the victim);
tests/learners/test_api_tenancy.py runs the same walk with a victim that has a
registration, a completion and a webhook endpoint, and also sends PATCH, which the
walker does not.
"""

from typing import Any

from django.db.models import Max, Model

from pars.learners.models import LearnerCompletion, WebhookEndpoint
from tests.support.route_walker import Kind, Sample, Victim


def _victims(model: type[Model], v: Victim) -> int:
    pk = model._default_manager.filter(provider=v.provider).values_list("pk", flat=True).first()
    if pk is not None:
        return int(pk)
    return (model._default_manager.aggregate(top=Max("pk"))["top"] or 0) + 1_000


def _completion(v: Victim) -> dict[str, Any]:
    return {"completion_id": _victims(LearnerCompletion, v)}


def _webhook(v: Victim) -> dict[str, Any]:
    return {"endpoint_id": _victims(WebhookEndpoint, v)}


def _activity(v: Victim) -> dict[str, Any]:
    return {"provider_activity_id": v.activity.provider_activity_id}


def _year(v: Victim) -> dict[str, Any]:
    from tests.support.tenancy_samples_reporting_api import _year as year

    return year(v)


def _registration(v: Victim) -> dict[str, Any]:
    return {**_activity(v), "recipient": "ABIM"}


LEARNER_API_SAMPLES: dict[str, Sample] = {
    # The same for every key; no provider data.
    "api-v1:recipients": Sample(Kind.API_SCOPED),
    "api-v1:learner_rules": Sample(Kind.API_PUBLIC),
    # Through the victim's activity: 404 for another key (its PUT finds no such activity).
    "api-v1:activity_registrations": Sample(Kind.API_OBJECT, _activity),
    "api-v1:activity_registration_detail": Sample(Kind.API_OBJECT, _registration),
    "api-v1:activity_registration": Sample(Kind.API_OBJECT, _registration),
    "api-v1:activity_registration_delete": Sample(Kind.API_OBJECT, _registration),
    # Lists that also create: another key lists and writes its own records only.
    "api-v1:learner_completions": Sample(Kind.API_COLLECTION),
    "api-v1:learner_completions_create": Sample(Kind.API_COLLECTION),
    "api-v1:learner_completions_upload": Sample(Kind.API_COLLECTION),
    "api-v1:webhooks": Sample(Kind.API_COLLECTION),
    "api-v1:webhooks_create": Sample(Kind.API_COLLECTION),
    # Reads scoped by the key (POST bodies; GET is not allowed).
    "api-v1:learner_completions_status": Sample(Kind.API_SCOPED),
    "api-v1:learner_matches": Sample(Kind.API_SCOPED),
    # One record by ID.
    "api-v1:learner_completion": Sample(Kind.API_OBJECT, _completion),
    "api-v1:learner_completion_correct": Sample(Kind.API_OBJECT, _completion),
    "api-v1:learner_completion_delete": Sample(Kind.API_OBJECT, _completion),
    "api-v1:learner_completion_resubmit": Sample(Kind.API_OBJECT, _completion),
    "api-v1:learner_completion_withdraw": Sample(Kind.API_OBJECT, _completion),
    "api-v1:webhook": Sample(Kind.API_OBJECT, _webhook),
    "api-v1:webhook_delete": Sample(Kind.API_OBJECT, _webhook),
    "api-v1:webhook_test": Sample(Kind.API_OBJECT, _webhook),
    # Named by a year, not a row: another key reads its own (empty) findings.
    "api-v1:annual_report_checks": Sample(Kind.API_SCOPED, _year),
}
