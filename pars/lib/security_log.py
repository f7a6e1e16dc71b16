"""Security logging: one function per event, all on the ``pars.security`` logger.

Each line reads ``security event=<name> user=<id> provider=<id> ip=<address>
path=<path> …`` and each record carries the same values as attributes
(``security_event``, ``user_id``, ``provider_id``, ``ip``, ``path``) for
structured handlers. Lines name people and providers by database/provider ID
only: never a password, a birth date, an NPI, a board or learner ID, a learner's
name, an API key's secret or a typed username (failed logins carry a fingerprint
of it, so repeated attempts on one account can be correlated).

:class:`RedactFilter` is a safety net for every handler: it masks NPI-like digit
runs, ``MM-DD``/``MM/DD`` birth dates, API-key secrets and ``name=value`` pairs
of personal fields in any record, whoever logged it.

The signal receivers (logins, logouts, failures, axes lockouts) are connected by
:func:`connect_signals`, called from ``pars.apps.ParsConfig.ready``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

if TYPE_CHECKING:
    from pars.accounts.access import ProviderAccess
    from pars.accounts.models import ApiKey

logger = logging.getLogger("pars.security")

LOGIN_SUCCEEDED = "login_succeeded"
LOGIN_FAILED = "login_failed"
LOCKED_OUT = "locked_out"
LOGGED_OUT = "logged_out"
PERMISSION_DENIED = "permission_denied"
NOT_FOUND = "not_found"
API_KEY_USED = "api_key_used"
API_KEY_REJECTED = "api_key_rejected"
RATE_LIMITED = "rate_limited"
PERSONAL_DATA_VIEWED = "personal_data_viewed"
MFA_ENROLLED = "mfa_enrolled"
MFA_DISABLED = "mfa_disabled"
MFA_RESET = "mfa_reset"
MFA_RECOVERY_CODES_REPLACED = "mfa_recovery_codes_replaced"
MFA_RECOVERY_CODE_USED = "mfa_recovery_code_used"
MFA_FAILED = "mfa_failed"


def client_ip(request: HttpRequest | None) -> str:
    """The client address as axes saw it (it honors its proxy settings), else REMOTE_ADDR."""
    if request is None:
        return "-"
    address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")
    return str(address or "-")


def _user_id(request: HttpRequest | None, user: Any = None) -> str:
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False) and user.pk is not None:
        return str(user.pk)
    return "-"


def _provider_id(request: HttpRequest | None) -> str:
    if request is None:
        return "-"
    access = getattr(request, "auth", None)
    provider = getattr(access, "provider", None)
    if provider is not None:
        return str(provider.provider_id)
    match = getattr(request, "resolver_match", None)
    if match is not None and match.kwargs.get("provider_id"):
        return str(match.kwargs["provider_id"])
    return "-"


def _fingerprint(username: str) -> str:
    """A short, stable, non-reversible reference to a typed username."""
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:12]


def _log(
    event: str,
    request: HttpRequest | None,
    *,
    level: int = logging.INFO,
    user: Any = None,
    provider_id: str | None = None,
    **fields: object,
) -> None:
    values = {
        "user": _user_id(request, user),
        "provider": provider_id or _provider_id(request),
        "ip": client_ip(request),
        "path": request.path if request is not None else "-",
        **{name: value for name, value in fields.items() if value not in (None, "")},
    }
    logger.log(
        level,
        "security event=%s " + " ".join(f"{name}=%s" for name in values),
        event,
        *values.values(),
        extra={
            "security_event": event,
            "user_id": values["user"],
            "provider_id": values["provider"],
            "ip": values["ip"],
            "path": values["path"],
        },
    )


def login_succeeded(request: HttpRequest | None, user: Any) -> None:
    _log(LOGIN_SUCCEEDED, request, user=user)


def login_failed(request: HttpRequest | None, username: str) -> None:
    user = _existing_user(username)
    _log(
        LOGIN_FAILED,
        request,
        level=logging.WARNING,
        user=user,
        username_fp=_fingerprint(username) if username else "",
    )


def locked_out(request: HttpRequest | None, username: str) -> None:
    user = _existing_user(username)
    _log(
        LOCKED_OUT,
        request,
        level=logging.WARNING,
        user=user,
        username_fp=_fingerprint(username) if username else "",
    )


def logged_out(request: HttpRequest | None, user: Any) -> None:
    _log(LOGGED_OUT, request, user=user)


def permission_denied(request: HttpRequest) -> None:
    """A 403 in a provider's workspace or the web service."""
    _log(PERMISSION_DENIED, request, level=logging.WARNING)


def not_found(request: HttpRequest) -> None:
    """A 404 in a provider's workspace, the staff pages or the web service (the tenancy
    rule answers another provider's data with 404, so probing shows up here)."""
    _log(NOT_FOUND, request, level=logging.WARNING)


def api_key_used(request: HttpRequest, key: ApiKey) -> None:
    _log(
        API_KEY_USED,
        request,
        provider_id=key.provider.provider_id,
        key=key.prefix,
        method=request.method,
    )


def api_key_rejected(request: HttpRequest, prefix: str) -> None:
    """A web-service call without a valid key (missing, wrong, revoked): 401."""
    _log(API_KEY_REJECTED, request, level=logging.WARNING, key=prefix or "-")


def rate_limited(request: HttpRequest, scope: str, key_prefix: str = "") -> None:
    _log(RATE_LIMITED, request, level=logging.WARNING, scope=scope, key=key_prefix)


