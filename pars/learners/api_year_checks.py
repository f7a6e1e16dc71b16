"""The year-end data checks in the web service: ``GET /annual-reports/{year}/checks``.

The same findings as the "Check my year" page (:func:`pars.learners.year_checks.year_findings`),
for the key's provider only. Advice, never a refusal: no finding blocks attestation. The
path sits beside the annual report's; the endpoint lives with the learner endpoints because
one check reads learner data (the reporting app may not import the learner app).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from pars.accounts.api_auth import api_access
from pars.activities.upload_api import ApiErrors
from pars.learners.api_common import json_response, refusal
from pars.learners.year_checks import CHECKS, year_findings
from pars.reporting.models import ReportingYear

router = Router(tags=["annual report"])

RULE_YEAR_UNKNOWN = "report.year.unknown"  # as the annual-report endpoints answer it


class YearCheckOut(Schema):
    id: str = Field(description="Stable check ID, e.g. `year_check.rss_low_hours`")
    title: str
    advice: str = Field(description="What to look at, in plain words")
    count: int = Field(description="Activities this check flags")


class YearFindingOut(Schema):
    check: str = Field(description="The ID of the check that flags the activity")
    provider_activity_id: str
    title: str = Field(description="The activity's title")
    url: str = Field(description="The activity's page in PARS (a path)")
    reason: str = Field(description="Why the activity is flagged, in plain words")


class YearChecksOut(Schema):
    year: int
    count: int = Field(description="Findings in all (an activity may be flagged more than once)")
    blocks_attestation: bool = Field(
        description="Always false: the checks are advice, attestation does not wait for them"
    )
    checks: list[YearCheckOut] = Field(description="Every check PARS runs, with its count")
    findings: list[YearFindingOut] = Field(
        description="Ordered by check (as in `checks`), then Provider Activity ID"
    )


@router.get(
    "/annual-reports/{int:year}/checks",
    response={200: YearChecksOut, 404: ApiErrors},
    url_name="annual_report_checks",
    summary="Year-end data checks: likely mistakes before attesting",
    description="The likely mistakes among the key's provider's activities of the year, as "
    "the *Check my year* page lists them: series with very few hours, live activities with 0 "
    "learners, possible duplicates (same title and start date), commercial support without "
    "supporters, MOC-registered activities with no learner reported, dates outside the year. "
    "None blocks attestation. An unknown year answers 404 (rule `report.year.unknown`).",
)
def annual_report_checks(request: HttpRequest, year: int) -> Any:
    access = api_access(request)
    if not ReportingYear.objects.filter(year=year).exists():
        return json_response(
            *refusal("year", RULE_YEAR_UNKNOWN, f"There is no reporting year {year}.", 404)
        )
    findings = year_findings(access, year)
    counts = {check.id: 0 for check in CHECKS}
    for finding in findings:
        counts[finding.check] += 1
    return {
        "year": year,
        "count": len(findings),
        "blocks_attestation": False,
        "checks": [
            {"id": c.id, "title": c.title, "advice": c.advice, "count": counts[c.id]}
            for c in CHECKS
        ],
        "findings": [
            {
                "check": f.check,
                "provider_activity_id": f.provider_activity_id,
                "title": f.title,
                "url": f.url,
                "reason": f.reason,
            }
            for f in findings
        ],
    }
