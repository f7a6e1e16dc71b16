import datetime

from django.db import migrations

STATEMENT = (
    "I attest, on behalf of my organization, that the activity and program summary data "
    "entered in PARS for this reporting year are complete and accurate to the best of my "
    "knowledge: every accredited activity of the year is reported, commercial support is "
    "reported for each activity that received it, and the program summary reflects the "
    "organization's program. I understand that once I attest, this year's data can no longer "
    "be added or changed unless the accreditor reopens the year, and that the accreditor uses "
    "these data for accreditation decisions, annual reports and reports to certifying boards "
    "and regulators."
)


def add_statement(apps, schema_editor):
    AttestationStatement = apps.get_model("reporting", "AttestationStatement")
    AttestationStatement.objects.get_or_create(
        version=1, defaults={"text": STATEMENT, "effective_from": datetime.date(2026, 1, 1)}
    )


class Migration(migrations.Migration):
    dependencies = [("reporting", "0002_attestationstatement_and_more")]

    operations = [migrations.RunPython(add_statement, migrations.RunPython.noop)]
