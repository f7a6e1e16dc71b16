"""One bad record, five channels, the same field-level errors (one validator)."""

import csv
import datetime
import io
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.parsers.layouts import CURRENT
from pars.activities.validation import validate_activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from tests.activities.test_activity_api import Api
from tests.activities.test_activity_api import course as json_course
from tests.activities.test_activity_form import course_form, supporter_rows

Errors = set[tuple[str, str, str]]

# The bad record, as text: an unknown format, an end before the start, a negative
# learner count and a supporter without a name.
BAD: dict[str, Any] = {
    "action": "",
    "status": "",
    "provider_activity_id": "BAD-1",
    "title": "Cardiology Update",
    "activity_format": "XYZ",
    "delivery_methods": "In-Person",
    "start_date": "2026-03-02",
    "end_date": "2026-03-01",
    "description": "Heart failure and arrhythmia, for internists.",
    "city": "Chicago",
    "state": "IL",
    "country": "USA",
    "providership": "Direct",
    "ama_credits": "6.5",
    "physician_learners": "-3",
    "other_learners": "35",
    "commercial_support_received": "Yes",
    "listed_on_passport": "No",
}
BAD_SUPPORTER = {"source": "", "monetary_amount": "2500", "in_kind": "", "in_kind_description": ""}
EXPECTED_RULES = {
    "activity.activity_format.not_allowed",
    "activity.end_date.before_start",
    "activity.physician_learners.invalid",
    "activity.supporters.source.required",
}


def _upload_errors(provider: Provider, editor: User, name: str, content: bytes) -> Errors:
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile(name, content))
    upload = Upload.objects.get(pk=upload.pk)
    assert upload.status == UploadStatus.REJECTED, upload.message
    assert {error.row for error in upload.errors.all()} == {2}
    return {(e.field, e.rule, e.message) for e in upload.errors.all()}


def _file_cells() -> list[Any]:
    cells = [BAD.get(column.target, "") for column in CURRENT.columns]
    return cells + [BAD_SUPPORTER[column.target] for column in CURRENT.supporter_block]


def via_web(provider: Provider, editor: User, client_as: Callable[[User], Client]) -> Errors:
    form = course_form(
        provider_activity_id="BAD-1",
        activity_format="XYZ",
        start_date="2026-03-02",
        end_date="2026-03-01",
        physician_learners="-3",
        supporters=supporter_rows({"monetary_amount": "2500"}),
    )
    response = client_as(editor).post(reverse("activities:new", args=[provider.provider_id]), form)
    return {(i.error.field, i.error.rule, i.error.message) for i in response.context["summary"]}


def via_json(provider: Provider, editor: User, client_as: Callable[[User], Client]) -> Errors:
    body = json_course(
        activity_format="XYZ",
        start_date="2026-03-02",
        end_date="2026-03-01",
        physician_learners=-3,
        supporters=[{"monetary_amount": 2500}],
    )
    response = Api(provider).put("BAD-1", body)
    assert response.status_code == 400
    return {(e["field"], e["rule"], e["message"]) for e in response.json()["errors"]}


def via_tsv(provider: Provider, editor: User, client_as: Callable[[User], Client]) -> Errors:
    text = io.StringIO()
    writer = csv.writer(text, dialect=csv.excel_tab)
    writer.writerow(CURRENT.headers(supporters=1))
    writer.writerow(_file_cells())
    return _upload_errors(provider, editor, "bad.txt", text.getvalue().encode())


def via_xlsx(provider: Provider, editor: User, client_as: Callable[[User], Client]) -> Errors:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(CURRENT.headers(supporters=1))
    native = {
        "start_date": datetime.date(2026, 3, 2),
        "end_date": datetime.date(2026, 3, 1),
        "physician_learners": -3,
        "other_learners": 35,
        "ama_credits": 6.5,
    }
    cells = [native.get(column.target, BAD.get(column.target, "")) for column in CURRENT.columns]
    sheet.append([*cells, None, 2500, None, None])
    stream = io.BytesIO()
    workbook.save(stream)
    return _upload_errors(provider, editor, "bad.xlsx", stream.getvalue())


