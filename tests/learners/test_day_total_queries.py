"""ABA's day total (records of one learner, activity and day within the registered points)
reads the stored records once per batch, not once per record: a file of many ABA learners
must not cost a query per row (it made learner uploads several times slower)."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import Channel
from pars.learners.models import LearnerCompletion
from pars.learners.services import apply_completions
from pars.learners.validation import load_recipients
from pars.providers.models import Provider
from tests.learners.test_recipient_data import aba_activity, aba_row  # noqa: F401 (fixture)
from tests.support.learners import clean_completion


def _queries_to_write(editor: User, provider: Provider, activity: Activity, ids: range) -> int:
    access = get_provider_access(editor, provider.provider_id)
    recipients = load_recipients()
    records = [
        (n, clean_completion(aba_row(activity, learner_id=f"{n:08d}"), recipients=recipients))
        for n in ids
    ]
    with CaptureQueriesContext(connection) as queries:
        result = apply_completions(access, records, channel=Channel.TSV, schedule=False)
    assert not result.errors
    return len(queries)


def test_the_day_total_costs_the_same_queries_for_5_or_50_learners(
    editor: User,
    provider: Provider,
    aba_activity: Activity,  # noqa: F811 (the fixture imported above)
) -> None:
    # A first record makes the registration "reported", so stored records are looked up.
    _queries_to_write(editor, provider, aba_activity, range(1, 2))
    few = _queries_to_write(editor, provider, aba_activity, range(10, 15))
    many = _queries_to_write(editor, provider, aba_activity, range(100, 150))
    assert many == few
    points = set(LearnerCompletion.objects.values_list("moc_points", flat=True))
    assert points == {Decimal(6)}
    assert LearnerCompletion.objects.count() == 56
