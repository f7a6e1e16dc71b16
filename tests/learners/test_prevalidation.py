"""Pre-validation: learners checked against a recipient's registry before any completion
is reported, with messages that never quote an identifier or a birth date."""

from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.models import User
from pars.learners.connectors.simulator import add_to_registry
from pars.learners.models import Recipient
from pars.learners.prevalidation import (
    MAX_LEARNERS,
    MatchResult,
    PrevalidationUnavailable,
    prevalidate,
)
from pars.providers.models import Provider
from tests.support.delivery import ADA


@pytest.fixture
def access(provider: Provider, editor: User) -> ProviderAccess:
    return get_provider_access(editor, provider.provider_id)


@pytest.fixture
def registry(db: None) -> None:
    add_to_registry("ABIM", [ADA])


def learner(**changes: str | None) -> dict[str, str | None]:
    return {
        "learner_id": "123456",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        **changes,
    }


def test_each_learner_gets_a_status_in_order(access: ProviderAccess, registry: None) -> None:
    results = prevalidate(
        access,
        "abim",
        [
            learner(),
            learner(birth_date="01-02"),
            learner(learner_id="654321"),
            learner(learner_id="12AB", birth_date="13-40"),
            learner(last_name="lovelace ", first_name=" ADA"),
        ],
    )
    assert [(result.row, result.status) for result in results] == [
        (1, "match"),
        (2, "mismatch"),
        (3, "not_found"),
        (4, "invalid"),
        (5, "match"),
    ]
    assert results[1].fields == ["birth_date"]
    assert "birth date" in results[1].message
    assert sorted(results[3].fields) == ["birth_date", "learner_id"]
    assert results[2].message == "No learner with this ABIM ID is in the ABIM registry."
    text = " ".join(result.message for result in results)
    for personal in ("123456", "654321", "12AB", "12-10", "01-02", "13-40"):
        assert personal not in text


def test_birth_month_and_day_may_come_apart(access: ProviderAccess, registry: None) -> None:
    (result,) = prevalidate(
        access, "ABIM", [{**learner(birth_date=None), "birth_month": "12", "birth_day": 10}]
    )
    assert result == MatchResult(1, "match", "The learner matches the ABIM registry.", [])


def test_the_recipients_own_identity_rules_apply(access: ProviderAccess, db: None) -> None:
    add_to_registry("TN", [{**ADA, "learner_id": "", "npi": "1234567893", "license_state": "TN"}])
    add_to_registry("ABS", [{**ADA, "learner_id": ""}])
    tn = prevalidate(
        access,
        "TN",
        [
            learner(learner_id="", npi="1234567893", license_state="TN"),
            learner(learner_id="", npi="1234567890", license_state="TN"),
            learner(learner_id="MD1", license_state="NC"),
        ],
    )
    assert [result.status for result in tn] == ["match", "invalid", "invalid"]
    assert tn[1].fields[0] == "npi"
    assert tn[2].fields == ["license_state"]
    assert "1234567890" not in tn[1].message
    (by_name,) = prevalidate(access, "ABS", [learner(learner_id="")])
    assert by_name.status == "match"


def test_limits_and_refusals(
    access: ProviderAccess, reader: User, provider: Provider, registry: None, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="At most"):
        prevalidate(access, "ABIM", [learner()] * (MAX_LEARNERS + 1))
    with pytest.raises(ValueError, match="Unknown recipient"):
        prevalidate(access, "XYZ", [learner()])
    with pytest.raises(PermissionDenied):
        prevalidate(get_provider_access(reader, provider.provider_id), "ABIM", [learner()])
    assert prevalidate(access, "ABIM", []) == []
    Recipient.objects.filter(code="ABIM").update(
        connector="file", connector_config={"outbox": str(tmp_path)}
    )
    with pytest.raises(PrevalidationUnavailable, match="no learner matching"):
        prevalidate(access, "ABIM", [learner()])
    # An invalid learner needs no registry: answered even when matching is unavailable.
    (invalid,) = prevalidate(access, "ABIM", [learner(first_name="")])
    assert (invalid.status, invalid.fields) == ("invalid", ["first_name"])
