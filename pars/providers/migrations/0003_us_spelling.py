"""US spelling of require_mfa's help text (no change in the database)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0002_provider_require_mfa"),
    ]

    operations = [
        migrations.AlterField(
            model_name="provider",
            name="require_mfa",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Set by a provider administrator: members must enroll an authenticator "
                    "app before they can use this provider's workspace."
                ),
                verbose_name="require two-factor authentication for all users",
            ),
        ),
    ]
