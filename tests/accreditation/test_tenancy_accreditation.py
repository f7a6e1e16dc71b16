"""The tenancy walks of tests/test_tenancy.py again, with a victim that has a submitted
accreditation case (document, PIP selection with evidence, submission), so the case routes
are walked with rows that exist (the shared victim has none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import test_tenancy
from tests.support.route_walker import Victim, walk_as_outsider
from tests.support.tenancy_samples_accreditation import (
    ACCREDITATION_SAMPLES,
    add_accreditation_rows,
)
from tests.test_tenancy import SAMPLES, outsider, victim  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _accreditation_problems(problems: list[str]) -> list[str]:
    return [p for p in problems if p.startswith("accreditation:") or "victim's data" in p]


def test_every_accreditation_route_holds_with_a_case(victim: Victim, outsider: Any) -> None:  # noqa: F811
    add_accreditation_rows(victim)
    for name in ("accreditation:document", "accreditation:evidence"):
        kwargs = ACCREDITATION_SAMPLES[name].kwargs(victim)
        assert all(value for value in kwargs.values()), kwargs  # rows of the victim's
    user, api_key = outsider
    problems = walk_as_outsider(victim, user, api_key, SAMPLES)
    assert _accreditation_problems(problems) == []


def test_state_staff_of_another_society_reach_no_case(victim: Victim, outsider: Any) -> None:  # noqa: F811
    add_accreditation_rows(victim)
    test_tenancy.test_state_accreditor_staff_reach_no_provider_of_another_accreditor(
        victim, outsider
    )


def test_a_read_only_member_changes_no_case(victim: Victim, outsider: Any) -> None:  # noqa: F811
    add_accreditation_rows(victim)
    test_tenancy.test_a_read_only_member_changes_nothing_through_any_route(victim, outsider)
