"""Uploads that only check their file ("Check the file only", ``dry_run=true``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("intake", "0004_upload_number_per_kind")]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="dry_run",
            field=models.BooleanField(default=False),
        ),
    ]
