"""Security logging (issue 7): one line per security event on ``pars.security``, and
never a password, birth date, NPI, board ID or learner name in any log record."""

import io
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.intake.store import store_upload
from pars.learners.connectors.simulator import add_to_registry
from pars.learners.models import LearnerCompletion
from pars.lib.security_log import RedactFilter, redact, redact_always
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD, learner_row, make_activity, register
from tests.security.test_rate_limits import with_rate_limits
from tests.support.delivery import ADA, later

WRONG_PASSWORD = "Wrong-Horse-Battery-99"


@pytest.fixture(autouse=True)
def _security_middleware(settings: Settings) -> Iterator[None]:
    settings.MIDDLEWARE = with_rate_limits(settings.MIDDLEWARE)
    settings.RATELIMIT_ENABLE = True  # the suite may turn the limits off elsewhere
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[..., Any]:
    def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def upload_learners(
    access: ProviderAccess, activity: Activity, committed: Callable[..., Any]
) -> None:
    """Learner upload and delivery, as in tests/learners/test_delivery.py."""
    register(activity, "TN")
    add_to_registry("ABIM", [ADA])
    rows = [
        learner_row(activity),  # accepted
        learner_row(activity, learner_id="987654", last_name="Byron", birth_date="11-30"),
        learner_row(
            activity,
            recipient="TN",
            learner_id="",
            npi="1234567893",
            license_state="TN",
            moc_points="",
            moc_credit_types="",
        ),
    ]
    header = [*rows[0], "npi", "license_state"]
    lines = ["\t".join(header)] + [
        "\t".join(str(row.get(name, "")) for name in header) for row in rows
    ]
    content = ("\n".join(lines) + "\n").encode()
    committed(store_upload, access, SimpleUploadedFile("learners.txt", content), kind="learners")
    with later(hours=1):
        committed(call_command, "deliver_completions", stdout=io.StringIO())


def test_security_events_are_logged_once_each_and_never_personal_data(
    provider: Provider,
    other_provider: Provider,
    editor: User,
    reader: User,
    mallory: User,
    staff: User,
    client_as: Callable[[User], Client],
    committed: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    make_activity(provider, provider_activity_id="MINE-1")
    access = get_provider_access(editor, provider.provider_id)
    _, token = create_api_key(provider=provider)
    _, other_token = create_api_key(provider=other_provider)
    as_reader, as_mallory, as_staff = client_as(reader), client_as(mallory), client_as(staff)
    login = reverse("accounts:login")

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        # Learner upload and delivery (no security events, but personal data flows).
        upload_learners(access, activity, committed)

        # A good login and a logout.
        browser = Client()
        response = browser.post(login, {"username": editor.email, "password": TEST_PASSWORD})
        assert response.status_code == 302
        browser.post(reverse("accounts:logout"))

        # Four failures, then the fifth locks the email + address out.
        intruder = Client(REMOTE_ADDR="192.0.2.66")
        for _ in range(5):
            intruder.post(login, {"username": editor.email, "password": WRONG_PASSWORD})

        # A 403 (a read-only member inviting) and a 404 (another provider's workspace).
        invite = reverse("accounts:member_invite", args=[provider.provider_id])
        assert as_reader.get(invite).status_code == 403
        dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
        assert as_mallory.get(dashboard).status_code == 404

        # The web service: a call with a key, a wrong key, another provider's activity.
        api = Client()
        assert api.get("/api/v1/provider", **bearer(token)).status_code == 200
        assert api.get("/api/v1/provider", **bearer(token[:-3] + "abc")).status_code == 401
        assert api.get("/api/v1/activities/MINE-1", **bearer(other_token)).status_code == 404

        # Staff are shown the learners' personal data.
        staff_page = reverse("learners:staff_list", args=[provider.provider_id])
        response = as_staff.post(staff_page, {"reason": "Board query 42"})
        assert response.status_code == 200
        assert response.context["revealed"]

    assert sorted(LearnerCompletion.objects.values_list("status", flat=True)) == [
        "accepted",
        "held",
        "held",
    ]
    events = Counter(
        getattr(record, "security_event", None)
        for record in caplog.records
        if record.name == "pars.security"
    )
    assert events == {
        "login_succeeded": 1,
        "logged_out": 1,
        "login_failed": 4,
        "locked_out": 1,
        "permission_denied": 1,
        "not_found": 2,
        "api_key_used": 2,
        "api_key_rejected": 1,
        "personal_data_viewed": 1,
    }
    by_event = {
        record.security_event: record  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "pars.security"
    }
    assert by_event["login_succeeded"].user_id == str(editor.pk)  # type: ignore[attr-defined]
    assert by_event["locked_out"].ip == "192.0.2.66"  # type: ignore[attr-defined]
    assert by_event["permission_denied"].provider_id == provider.provider_id  # type: ignore[attr-defined]
    assert by_event["personal_data_viewed"].user_id == str(staff.pk)  # type: ignore[attr-defined]
    key_lines = [r.getMessage() for r in caplog.records if "api_key_used" in r.getMessage()]
    assert f"key={token.split('_')[1]}" in key_lines[0]  # the key's public prefix only

    text = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
        + [repr(vars(record)) for record in caplog.records]
    )
    secrets = [
        TEST_PASSWORD,
        WRONG_PASSWORD,
        token.split("_", 2)[2],
        other_token.split("_", 2)[2],
        "123456",  # board (learner) IDs
        "987654",
        "1234567893",  # NPI
        "12-10",  # birth dates
        "12/10",
        "11-30",
        "11/30",
        "Lovelace",  # learners' names
        "Byron",
        "Ada",
        "Board query",  # the reason goes to the audit trail, not the log
    ]
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("npi 1234567893 sent", "npi [redacted-npi] sent"),
        (
            "born 12-10 or 12/10 or 12/10/1980",
            "born [redacted-date] or [redacted-date] or [redacted-date]",
        ),
        ("password=hunter2hunter2 next", "password=[redacted] next"),
        (
            "{'npi': '1234567893', 'birth_month': 12}",
            "{'npi': [redacted], 'birth_month': [redacted]}",
        ),
        ("learner_id=123456&last_name=Byron", "learner_id=[redacted]&last_name=[redacted]"),
        ("Authorization: Bearer pars_abc123_SECRETsecret", "Authorization: Bearer [redacted]"),
        ("key pars_abc123_SECRET-secret_x used", "key pars_abc123_[redacted] used"),
        ("npi=1234567893", "npi=[redacted]"),
        ("learner 1234567893.", "learner [redacted-npi]."),
        # Left alone: ISO dates and times, provider IDs, counts, and an API key's public
        # prefix even when it happens to hold ten digits in a row (CI saw that once).
        ("api_key.used key=cf1234567890ab", None),
        ("at 2026-03-02 12:10:05 provider 0001234 rows 12", None),
    ],
)
def test_the_redact_filter_masks_personal_data_in_any_record(raw: str, cleaned: str | None) -> None:
    record = logging.LogRecord("any.logger", logging.INFO, __file__, 1, "%s", (raw,), None)
    assert RedactFilter().filter(record) is True
    assert record.getMessage() == (cleaned if cleaned is not None else raw)
    assert redact(raw) == record.getMessage()


