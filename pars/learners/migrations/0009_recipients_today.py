"""The recipients as ACCME publishes them today (pars-reference.md section 11), as data.

- "ABO" is the American Board of Ophthalmology. A database whose "ABO" row is orthopaedic
  surgery gets that row renamed ABOS (its registrations and completions point at the row,
  so they stay with the orthopaedic board); if an ABOS row exists too, the old row keeps
  its records under the code ABOS-LEGACY, inactive.
- The boards missing from the table are added from the seed (ABO, ABPMR).
- Each board's rules (credit-type windows, exclusive and separate credit types, the first
  activity day, the day total) are written to its row; ABPath's "Self-Assessment (SAM)" is
  renamed "Self-Assessment Module (SAM)" in the row, its registrations and its completions.

Rows staff added or changed keep their other values.
"""

import datetime

from django.db import migrations

from pars.learners.seed import seed_recipients

OLD_SAM = "Self-Assessment (SAM)"
SAM = "Self-Assessment Module (SAM)"

# The rules as of this migration (the seed, SEED_RECIPIENTS, gives the same to a new
# database; tests/learners/test_recipient_data.py checks they agree).
RULES = {
    "ABA": {"separate_credit_types": ["Patient Safety"], "records_within_registered_points": True},
    "ABPATH": {
        "credit_type_windows": [{"credit_type": SAM, "valid_until": "2020-12-31"}],
    },
    "ABTS": {"self_reported_cme_until": datetime.date(2027, 12, 31)},
    "ABO": {"exclusive_credit_types": [["Improvement in Medical Practice", "Patient Safety"]]},
    "ABPMR": {"earliest_activity_start": datetime.date(2025, 1, 1)},
}
ABPATH_CREDIT_TYPES = ["Lifelong Learning", SAM, "Improvement in Medical Practice"]


def _orthopaedics_to_abos(Recipient):
    old = Recipient.objects.filter(code="ABO", name__icontains="orthop").first()
    if old is None:
        return
    if Recipient.objects.filter(code="ABOS").exists():
        old.code, old.active = "ABOS-LEGACY", False
    else:
        old.code, old.name = "ABOS", "American Board of Orthopaedic Surgery"
        if old.identifier_label == "ABO ID":
            old.identifier_label = "ABOS ID"
    old.save()


def _renamed(names):
    renamed = [SAM if name == OLD_SAM else name for name in names or []]
    return list(dict.fromkeys(renamed))


def _rename_sam(apps, abpath):
    Registration = apps.get_model("learners", "ActivityRegistration")
    Completion = apps.get_model("learners", "LearnerCompletion")
    for model, field in ((Registration, "credit_types"), (Completion, "moc_credit_types")):
        changed = []
        for row in model.objects.filter(recipient_id=abpath.pk).only("pk", field).iterator():
            names = getattr(row, field) or []
            if OLD_SAM in names:
                setattr(row, field, _renamed(names))
                changed.append(row)
            if len(changed) >= 1000:
                model.objects.bulk_update(changed, [field])
                changed = []
        model.objects.bulk_update(changed, [field])


def forward(apps, schema_editor):
    Recipient = apps.get_model("learners", "Recipient")
    _orthopaedics_to_abos(Recipient)
    seed_recipients(Recipient)
    for code, values in RULES.items():
        row = Recipient.objects.filter(code=code).first()
        if row is None:
            continue
        for name, value in values.items():
            setattr(row, name, value)
        if code == "ABPATH":
            kept = [name for name in _renamed(row.credit_types) if name not in ABPATH_CREDIT_TYPES]
            row.credit_types = ABPATH_CREDIT_TYPES + kept
            _rename_sam(apps, row)
        row.save()


class Migration(migrations.Migration):
    dependencies = [("learners", "0008_recipient_rules")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
