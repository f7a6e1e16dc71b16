"""Regenerate ``data/golden_current.xml`` and ``.json`` from ``golden_current.tsv``.

    .venv/bin/python -m tests.activities.make_golden_xml

The TSV is written by hand; the XML (through the XML export) and the JSON (as the web
service takes records) carry the same activities, so that
``test_golden_samples.py`` can check that all four formats read to identical records.
"""

from __future__ import annotations

import datetime
import io
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TODAY = datetime.date(2026, 11, 27)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    return value


def main() -> None:
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    os.environ.setdefault("PARS_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pars.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from pars.accounts.access import ProviderAccess
    from pars.activities.models import Activity
    from pars.activities.parsers.tsv import read_tsv
    from pars.activities.services import apply_activities
    from pars.activities.validation import validate_activity
    from pars.activities.xml_export import write_activities_xml
    from pars.providers.models import Provider

    call_command("migrate", verbosity=0)
    provider = Provider.objects.create(
        provider_id="0001234", name="Golden", accreditor_type="accme"
    )
    access = ProviderAccess(provider=provider, user=None, role=None, is_staff=True)
    records, deletes, bodies = [], [], []
    with (DATA / "golden_current.tsv").open("rb") as stream:
        _, rows = read_tsv(stream)
        for row in rows:
            clean, errors = validate_activity(row.data, row=row.row, today=TODAY)
            assert clean is not None, errors
            if clean.action == "delete":
                deletes.append(clean.provider_activity_id)
                bodies.append(
                    {"provider_activity_id": clean.provider_activity_id, "action": "Delete"}
                )
                continue
            records.append((row.row, clean))
            body = {
                name: _json_value(value)
                for name, value in clean.values.items()
                if value not in (None, "", [])
                and name not in ("legacy_activity_type", "meets_mips")
            }
            body["meets_mips"] = clean.values["meets_mips"]
            body["supporters"] = [
                {key: value for key, value in supporter.items() if value not in (None, "", [])}
                for supporter in clean.supporters
            ]
            bodies.append(body)
    apply_activities(access, records, channel="tsv")
    buffer = io.BytesIO()
    activities = (
        access.records(Activity).prefetch_related("supporters").order_by("provider_activity_id")
    )
    write_activities_xml(buffer, activities)
    xml = buffer.getvalue().decode()
    for activity_id in deletes:
        delete = (
            "<MedicalEducationMetrics><ReportDescription/><ActivityDescription><lom:lom>"
            "<lom:general><lom:identifier><lom:catalog>Provider Activity ID</lom:catalog>"
            f"<lom:entry>{activity_id}</lom:entry></lom:identifier></lom:general></lom:lom>"
            "</ActivityDescription><ParticipationMetrics/><XtensibleInfo>"
            "<accme:activityRecordAction>Delete</accme:activityRecordAction>"
            "</XtensibleInfo></MedicalEducationMetrics>\n"
        )
        xml = xml.replace("</ACCMEActivities>", delete + "</ACCMEActivities>")
    (DATA / "golden_current.xml").write_text(xml, encoding="utf-8")
    (DATA / "golden_current.json").write_text(json.dumps(bodies, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
