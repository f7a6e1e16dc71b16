"""Re-key the completions 0009 made records of their own (ABA's Patient Safety).

0009 gave recipients ``separate_credit_types``: a completion claiming such a type is a
record of its own, its learner key ending in ``#part:<credit type, casefolded>`` (the
validator's mark, PART_MARK in pars/learners/validation/recipients.py). Completions
stored before carry the plain key, so a correction would be added as a second record
and a withdrawal would miss them: each one, withdrawn or not, gets the key the validator
builds for it today.

A completion whose new key is already taken by another of the same activity, recipient
and completion date (the unique constraint: sent again after 0009) keeps its old key:
the two cannot be merged without choosing which is right, and the newer record is the
one the provider's corrections reach.
"""

from django.db import migrations

PART_MARK = "#part:"  # as pars/learners/validation/recipients.py has it at this migration


def _part(credit_types, separate):
    """As RecipientRules.separate_part: the first separate credit type, casefolded."""
    for name in credit_types or ():
        if isinstance(name, str) and name.casefold() in separate:
            return name.casefold()
    return ""


def forward(apps, schema_editor):
    Recipient = apps.get_model("learners", "Recipient")
    completions = apps.get_model("learners", "LearnerCompletion")
    for recipient in Recipient.objects.all():
        separate = {str(name).casefold() for name in recipient.separate_credit_types or ()}
        if not separate:
            continue
        rows = completions.objects.filter(recipient_id=recipient.pk).exclude(
            learner_key__contains=PART_MARK
        )
        fields = ("pk", "activity_id", "learner_key", "completion_date", "moc_credit_types")
        for pk, activity_id, old_key, completion_date, credit_types in list(
            rows.values_list(*fields)
        ):
            part = _part(credit_types, separate)
            if not part:
                continue
            key = f"{old_key}{PART_MARK}{part}"[:200]
            taken = completions.objects.filter(
                activity_id=activity_id,
                recipient_id=recipient.pk,
                learner_key=key,
                completion_date=completion_date,
            ).exists()
            if not taken:
                completions.objects.filter(pk=pk).update(learner_key=key)


class Migration(migrations.Migration):
    dependencies = [("learners", "0009_recipients_today")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
