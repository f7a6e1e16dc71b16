"""Seed the recipients the reference names: 8 MOC boards, REMS, the pilot state boards.

Recipients added later are data too: staff add them in the admin.
"""

from django.db import migrations

from pars.learners.dictionary import SEED_RECIPIENTS
from pars.learners.seed import seed_recipients


def seed(apps, schema_editor):
    seed_recipients(apps.get_model("learners", "Recipient"))


def unseed(apps, schema_editor):
    Recipient = apps.get_model("learners", "Recipient")
    Recipient.objects.filter(code__in=[row["code"] for row in SEED_RECIPIENTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("learners", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
