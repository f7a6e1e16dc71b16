"""Dates as people in the United States read them: 12/31/2026, everywhere a person reads one.

Pages, emails, messages and the downloads meant for people write dates month/day/year;
Django's templates take the same formats from ``pars/formats/en/formats.py`` (so
``{{ day }}`` and ``{{ day|date }}`` print 12/31/2026 too). Machine formats stay what their
specification says: the JSON API and XML write ISO 8601 (2026-12-31), and the files PARS
reads accept the layouts their references name.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

US_DATE = "%m/%d/%Y"  # 12/31/2026
US_DATETIME = "%m/%d/%Y %H:%M"  # 12/31/2026 14:05, in the site's time zone


def us_date(value: datetime.date | None) -> str:
    """12/31/2026 (a datetime: its day in the site's time zone); "" for None."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return value.strftime(US_DATE)


def us_datetime(value: datetime.datetime | None) -> str:
    """12/31/2026 14:05 in the site's time zone; "" for None."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime(US_DATETIME)
