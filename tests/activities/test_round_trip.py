"""Every field GET /api/v1/activities/{id} answers is taken by POST/PUT, or marked readOnly
in the OpenAPI document and refused when sent with another value than the stored one.

The golden data (tests/activities/data: the PARS template, the legacy templates C and D,
legacy layout 43, MEMS XML) goes in through the real upload job into one provider; each
record read back goes through GET -> PUT into a second provider, and the two are compared
field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pars.accounts.access import get_api_access
from pars.accounts.services import create_api_key
from pars.activities.api_schemas import READ_ONLY_FIELDS
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.testing import make_activity
from tests.activities.test_activity_api import Api, course
from tests.support.openapi import inlined

DATA = Path(__file__).parent / "data"
GOLDEN_FILES = [
    "golden_current.tsv",
    "template_c.txt",
    "template_d.txt",
    "legacy_43.txt",
    "sample_mems.xml",
]


def _upload(provider: Provider, name: str) -> Upload:
    access = get_api_access(provider, create_api_key(provider=provider)[0])
    stored = store_upload(
        access, SimpleUploadedFile(name, (DATA / name).read_bytes()), via_api=True
    )
    return Upload.objects.get(pk=stored.pk)


@pytest.fixture
def golden(settings: Any, tmp_path: Path, provider: Provider) -> list[str]:
    """The golden files through the upload job into `provider`: their activities' IDs."""
    settings.MEDIA_ROOT = tmp_path
    for deleted in ("CHI-2024-OLD", "GOLD-099"):  # the files' deletes find them
        make_activity(provider, provider_activity_id=deleted)
    for name in GOLDEN_FILES:
        upload = _upload(provider, name)
        assert upload.status == UploadStatus.SUCCEEDED, (
            name,
            upload.message,
            [(e.row, e.field, e.rule) for e in upload.errors.all()],
        )
    ids = sorted(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", flat=True)
    )
    assert len(ids) >= 10
    # Legacy codes are among them: the field the API used to drop.
    assert Activity.objects.filter(provider=provider).exclude(legacy_activity_type="").exists()
    return ids


def writable(record: dict[str, Any]) -> dict[str, Any]:
    """A record as GET answers it, less what the OpenAPI document marks readOnly."""
    return {name: value for name, value in record.items() if name not in READ_ONLY_FIELDS}


def test_every_golden_record_goes_through_get_and_put_into_another_provider_unchanged(
    golden: list[str], provider: Provider, other_provider: Provider
) -> None:
    source, target = Api(provider), Api(other_provider)
    for activity_id in golden:
        path = quote(activity_id, safe="")
        record = source.get("/" + path).json()
        put = target.put(path, writable(record))
        assert put.status_code == 201, (activity_id, put.content)
        copied = target.get("/" + path).json()
        assert set(copied) == set(record)
        for name in record:
            if name not in READ_ONLY_FIELDS:
                assert copied[name] == record[name], (activity_id, name)
        assert copied["last_channel"] == "api"
    originals = Activity.objects.filter(provider=provider)
    copies = Activity.objects.filter(provider=other_provider)
    assert copies.count() == originals.count()
    # The same rows in the database too (the XML export writes the legacy code back).
    compared = ("provider_activity_id", "legacy_activity_type", "activity_format", "status")
    assert sorted(copies.values_list(*compared)) == sorted(originals.values_list(*compared))


def test_a_record_sent_back_to_its_own_provider_is_unchanged(
    golden: list[str], provider: Provider
) -> None:
    api = Api(provider)
    for activity_id in golden:
        path = quote(activity_id, safe="")
        record = api.get("/" + path).json()
        again = api.put(path, record)  # with its read-only fields, as stored
        assert again.status_code == 200, (activity_id, again.content)
        assert again.json() == record


def test_every_field_of_the_answer_is_input_or_read_only_in_openapi(db: None) -> None:
    spec = inlined(Client().get("/api/v1/openapi.json").json())
    answer = spec["components"]["schemas"]["Activity"]["properties"]
    paths = spec["paths"]
    for path, method in (
        ("/api/v1/activities/{provider_activity_id}", "put"),
        ("/api/v1/activities", "post"),
    ):
        body = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        for name in answer:
            read_only = answer[name].get("readOnly", False)
            assert read_only == (name in READ_ONLY_FIELDS), name
            assert name in body["properties"], name
            assert body["properties"][name].get("readOnly", False) == read_only, name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("created_at", "2020-01-01T00:00:00Z"),
        ("updated_at", "2020-01-01T00:00:00Z"),
        ("last_channel", "xml"),
    ],
)
def test_a_read_only_field_with_another_value_is_refused(
    provider: Provider, name: str, value: str
) -> None:
    api = Api(provider)
    response = api.put("R-1", course(**{name: value}))
    assert response.status_code == 400, response.content
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        (name, "api.field.read_only")
    ]
    assert not Activity.objects.exists()
    record = api.put("R-1", course()).json()
    refused = api.put("R-1", {**writable(record), name: value})
    assert [e["rule"] for e in refused.json()["errors"]] == ["api.field.read_only"]
    # The stored value itself may be sent back.
    assert api.put("R-1", {**writable(record), name: record[name]}).status_code == 200


def test_the_legacy_activity_type_is_taken_with_its_format(provider: Provider) -> None:
    api = Api(provider)
    body = course(activity_format="course", legacy_activity_type="IL")
    response = api.put("L-1", body)
    assert response.status_code == 201, response.content
    saved = response.json()
    assert (saved["activity_format"], saved["legacy_activity_type"]) == ("course", "IL")
    # Delivery sent is kept; the legacy code's delivery only fills a blank one.
    assert saved["delivery_methods"] == ["in_person"]
    assert Activity.objects.get().legacy_activity_type == "IL"
    # Left out or empty: no legacy code, as before.
    assert api.put("L-1", course(legacy_activity_type="")).json()["legacy_activity_type"] == ""
    assert api.put("L-2", course(activity_format="IEM")).json()["legacy_activity_type"] == "IEM"


def test_a_legacy_activity_type_of_another_format_is_refused(provider: Provider) -> None:
    make_activity(provider, provider_activity_id="L-1")
    response = Api(provider).put("L-1", course(activity_format="rss", legacy_activity_type="C"))
    assert response.status_code == 400
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        ("legacy_activity_type", "api.legacy_activity_type.mismatch")
    ]
    unknown = Api(provider).put("L-1", course(legacy_activity_type="ZZ"))
    assert unknown.status_code == 400
    assert [e["field"] for e in unknown.json()["errors"]] == ["legacy_activity_type"]
