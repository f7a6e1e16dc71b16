"""The published rule catalog: every activity rule, its field and message (public)."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from pars.activities.dictionary import FIRST_REPORTING_YEAR
from pars.activities.forms import error_label
from pars.activities.validation import rules_for_year
from pars.intake.rules import Rule
from pars.lib.text import CONTROL_CHARACTER_FIELD

FIRST_RULE_YEAR = FIRST_REPORTING_YEAR


def rule_years(rule: Rule) -> str:
    if rule.first_year and rule.last_year:
        return f"{rule.first_year}–{rule.last_year}"
    if rule.first_year:
        return f"{rule.first_year} onward"
    if rule.last_year:
        return f"until {rule.last_year}"
    return "all years"


def parse_year(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) == 4 else None


def rule_rows(year: int | None) -> list[dict[str, Any]]:
    return [
        {"rule": rule, "label": field_label(rule.field), "years": rule_years(rule)}
        for rule in rules_for_year(year)
    ]


def field_label(field_name: str) -> str:
    """A rule's field as the user knows it ("supporters.source" -> the supporter label)."""
    if field_name.startswith("supporters."):
        return error_label(f"supporters[1].{field_name.removeprefix('supporters.')}").replace(
            "Supporter 1", "Each supporter"
        )
    if field_name == "row":
        return "The whole record"
    if field_name == CONTROL_CHARACTER_FIELD:
        return "Every text field"
    return error_label(field_name)


@require_GET
def rule_catalogue(request: HttpRequest) -> HttpResponse:
    year = parse_year(request.GET.get("year"))
    this_year = datetime.date.today().year  # noqa: DTZ011 (a calendar year is meant)
    return render(
        request,
        "activities/rules.html",
        {
            "rows": rule_rows(year),
            "year": year,
            "years": range(this_year + 1, FIRST_RULE_YEAR - 1, -1),
        },
    )
