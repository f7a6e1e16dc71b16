import datetime

from django.db import migrations

from pars.reporting.statements import FIRST_STATEMENT as STATEMENT


def add_statement(apps, schema_editor):
    AttestationStatement = apps.get_model("reporting", "AttestationStatement")
    AttestationStatement.objects.get_or_create(
        version=1, defaults={"text": STATEMENT, "effective_from": datetime.date(2026, 1, 1)}
    )


class Migration(migrations.Migration):
    dependencies = [("reporting", "0002_attestationstatement_and_more")]

    operations = [migrations.RunPython(add_statement, migrations.RunPython.noop)]