# Pieces of what the patterns mask and of what they leave, in any case and order: the
# first look (redact) must never leave alone a line the patterns would change.
_PIECES = st.sampled_from(
    [
        "pars_",
        "ab12",
        "_",
        "Bearer",
        "bearer ",
        "PASSWORD",
        "passwd",
        "Secret",
        "token",
        "NPI",
        "npi",
        "birth_date",
        "BirthMonth",
        "dob",
        "learner_id",
        "LearnerID",
        "board_id",
        "first_name",
        "LastName",
        "middle_name",
        "=",
        ": ",
        "'",
        '"',
        " ",
        "/",
        "-",
        "12",
        "10",
        "31",
        "1980",
        "0",
        "123456789",
        "1234567893",
        "é",
        "K",
        "ſecret",
        "١٢",
    ]
)


@given(st.lists(_PIECES | st.text(max_size=3), max_size=12).map("".join))
@settings(max_examples=400, deadline=None)
@example("pars_ab12_SECRET")
@example("Bearer x")
@example("passWord2=x")
@example("passwd: 'x'")
@example("secret=x")
@example("token=x")
@example("NPI=x")
@example("birthday=x")
@example("dob=x")
@example("learnerid=x")
@example("board_id=x")
@example("first_name=x")
@example("lastname=x")
@example("middle_name=x")
@example("1234567893")
@example("12/10/80")
@example("12-10")
def test_the_first_look_never_leaves_a_line_the_patterns_would_mask(text: str) -> None:
    assert redact(text) == redact_always(text)


def test_the_redact_filter_masks_tracebacks(db: None) -> None:
    try:
        raise ValueError("bad NPI 1234567893")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "any.logger", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    RedactFilter().filter(record)
    assert record.exc_text is not None
    assert "1234567893" not in record.exc_text
    assert "[redacted-npi]" in record.exc_text


def test_a_failed_login_logs_a_fingerprint_not_the_typed_username(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pars.security"):
        Client().post(
            reverse("accounts:login"), {"username": "typo@example.org", "password": "x" * 12}
        )
    (record,) = [r for r in caplog.records if r.name == "pars.security"]
    assert record.security_event == "login_failed"  # type: ignore[attr-defined]
    assert "typo@example.org" not in record.getMessage()
    assert "username_fp=" in record.getMessage()
