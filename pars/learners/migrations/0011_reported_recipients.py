"""Recipients that only receive reports (REMS): their records are *reported*, never held.

``Recipient.matches_learners`` says whether a recipient matches learners against its
registry; the REMS program does not (its records go into the REMS report), so its rows get
False. REMS records a registry lookup held before are queued again (a new version, event
"released"): the next delivery reports them. Backwards, "reported" records read as
"accepted", the nearest status the older code knows.
"""

from django.db import migrations, models
from django.db.models import F
from django.utils import timezone


def forward(apps, schema_editor):
    Recipient = apps.get_model("learners", "Recipient")
    LearnerCompletion = apps.get_model("learners", "LearnerCompletion")
    CompletionEvent = apps.get_model("learners", "CompletionEvent")
    Recipient.objects.filter(kind="rems").update(matches_learners=False)
    held = LearnerCompletion.objects.filter(
        recipient_id__in=Recipient.objects.filter(matches_learners=False).values("pk"),
        status="held",
    )
    ids = list(held.values_list("pk", flat=True))
    now = timezone.now()
    LearnerCompletion.objects.filter(pk__in=ids).update(
        status="queued",
        status_reason="",
        status_code="",
        status_changed_at=now,
        updated_at=now,
        batch=None,
        version=F("version") + 1,
    )
    CompletionEvent.objects.bulk_create(
        CompletionEvent(
            provider_id=provider_id,
            completion_id=pk,
            kind="released",
            version=version,
            detail="REMS records are reported, not matched: resent.",
        )
        for pk, provider_id, version in LearnerCompletion.objects.filter(pk__in=ids).values_list(
            "pk", "provider_id", "version"
        )
    )


def backward(apps, schema_editor):
    LearnerCompletion = apps.get_model("learners", "LearnerCompletion")
    LearnerCompletion.objects.filter(status="reported").update(status="accepted")


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0010_separate_credit_type_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="recipient",
            name="matches_learners",
            field=models.BooleanField(
                default=True,
                help_text="The recipient matches each learner against its own registry (MOC "
                "boards, state boards): a learner it does not know is held. Off for a recipient "
                "that only receives reports (the REMS program): what it takes is reported, "
                "nothing is held.",
            ),
        ),
        migrations.AlterField(
            model_name="completionevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "Submitted"),
                    ("corrected", "Corrected"),
                    ("resubmitted", "Resubmitted"),
                    ("withdrawal_requested", "Withdrawal requested"),
                    ("deleted", "Deleted before it was sent"),
                    ("sent", "Sent to recipient"),
                    ("accepted", "Accepted by recipient"),
                    ("reported", "Reported to recipient (no learner matching)"),
                    ("rejected", "Rejected by recipient"),
                    ("held", "Held: learner not matched"),
                    ("released", "Released for resending"),
                    ("withdrawn", "Withdrawn at recipient"),
                ],
                max_length=30,
            ),
        ),
        migrations.AlterField(
            model_name="learnercompletion",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("sent", "Sent"),
                    ("accepted", "Accepted"),
                    ("reported", "Reported"),
                    ("rejected", "Rejected"),
                    ("held", "Held (learner not matched)"),
                    ("withdrawal_queued", "Withdrawal queued"),
                    ("withdrawal_sent", "Withdrawal sent"),
                    ("withdrawn", "Withdrawn"),
                ],
                default="queued",
                max_length=20,
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