XML = """<?xml version="1.0" encoding="UTF-8"?>
<ACCMEActivities xmlns="http://ns.medbiq.org/metrics/v1/"
                 xmlns:lom="http://ltsc.ieee.org/xsd/LOM"
                 xmlns:hx="http://ns.medbiq.org/lom/extend/v1/"
                 xmlns:a="http://ns.medbiq.org/address/v1/"
                 xmlns:x="urn:pars:accme-extensions:v1">
  <MedicalEducationMetrics>
    <ReportDescription>
      <ReportingStartDate>2026-03-02</ReportingStartDate>
      <ReportingEndDate>2026-03-01</ReportingEndDate>
    </ReportDescription>
    <ActivityDescription>
      <lom:lom>
        <lom:general>
          <lom:identifier><lom:catalog>Provider Activity ID</lom:catalog><lom:entry>BAD-1</lom:entry></lom:identifier>
          <lom:title><lom:string language="en">Cardiology Update</lom:string></lom:title>
          <lom:description><lom:string language="en">Heart failure and arrhythmia, for internists.</lom:string></lom:description>
        </lom:general>
        <hx:healthcareMetadata><hx:healthcareEducation>
          <hx:credits><hx:activityCertification>AMA PRA Category 1</hx:activityCertification><hx:numberOfCredits>6.5</hx:numberOfCredits></hx:credits>
          <hx:activityLocation><a:City>Chicago</a:City><a:StateOrProvince>IL</a:StateOrProvince><a:Country><a:CountryCode>USA</a:CountryCode></a:Country></hx:activityLocation>
          <hx:startDateTime>2026-03-02T00:00:00</hx:startDateTime>
          <hx:endDateTime>2026-03-01T00:00:00</hx:endDateTime>
          <hx:activitySponsorship>direct</hx:activitySponsorship>
          <hx:activityFormat><lom:string language="en">XYZ</lom:string></hx:activityFormat>
          <hx:commercialSupport>yes</hx:commercialSupport>
        </hx:healthcareEducation></hx:healthcareMetadata>
      </lom:lom>
      <CommercialSupportAmount currency="USD" supportSource="">2500</CommercialSupportAmount>
    </ActivityDescription>
    <ParticipationMetrics>
      <ParticipantsByCategory category="physician">-3</ParticipantsByCategory>
      <ParticipantsByCategory category="non-physician">35</ParticipantsByCategory>
    </ParticipationMetrics>
    <XtensibleInfo>
      <x:DeliveryMethods><x:DeliveryMethod>In-Person</x:DeliveryMethod></x:DeliveryMethods>
      <x:ForPublicList>false</x:ForPublicList>
    </XtensibleInfo>
  </MedicalEducationMetrics>
</ACCMEActivities>
"""


def via_xml(provider: Provider, editor: User, client_as: Callable[[User], Client]) -> Errors:
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("bad.xml", XML.encode()))
    upload = Upload.objects.get(pk=upload.pk)
    assert upload.status == UploadStatus.REJECTED, upload.message
    assert {error.row for error in upload.errors.all()} == {1}  # the first activity
    return {(e.field, e.rule, e.message) for e in upload.errors.all()}


@pytest.fixture
def reference() -> Errors:
    _, errors = validate_activity({**BAD, "supporters": [BAD_SUPPORTER]})
    found = {(error.field, error.rule, error.message) for error in errors}
    assert {rule for _, rule, _ in found} == EXPECTED_RULES
    return found


@pytest.mark.parametrize("channel", [via_web, via_tsv, via_xlsx, via_xml, via_json])
def test_the_same_bad_record_gets_the_same_errors_from_every_channel(
    channel: Callable[..., Errors],
    reference: Errors,
    provider: Provider,
    editor: User,
    client_as: Callable[[User], Client],
) -> None:
    assert channel(provider, editor, client_as) == reference
