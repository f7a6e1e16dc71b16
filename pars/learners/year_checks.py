"""Year-end data checks: likely mistakes in a provider's reporting year, before it attests.

State accreditors tell providers to hunt for these by hand before attesting; PARS lists
them. A finding is advice, never a refusal: none of them blocks attestation, and the
validator's rules (which do refuse) are not repeated here.

The checks read learner data (MOC registrations and completions), so they live in the
learner app; the "Check my year" page, the API and the dashboard count all call
:func:`year_findings`, which answers with a fixed number of queries (one), whatever the
number of activities.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.dictionary import FORMATS, LIVE_FORMATS
from pars.activities.models import Activity, ActivityFormat, CommercialSupport
from pars.learners.models import (
    ActivityRegistration,
    CompletionStatus,
    LearnerCompletion,
    RecipientKind,
)

# A series reports the total hours of all its sessions in the year (ACCME's definition), and
# meets several times; PARS keeps no count of sessions, so a year's total below two hours
# (two one-hour sessions) most likely holds the length of one session, not the total.
RSS_MIN_HOURS = Decimal("2")

# Records withdrawn (or being withdrawn) no longer count as learners reported to a board.
_WITHDRAWN = (
    CompletionStatus.WITHDRAWAL_QUEUED,
    CompletionStatus.WITHDRAWAL_SENT,
    CompletionStatus.WITHDRAWN,
)

RSS_LOW_HOURS = "year_check.rss_low_hours"
LIVE_NO_LEARNERS = "year_check.live_no_learners"
DUPLICATE = "year_check.duplicate"
SUPPORT_NO_SUPPORTERS = "year_check.commercial_support_no_supporters"
MOC_NO_LEARNERS = "year_check.moc_no_learners"
DATES_OUTSIDE_YEAR = "year_check.dates_outside_year"


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    advice: str


CHECKS: tuple[Check, ...] = (
    Check(
        RSS_LOW_HOURS,
        "Series with very few hours",
        "A regularly scheduled series reports the total hours of all its sessions in the "
        "year, not the length of one session.",
    ),
    Check(
        LIVE_NO_LEARNERS,
        "Live activities with 0 learners",
        "If the activity took place, enter its learner counts; if it did not, delete it.",
    ),
    Check(
        DUPLICATE,
        "Possible duplicates",
        "Activities with the same title and start date may have been entered twice; delete "
        "the extra one, or give each a title that tells them apart.",
    ),
    Check(
        SUPPORT_NO_SUPPORTERS,
        "Commercial support without supporters",
        "The activity says it received commercial support but names no supporter: add the "
        "supporters, or answer No.",
    ),
    Check(
        MOC_NO_LEARNERS,
        "MOC-registered activities with no learners reported",
        "The activity is registered with a certifying board and has ended, but no learner "
        "completion was reported to a board: report the learners who earned MOC points.",
    ),
    Check(
        DATES_OUTSIDE_YEAR,
        "Dates outside the reporting year",
        "The activity ran partly or wholly outside the reporting year: check its dates and "
        "that it is reported in the right year.",
    ),
)
CHECKS_BY_ID = {check.id: check for check in CHECKS}


@dataclass(frozen=True)
class Finding:
    check: str  # a stable ID from CHECKS
    activity_pk: int
    provider_activity_id: str
    title: str
    url: str  # the activity's page in PARS
    reason: str  # why this activity is flagged, in plain words


@dataclass(frozen=True)
class CheckGroup:
    check: Check
    findings: list[Finding]


def year_findings(
    access: ProviderAccess, year: int, today: datetime.date | None = None
) -> list[Finding]:
    """The likely mistakes among the provider's activities of this reporting year.

    One query: the activities with only the fields the checks read, each annotated with
    whether it has supporters, an MOC registration and a learner reported to a board.
    Ordered by check (as in CHECKS), then Provider Activity ID.
    """
    today = today or timezone.localdate()
    activities = list(
        access.records(Activity)
        .filter(reporting_year=year)
        .only(
            "provider_activity_id",
            "title",
            "activity_format",
            "start_date",
            "end_date",
            "reporting_year",
            "hours_of_instruction",
            "physician_learners",
            "other_learners",
            "commercial_support_received",
        )
        .annotate(
            has_supporters=Exists(
                access.records(CommercialSupport).filter(activity=OuterRef("pk"))
            ),
            has_moc_registration=Exists(
                access.records(ActivityRegistration).filter(
                    activity=OuterRef("pk"), recipient__kind=RecipientKind.MOC_BOARD
                )
            ),
            has_moc_learners=Exists(
                access.records(LearnerCompletion)
                .filter(activity=OuterRef("pk"), recipient__kind=RecipientKind.MOC_BOARD)
                .exclude(status__in=_WITHDRAWN)
            ),
        )
        .order_by("provider_activity_id", "pk")
    )
    pid = access.provider.provider_id
    found: list[tuple[str, Activity, str]] = []
    for activity in activities:
        found.extend((check, activity, reason) for check, reason in _one(activity, year, today))
    found.extend(_duplicates(activities))
    order = {check.id: n for n, check in enumerate(CHECKS)}
    found.sort(key=lambda f: (order[f[0]], f[1].provider_activity_id, f[1].pk))
    return [
        Finding(
            check=check,
            activity_pk=activity.pk,
            provider_activity_id=activity.provider_activity_id,
            title=activity.title,
            url=reverse("activities:detail", args=[pid, activity.pk]),
            reason=reason,
        )
        for check, activity, reason in found
    ]


def grouped(findings: Iterable[Finding]) -> list[CheckGroup]:
    """The findings by check, in the order of CHECKS; checks that found nothing left out."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_check[finding.check].append(finding)
    return [CheckGroup(check, by_check[check.id]) for check in CHECKS if by_check[check.id]]


