"""Each webhook endpoint keeps its latest delivery attempt: when, the HTTP status it answered
(none when it did not answer) and a short outcome ("200 OK", "connection refused"). Endpoints
start with none; their next delivery or test event fills them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0011_reported_recipients"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookendpoint",
            name="last_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookendpoint",
            name="last_outcome",
            field=models.CharField(
                blank=True,
                help_text='"200 OK", "500 Internal Server Error", "timed out"…',
                max_length=200,
            ),
        ),
        migrations.AddField(
            model_name="webhookendpoint",
            name="last_status_code",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="The HTTP status it answered; empty when it did not.",
                null=True,
            ),
        ),
    ]
