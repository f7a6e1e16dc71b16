"""Tenancy samples for the review package and the staff provider-record pages."""

from __future__ import annotations

from typing import Any

from tests.support.route_walker import Kind, Sample, Victim


def _provider(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id}


REVIEW_SAMPLES: dict[str, Sample] = {
    "review:package": Sample(Kind.STAFF, _provider),
    "review:package_xlsx": Sample(Kind.STAFF, _provider),
    "review:package_pdf": Sample(Kind.STAFF, _provider),
    "providers:staff_edit": Sample(Kind.STAFF, _provider),
    "providers:staff_status": Sample(Kind.STAFF, _provider),
}