def _one(activity: Activity, year: int, today: datetime.date) -> Iterable[tuple[str, str]]:
    """The single-activity checks this activity fails: (check ID, reason)."""
    hours = activity.hours_of_instruction
    flags = activity.__dict__  # the Exists annotations, which the model does not declare
    if (
        activity.activity_format == ActivityFormat.RSS
        and hours is not None
        and hours < RSS_MIN_HOURS
    ):
        yield (
            RSS_LOW_HOURS,
            f"A series with {hours:g} hours of instruction for the whole year "
            f"(under {RSS_MIN_HOURS:g}): this looks like the length of one session.",
        )
    counts = (activity.physician_learners, activity.other_learners)
    # Counts left empty are the readiness checklist's business; 0 entered is a likely slip.
    if activity.activity_format in LIVE_FORMATS and counts != (None, None) and not any(counts):
        label = FORMATS[activity.activity_format]
        yield LIVE_NO_LEARNERS, f"A live activity ({label}) with 0 learners reported."
    if activity.commercial_support_received and not flags["has_supporters"]:
        yield SUPPORT_NO_SUPPORTERS, "Commercial support received: Yes, with no supporter named."
    # Only ended activities: learners of a running one may not be reported yet.
    if (
        flags["has_moc_registration"]
        and not flags["has_moc_learners"]
        and activity.end_date < today
    ):
        yield (
            MOC_NO_LEARNERS,
            f"Registered for MOC; ended {activity.end_date:%m/%d/%Y} with no learner reported.",
        )
    reason = _outside_year(activity, year)
    if reason:
        yield DATES_OUTSIDE_YEAR, reason


def _outside_year(activity: Activity, year: int) -> str | None:
    start, end = activity.start_date, activity.end_date
    dates = f"{start:%m/%d/%Y} to {end:%m/%d/%Y}"
    if end.year < year or start.year > year:
        return f"Runs {dates}, wholly outside {year}."
    # An enduring material runs up to three years by design; only other formats are
    # flagged for crossing the year's boundary.
    if activity.activity_format != ActivityFormat.ENDURING and (start.year, end.year) != (
        year,
        year,
    ):
        return f"Runs {dates}, partly outside {year}."
    return None


def _title_key(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip().casefold()


def _duplicates(activities: Sequence[Activity]) -> Iterable[tuple[str, Activity, str]]:
    """Each activity sharing its title (ignoring case and spacing) and start date with another."""
    groups: dict[tuple[str, datetime.date], list[Activity]] = defaultdict(list)
    for activity in activities:
        groups[(_title_key(activity.title), activity.start_date)].append(activity)
    for group in groups.values():
        if len(group) < 2:
            continue
        for activity in group:
            others = ", ".join(o.provider_activity_id for o in group if o is not activity)
            yield (
                DUPLICATE,
                activity,
                f"Same title and start date ({activity.start_date:%m/%d/%Y}) as {others}.",
            )
