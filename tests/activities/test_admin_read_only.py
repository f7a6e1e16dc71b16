"""The Django admin shows activities and delivery batches but cannot change or delete
them: the writer (validation, closed years, learner records, audit) is the only way."""

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from pars.accounts.models import User
from pars.activities.models import Activity
from pars.providers.models import Provider
from pars.testing import make_activity


def test_staff_cannot_change_or_delete_an_activity_in_the_admin(
    provider: Provider, staff: User, client_as: Callable[[User], Client]
) -> None:
    activity = make_activity(provider, provider_activity_id="A-1", title="Grand rounds")
    client = client_as(staff)

    listing = client.get(reverse("admin:activities_activity_changelist"))
    assert listing.status_code == 200
    assert "Grand rounds" in listing.text
    assert "delete_selected" not in listing.text  # no bulk delete action

    delete = client.post(
        reverse("admin:activities_activity_delete", args=[activity.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    change = client.post(
        reverse("admin:activities_activity_change", args=[activity.pk]), {"title": "Renamed"}
    )
    assert change.status_code == 403
    assert client.get(reverse("admin:activities_activity_add")).status_code == 403
    assert Activity.objects.get(pk=activity.pk).title == "Grand rounds"


def test_delivery_batches_cannot_be_deleted_in_the_admin(
    staff: User, client_as: Callable[[User], Client]
) -> None:
    from pars.learners.models import DeliveryBatch, Recipient

    batch = DeliveryBatch.objects.create(recipient=Recipient.objects.get(code="ABIM"))
    client = client_as(staff)
    response = client.post(
        reverse("admin:learners_deliverybatch_delete", args=[batch.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert DeliveryBatch.objects.filter(pk=batch.pk).exists()
