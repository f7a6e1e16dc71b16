"""Any activity set downloads as XML (web and API) and re-imports to the same records."""

import datetime
import io
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_api_access
from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.activities.parsers.xml import read_xml
from pars.activities.services import save_activity
from pars.activities.validation import validate_activity
from pars.providers.models import Provider
from tests.activities.test_validation import course

TODAY = datetime.date(2026, 11, 27)


def _save(provider: Provider, **overrides: object) -> None:
    clean, errors = validate_activity(course(**overrides), today=TODAY)
    assert clean is not None, errors
    save_activity(get_api_access(provider), clean, channel="api")


def _records(content: bytes) -> dict[str, tuple[object, object]]:
    records: dict[str, tuple[object, object]] = {}
    for row in read_xml(io.BytesIO(content)):
        clean, errors = validate_activity(row.data, row=row.row, today=TODAY)
        assert clean is not None, errors
        records[clean.provider_activity_id] = (clean.values, clean.supporters)
    return records


def _expected(*overrides: dict[str, Any]) -> dict[str, tuple[object, object]]:
    records: dict[str, tuple[object, object]] = {}
    for override in overrides:
        clean, _ = validate_activity(course(**override), today=TODAY)
        assert clean is not None
        records[clean.provider_activity_id] = (clean.values, clean.supporters)
    return records


def test_the_filtered_list_downloads_as_xml_that_reads_back_the_same(
    provider: Provider, reader: User, client_as: Callable[[User], Client]
) -> None:
    first = {"provider_activity_id": "A-1"}
    second = {
        "provider_activity_id": "A-2",
        "title": "Sepsis",
        "supporters": [],
        "commercial_support_received": "No",
    }
    _save(provider, **first)
    _save(provider, **second)
    _save(provider, provider_activity_id="OLD-1", start_date="05/01/2025", end_date="05/02/2025")
    response = client_as(reader).get(
        reverse("activities:export_xml", args=[provider.provider_id]), {"year": "2026"}
    )
    assert response["Content-Disposition"].endswith('activities-0001234-2026.xml"')
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert _records(content) == _expected(first, second)


def test_the_api_downloads_the_keys_activities_only(
    provider: Provider, other_provider: Provider
) -> None:
    _save(provider, provider_activity_id="A-1")
    _save(other_provider, provider_activity_id="THEIRS-1")
    _, secret = create_api_key(provider=provider)
    response = Client().get("/api/v1/exports/activities.xml", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    records = _records(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert list(records) == ["A-1"]
    assert Activity.objects.count() == 2