def personal_data_viewed(request: HttpRequest, access: ProviderAccess, count: int) -> None:
    """Staff were shown learners' personal data (the AuditEvent holds the reason)."""
    _log(
        PERSONAL_DATA_VIEWED,
        request,
        provider_id=access.provider.provider_id,
        records=count,
    )


def mfa_enrolled(request: HttpRequest | None, user: Any) -> None:
    _log(MFA_ENROLLED, request, user=user)


def mfa_disabled(request: HttpRequest | None, user: Any) -> None:
    """The user removed their own two-factor devices (after entering a code)."""
    _log(MFA_DISABLED, request, level=logging.WARNING, user=user)


def mfa_reset(request: HttpRequest | None, staff: Any, target: Any) -> None:
    """Staff removed another user's two-factor devices: ``user`` is the staff member."""
    _log(MFA_RESET, request, level=logging.WARNING, user=staff, target=target.pk)


def mfa_recovery_codes_replaced(request: HttpRequest | None, user: Any) -> None:
    _log(MFA_RECOVERY_CODES_REPLACED, request, user=user)


def mfa_recovery_code_used(request: HttpRequest | None, user: Any, left: int) -> None:
    _log(MFA_RECOVERY_CODE_USED, request, level=logging.WARNING, user=user, codes_left=left)


def mfa_failed(request: HttpRequest | None, user: Any) -> None:
    """A wrong (or throttled) two-factor code from a user who passed the password step."""
    _log(MFA_FAILED, request, level=logging.WARNING, user=user)


def _existing_user(username: str) -> Any:
    """The user a typed username names, if any (to log their ID, not what was typed)."""
    if not username:
        return None
    from django.contrib.auth import get_user_model

    model = get_user_model()
    field = model.USERNAME_FIELD
    return model._default_manager.filter(**{f"{field}__iexact": username.strip()}).first()


# Signal receivers ---------------------------------------------------------------


def _on_logged_in(sender: object, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    login_succeeded(request, user)


def _on_logged_out(sender: object, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    logged_out(request, user)


def _on_login_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if getattr(request, "axes_locked_out", False):
        return  # the lockout is logged by _on_locked_out
    from django.contrib.auth import get_user_model

    username = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username")
    login_failed(request, str(username or ""))


def _on_locked_out(
    sender: object, request: HttpRequest | None, username: str | None = None, **kwargs: Any
) -> None:
    locked_out(request, str(username or ""))


def connect_signals() -> None:
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(_on_logged_in, dispatch_uid="pars.security.logged_in")
    user_logged_out.connect(_on_logged_out, dispatch_uid="pars.security.logged_out")
    user_login_failed.connect(_on_login_failed, dispatch_uid="pars.security.login_failed")
    user_locked_out.connect(_on_locked_out, dispatch_uid="pars.security.locked_out")


# The safety net -------------------------------------------------------------------

_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # API keys: keep the public prefix, drop the secret.
    (re.compile(r"\b(pars_[0-9a-f]{1,16}_)[A-Za-z0-9_\-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)\b(bearer)\s+\S+"), r"\1 [redacted]"),
    # name=value / "name": value pairs of secret or personal fields.
    (
        re.compile(
            r"(?i)(['\"]?\b(?:password\d?|passwd|secret|token|npi|birth_?(?:date|month|day)"
            r"|dob|learner_?id|board_?id|first_?name|last_?name|middle_?name)['\"]?"
            r"\s*[:=]\s*)('[^']*'|\"[^\"]*\"|[^\s,;&}]+)"
        ),
        r"\1[redacted]",
    ),
    # NPI-like: ten digits standing alone (not inside a hex API-key prefix or an ID).
    (re.compile(r"(?<![0-9A-Za-z])\d{10}(?![0-9A-Za-z])"), "[redacted-npi]"),
    # A US date MM/DD/YYYY, then a birth date as MM-DD or MM/DD (two digits each, not
    # part of a longer date such as the ISO 2025-01-02 of a timestamp).
    (
        re.compile(r"(?<![\d\-/])(?:0[1-9]|1[0-2])/(?:0[1-9]|[12]\d|3[01])/\d{2,4}(?!\d)"),
        "[redacted-date]",
    ),
    (
        re.compile(r"(?<![\d\-/])(?:0[1-9]|1[0-2])[-/](?:0[1-9]|[12]\d|3[01])(?![\d\-/])"),
        "[redacted-date]",
    ),
]


# What every pattern above needs in what it masks: a line holding none of it (most do)
# is left as it is after one cheap look, not six regex passes (a fifth of an API
# request's log line). ASCII text only: other text always takes the patterns, whose
# case-insensitive matching and \d follow Unicode's rules.
_NEEDED_WORDS = (
    "pars_",
    "bearer",
    "passw",
    "secret",
    "token",
    "npi",
    "birth",
    "dob",
    "learner",
    "board",
    "name",
)
_NEEDED_DIGITS = re.compile(r"\d{10}|\d\d[-/]\d\d")


def _may_need_redacting(text: str) -> bool:
    if not text.isascii():
        return True
    folded = text.lower()
    return any(word in folded for word in _NEEDED_WORDS) or _NEEDED_DIGITS.search(text) is not None


def redact(text: str) -> str:
    if not _may_need_redacting(text):
        return text
    return redact_always(text)


def redact_always(text: str) -> str:
    """redact without the first look (the tests compare the two)."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Masks personal data and secrets in every record a handler emits (never drops one).

    Attach it to handlers (a logger's filters only see records logged on that very
    logger, not those propagated from its children).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's error path
            return True
        # Formatted once: the handler's formatter reads the message as it stands.
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
