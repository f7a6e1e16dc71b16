"""The sandbox looks different from live data: its page and the API keys page say so
unmistakably, and its data (an upload made with a test key, its activities) appears on
no page the live provider's users or staff read."""

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.models import Role, User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.activities.sandbox import create_sandbox
from pars.intake.models import Upload
from pars.providers.models import Provider
from pars.testing import make_activity, make_member, make_provider

BANNER = "Sandbox — test data, never reported"
FILE = (
    b"Provider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date\r\n"
    b"SBX-FILE-1\tSandbox Rounds\tCourse\t03/05/2026\t03/05/2026\r\n"
)


@pytest.fixture
def live(db: None) -> Provider:
    return make_provider(name="Live Clinic", provider_id="0000123")


def test_the_sandbox_page_and_the_api_keys_page_show_the_sandbox(
    live: Provider, client_as: Any
) -> None:
    client = client_as(make_member(live, Role.ADMIN))
    sandbox_url = reverse("activities:sandbox", kwargs={"provider_id": live.provider_id})
    keys_url = reverse("accounts:api_keys", kwargs={"provider_id": live.provider_id})
    assert BANNER in client.get(sandbox_url).text
    before = client.get(keys_url).text
    assert "Live</span> keys: they change your real data" in before
    assert BANNER not in before  # no sandbox yet
    create_sandbox(live)
    after = client.get(keys_url).text
    assert BANNER in after
    assert 'data-testid="sandbox-keys-note"' in after


def test_an_upload_made_with_a_test_key_is_on_no_live_page(
    live: Provider, client_as: Any, staff: User, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    sandbox = create_sandbox(live)
    _, test_key = create_api_key(provider=sandbox)
    make_activity(sandbox, provider_activity_id="SBX-ONLY")
    answer = Client().post(
        reverse("api-v1:upload_create"),
        {"file": _file()},
        HTTP_AUTHORIZATION=f"Bearer {test_key}",
    )
    assert answer.status_code == 202, answer.content
    assert answer["X-PARS-Environment"] == "sandbox"
    upload = Upload.objects.get()
    assert upload.provider == sandbox

    admin = client_as(make_member(live, Role.ADMIN))
    listing = reverse("uploads:list", kwargs={"provider_id": live.provider_id})
    assert "activities.tsv" not in admin.get(listing).text
    detail = reverse("uploads:detail", kwargs={"provider_id": live.provider_id, "pk": upload.pk})
    assert admin.get(detail).status_code == 404
    for user_client in (admin, client_as(staff)):
        in_sandbox = reverse(
            "uploads:detail", kwargs={"provider_id": sandbox.provider_id, "pk": upload.pk}
        )
        assert user_client.get(in_sandbox).status_code == 404

    # Staff's administration lists leave the sandbox and its activities out.
    operator = client_as(staff)
    activities = operator.get(reverse("admin:activities_activity_changelist"))
    assert Activity.objects.filter(provider=sandbox).exists()
    assert [a.provider for a in activities.context["cl"].result_list] == []
    providers = operator.get(reverse("admin:providers_provider_changelist"))
    assert list(providers.context["cl"].result_list) == [live]


def _file() -> Any:
    return SimpleUploadedFile("activities.tsv", FILE, content_type="text/tab-separated-values")
