"""Uploads numbered per provider and kind ("Activity upload #3", "Learner upload #2"):
the existing uploads are numbered in the order they were made."""

from typing import Any

from django.db import migrations, models


def number_existing(apps: Any, schema_editor: Any) -> None:
    Upload = apps.get_model("intake", "Upload")
    last: dict[tuple[int, str], int] = {}
    numbered = []
    rows = Upload.objects.order_by("provider_id", "kind", "created_at", "pk").only(
        "pk", "provider_id", "kind"
    )
    for upload in rows.iterator(chunk_size=2_000):
        key = (upload.provider_id, upload.kind)
        last[key] = upload.number = last.get(key, 0) + 1
        numbered.append(upload)
        if len(numbered) >= 1_000:
            Upload.objects.bulk_update(numbered, ["number"])
            numbered = []
    Upload.objects.bulk_update(numbered, ["number"])


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0003_upload_policy_error_context"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="number",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="upload",
            constraint=models.UniqueConstraint(
                fields=("provider", "kind", "number"), name="upload_number_per_provider_kind"
            ),
        ),
    ]
