from django.db import migrations

from pars.accreditation.seed import seed_self_studies


class Migration(migrations.Migration):
    dependencies = [("accreditation", "0001_initial")]

    operations = [migrations.RunPython(seed_self_studies, migrations.RunPython.noop)]
