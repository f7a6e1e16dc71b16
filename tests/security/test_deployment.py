"""Production settings pass ``manage.py check --deploy`` and send the security headers.

The production environment is the one docs/deployment.md describes: DEBUG off, a long
random secret key, HTTPS behind a proxy, one allowed host, PostgreSQL, SMTP mail. The
checks run in a subprocess because settings are read from the environment once, at import.
The Content Security Policy is on everywhere (tests included), so the browser test at the
end proves the pages still work under it: no violation reported while using them.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, ConsoleMessage, expect
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role
from pars.reporting.models import ReportingYear
from pars.testing import TEST_PASSWORD, make_activity, make_member, make_provider, make_user
from tests.support.browser import skip_without_chromium

ROOT = Path(__file__).resolve().parent.parent.parent


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of docs/deployment.md, without anything inherited from this shell."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PARS_", "DATABASE_URL"))}
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "pars.settings",
        "PARS_DEBUG": "0",
        "PARS_SECRET_KEY": secrets.token_urlsafe(50),
        "PARS_HTTPS": "1",
        "PARS_BEHIND_PROXY": "1",
        "PARS_ALLOWED_HOSTS": "pars.example.org",
        "PARS_BASE_URL": "https://pars.example.org",
        "DATABASE_URL": "postgres://pars:secret@db.internal:5432/pars",
        "PARS_DB_CONN_MAX_AGE": "60",
        "PARS_EMAIL_BACKEND": "smtp",
        "PARS_EMAIL_HOST": "smtp.example.org",
        **overrides,
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_check_deploy_is_clean_with_the_production_settings() -> None:
    result = check_deploy(production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output.upper().replace("--FAIL-LEVEL WARNING", "")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"PARS_HTTPS": "0"}, "security.W004"),  # no HSTS, no secure cookies, no redirect
        ({"PARS_EMAIL_BACKEND": "console"}, "mail.E001"),  # mail would never leave
        ({"PARS_SECRET_KEY": "short"}, "security.W009"),
    ],
)
def test_check_deploy_catches_a_weaker_configuration(
    overrides: dict[str, str], expected: str
) -> None:
    """The clean run above means something: each weakening is reported."""
    result = check_deploy(production_env(**overrides))
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr


# Runs inside a production-configured interpreter: the response headers and cookies of
# the login page over HTTPS (as the proxy reports it) and the redirect of plain HTTP.
_HEADERS_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="pars.example.org")
plain = client.get("/accounts/login/")
secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location"),
    "status": secure.status_code,
    "headers": dict(secure.headers),
    "cookies": {name: {"secure": bool(c["secure"]), "httponly": bool(c["httponly"]),
                       "samesite": c["samesite"], "path": c["path"], "domain": c["domain"]}
                for name, c in secure.cookies.items()},
}))
"""


def test_production_responses_carry_the_security_headers(tmp_path: Path) -> None:
    # The login page reads no table; SQLite keeps the probe free of a database server.
    env = production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}")
    result = run(["-c", _HEADERS_PROBE], env)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])

    assert probe["plain_status"] == 301
    assert probe["plain_location"] == "https://pars.example.org/accounts/login/"

    assert probe["status"] == 200
    headers = {name.lower(): value for name, value in probe["headers"].items()}
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp

    csrf = probe["cookies"]["__Host-pars_csrftoken"]
    assert csrf["secure"]
    assert csrf["path"] == "/"
    assert not csrf["domain"]  # a __Host- cookie has no Domain


@pytest.mark.django_db
def test_every_page_sends_the_content_security_policy(client: Client) -> None:
    """Also without HTTPS (development, tests): the policy is never only a production thing."""
    response = client.get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_work_under_the_content_security_policy(
    browser: Browser, live_server: LiveServer
) -> None:
    """A provider editor and staff walk through the main pages; the browser reports no
    violation of the policy (a blocked script, style, image or form would be logged)."""
    skip_without_chromium()
    from tests.support.browser import log_in, new_page

    year = timezone.localdate().year
    ReportingYear.objects.create(year=year, deadline=date(year + 1, 12, 31))
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    activity = make_activity(
        provider,
        start_date=date(year, 3, 1),
        end_date=date(year, 3, 1),
        reporting_year=year,
        physician_learners=30,
    )
    make_member(provider, Role.ADMIN, email="alice@riverside.example")
    make_user("sam@accreditor.example", is_staff=True, is_superuser=True)

    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    base = live_server.url
    context, page = new_page(browser)
    page.on("console", watch)
    log_in(page, base, "alice@riverside.example", TEST_PASSWORD)
    expect(page).to_have_url(f"{base}/p/0001234/")
    # htmx is loaded from our static files and runs: it adds its class to the body's nodes.
    assert page.evaluate("typeof window.htmx") == "object"
    for path in (
        "/p/0001234/activities/",
        f"/p/0001234/activities/{activity.pk}/",
        "/p/0001234/activities/new/",
        "/p/0001234/learners/",
        "/rules/activities/",
        "/guide/",
    ):
        response = page.goto(base + path)
        assert response is not None
        assert response.status < 400, path
    context.close()

    context, page = new_page(browser)
    page.on("console", watch)
    log_in(page, base, "sam@accreditor.example", TEST_PASSWORD)
    for path in (
        f"/staff/data-report/{year}/",  # inline SVG charts with their <style>
        "/staff/providers/",
        "/staff/reporting/",
        "/admin/",
        "/admin/providers/provider/",
    ):
        response = page.goto(base + path)
        assert response is not None
        assert response.status < 400, path
    expect(page.locator("#content")).to_be_visible()
    context.close()

    assert violations == []
