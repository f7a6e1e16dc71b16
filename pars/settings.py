"""PARS settings: one file, driven by environment variables (see README "Configuration")."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from dotenv import load_dotenv

from pars.lib.env import env_bool, env_int, env_list, env_str

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

# `make run` writes a local, git-ignored .env with a generated PARS_SECRET_KEY, so the
# operator commands of the README run beside it without PARS_DEBUG=1. The environment
# always wins over the file; PARS_ENV_FILE names another file ("" for none).
_ENV_FILE = os.environ.get("PARS_ENV_FILE", str(BASE_DIR / ".env"))
if _ENV_FILE:
    load_dotenv(_ENV_FILE, override=False)

# A placeholder key that is fine for a laptop and fatal anywhere else: the system
# check pars.E001 and pars/wsgi.py refuse to run with it while DEBUG is off.
INSECURE_DEFAULT_SECRET_KEY = "insecure-pars-development-key-do-not-use-in-production"
SECRET_KEY = env_str("PARS_SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
DEBUG = env_bool("PARS_DEBUG", False)
ALLOWED_HOSTS = env_list("PARS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("PARS_CSRF_TRUSTED_ORIGINS", [])

# Links in emails are built from this, because invitations are also sent from the
# command line and from background tasks, where there is no request.
PARS_BASE_URL = env_str("PARS_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}")
PARS_SITE_NAME = env_str("PARS_SITE_NAME", "PARS")
PARS_SUPPORT_EMAIL = env_str("PARS_SUPPORT_EMAIL", "pars-support@example.org")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_otp",  # its devices are pars.accounts' own (seeds encrypted, codes hashed)
    "django_htmx",
    "ninja",
    # Before django_tasks_db: its db_worker command (the worker with recovery) wins.
    "pars.jobs",
    "django_tasks_db",
    "pars",
    "pars.providers",
    "pars.accounts",
    "pars.audit",
    "pars.intake",
    "pars.activities",
    "pars.reporting",
    "pars.learners",
    "pars.accreditation",
    "pars.datareports",
    "pars.notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # no-store on every page, API answer and download; Permissions-Policy everywhere.
    "pars.lib.headers.SecurityHeadersMiddleware",
    # X-PARS-Environment (live or sandbox) on every web service answer.
    "pars.accounts.environment.EnvironmentHeaderMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Renews the session's expiry at most once a minute (no write per request).
    "pars.accounts.session.SessionRefreshMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The web service's refusals made outside its views (no route: 404) in its error shape.
    "pars.lib.api_errors.ApiErrorMiddleware",
    # 429 with Retry-After for the API (per key), sign-in and password resets.
    "pars.accounts.ratelimit.RateLimitMiddleware",
    # Ends sessions 12 hours after login; then two-factor state and its enforcement.
    "pars.accounts.middleware.SessionLifetimeMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "pars.accounts.middleware.MfaEnforcementMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns lockouts into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pars.urls"
WSGI_APPLICATION = "pars.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "pars" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pars.accounts.context_processors.navigation",
                "pars.notifications.context_processors.unread_notifications",
            ],
        },
    },
]

_SQLITE_URL = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _SQLITE_URL), conn_max_age=env_int("PARS_DB_CONN_MAX_AGE", 0)
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app and the task worker share the file: WAL lets readers and one
    # writer work at once, IMMEDIATE avoids "database is locked" on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # The statements every web service request runs are prepared on their connection after
    # this many runs (pars.lib.prepared); "off" for a pooler that cannot keep them.
    _prepare = env_str("PARS_DB_PREPARE_THRESHOLD", "5")
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        None if _prepare == "off" else env_int("PARS_DB_PREPARE_THRESHOLD", 5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Invitation (Set Password) links live 72 hours, password-reset links 1 hour:
# Django checks the longer limit, pars.accounts.tokens the shorter one.
PARS_INVITATION_MAX_AGE = timedelta(hours=env_int("PARS_INVITATION_HOURS", 72))
PARS_PASSWORD_RESET_MAX_AGE = timedelta(minutes=env_int("PARS_PASSWORD_RESET_MINUTES", 60))
PASSWORD_RESET_TIMEOUT = int(PARS_INVITATION_MAX_AGE.total_seconds())

# Sessions end after 30 minutes without a request: the expiry is renewed at most once a
# minute (pars.accounts.session), so reading a page writes nothing.
SESSION_COOKIE_AGE = env_int("PARS_SESSION_IDLE_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# ... and 12 hours after login however active they are (pars.accounts.middleware).
PARS_SESSION_ABSOLUTE_HOURS = env_int("PARS_SESSION_ABSOLUTE_HOURS", 12)

# Two-factor authentication (TOTP, django-otp): required for accreditor staff, optional
# for provider users unless their provider requires it (pars.accounts.mfa).
PARS_MFA_REQUIRED_FOR_STAFF = env_bool("PARS_MFA_REQUIRED_FOR_STAFF", True)
OTP_TOTP_ISSUER = PARS_SITE_NAME
# Keys for secrets kept at rest (TOTP seeds encrypted, recovery codes hashed; see
# pars.lib.field_crypto): long random strings, newest first; unset, derived from SECRET_KEY.
PARS_FIELD_ENCRYPTION_KEYS = env_list("PARS_FIELD_ENCRYPTION_KEYS", [])

# Lock a username+address pair after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = env_int("PARS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PARS_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the login form field, though users sign in by email
# Counted by the email lower-cased (case variants are one lockout); 429 with Retry-After.
AXES_USERNAME_CALLABLE = "pars.accounts.lockout.lockout_username"
AXES_LOCKOUT_CALLABLE = "pars.accounts.lockout.lockout_response"
AXES_VERBOSE = False

# Mail goes through Django's mailers: the console by default, a file or SMTP by settings.
_MAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
_mail_backend = env_str("PARS_EMAIL_BACKEND", "console")
_mail_options: dict[str, object] = {}
if _mail_backend == "file":
    _mail_options = {"file_path": env_str("PARS_EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))}
elif _mail_backend == "smtp":
    _mail_options = {
        "host": env_str("PARS_EMAIL_HOST", "localhost"),
        "port": env_int("PARS_EMAIL_PORT", 587),
        "username": env_str("PARS_EMAIL_HOST_USER", ""),
        "password": env_str("PARS_EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("PARS_EMAIL_USE_TLS", True),
    }
MAILERS = {
    "default": {
        "BACKEND": _MAIL_BACKENDS.get(_mail_backend, _mail_backend),
        "OPTIONS": _mail_options,
    }
}
DEFAULT_FROM_EMAIL = env_str("PARS_DEFAULT_FROM_EMAIL", "PARS Support <pars-support@example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

TASKS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": env_str("PARS_TASKS_BACKEND", "pars.jobs.wakeup.NotifyingDatabaseBackend"),
    }
}
# The queue in Redis instead (requirements/scale.txt): workers are `manage.py rqworker
# --job-class django_tasks_rq.Job`, and `manage.py recover_jobs` runs on a timer
# (docs/deployment.md).
if TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS["default"]["QUEUES"] = ["default"]
    RQ_QUEUES = {
        "default": {
            "URL": env_str("PARS_RQ_URL", "redis://127.0.0.1:6379/0"),
            # RQ's job timeout: a large upload runs for minutes.
            "DEFAULT_TIMEOUT": env_int("PARS_RQ_JOB_TIMEOUT_SECONDS", 3600),
        }
    }
# A running upload whose heartbeat is older than this lost its worker and is queued again;
# every task worker looks for such work (and for dead workers' tasks) when it starts and
# then at this interval (pars/jobs).
PARS_UPLOAD_LEASE_SECONDS = env_int("PARS_UPLOAD_LEASE_SECONDS", 300)
PARS_RECOVERY_INTERVAL_SECONDS = env_int("PARS_RECOVERY_INTERVAL_SECONDS", 60)
# PostgreSQL: an upload's batches are written from a second thread while the next rows
# are checked (pars/intake/background.py). Off by default: measured on a 2-core machine
# shared with PostgreSQL it cost CPU and gained nothing; turn it on (1) where the
# database has cores of its own and measure (make bench).
PARS_UPLOAD_WRITE_BEHIND = env_bool("PARS_UPLOAD_WRITE_BEHIND", False)
# An upload this big (rows) or this slow (seconds) tells its uploader when it is done
# (pars/notifications; smaller ones finish while the uploader watches).
PARS_NOTIFY_UPLOAD_ROWS = env_int("PARS_NOTIFY_UPLOAD_ROWS", 1000)
PARS_NOTIFY_UPLOAD_SECONDS = env_int("PARS_NOTIFY_UPLOAD_SECONDS", 60)

# Upload progress is shared between the task worker and the web processes through
# the cache: a file cache on one machine, Redis (or another shared cache) beyond.
CACHES = {
    "default": {
        "BACKEND": env_str(
            "PARS_CACHE_BACKEND", "django.core.cache.backends.filebased.FileBasedCache"
        ),
        "LOCATION": env_str("PARS_CACHE_LOCATION", str(BASE_DIR / "var" / "cache")),
    }
}

# Uploaded batch files larger than this are refused before they are read.
PARS_MAX_UPLOAD_BYTES = env_int("PARS_MAX_UPLOAD_MB", 200) * 1024 * 1024
# How far an Excel workbook may expand, checked from its zip directory before anything
# is inflated (pars/intake/readers/xlsx.py): in total, per part, and its
# shared strings (the table of distinct texts) by size and by count. Bigger files go as
# tab-delimited text, which has no such limit.
PARS_MAX_XLSX_UNCOMPRESSED_BYTES = env_int("PARS_MAX_XLSX_UNCOMPRESSED_MB", 200) * 1024 * 1024
PARS_MAX_XLSX_PART_BYTES = env_int("PARS_MAX_XLSX_PART_MB", 150) * 1024 * 1024
PARS_MAX_XLSX_SHARED_STRINGS_BYTES = env_int("PARS_MAX_XLSX_SHARED_STRINGS_MB", 64) * 1024 * 1024
PARS_MAX_XLSX_SHARED_STRINGS = env_int("PARS_MAX_XLSX_SHARED_STRINGS", 1_000_000)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# Uploaded files go through Django's storage API only (pars/intake/store.py): web
# processes and workers on several machines share them through object storage
# (PARS_STORAGE_BACKEND=s3: django-storages and boto3, requirements/scale.txt), never
# through a local path. "filesystem" (MEDIA_ROOT) is for one machine.
_STORAGE_BACKENDS = {
    "filesystem": "django.core.files.storage.FileSystemStorage",
    "s3": "storages.backends.s3.S3Storage",
}
_storage_backend = env_str("PARS_STORAGE_BACKEND", "filesystem")
_storage: dict[str, Any] = {"BACKEND": _STORAGE_BACKENDS.get(_storage_backend, _storage_backend)}
if _storage["BACKEND"] == _STORAGE_BACKENDS["s3"]:
    _storage["OPTIONS"] = {
        "bucket_name": env_str("PARS_S3_BUCKET", "pars-uploads"),
        "endpoint_url": env_str("PARS_S3_ENDPOINT_URL", "") or None,  # None: AWS itself
        "region_name": env_str("PARS_S3_REGION", "") or None,
        "access_key": env_str("PARS_S3_ACCESS_KEY_ID", "") or None,  # None: boto3's own chain
        "secret_key": env_str("PARS_S3_SECRET_ACCESS_KEY", "") or None,
        "location": env_str("PARS_S3_PREFIX", ""),
        "file_overwrite": False,  # names are random; never replace a stored file
        "default_acl": None,  # the bucket's own (private) policy
        "querystring_auth": True,
    }
STORAGES = {
    "default": _storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env_str("PARS_MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

LANGUAGE_CODE = "en-us"
# Dates month/day/year on every page and email (pars/formats/en/formats.py, pars.lib.dates).
FORMAT_MODULE_PATH = ["pars.formats"]
TIME_ZONE = env_str("PARS_TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
_HTTPS = env_bool("PARS_HTTPS", False)
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
CSRF_FAILURE_VIEW = "pars.lib.error_pages.csrf_failure"
SECURE_SSL_REDIRECT = _HTTPS and env_bool("PARS_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("PARS_HSTS_SECONDS", 31536000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
# Only a request to hstspreload.org puts a domain on the browsers' list; the header alone
# does not (PARS_HSTS_PRELOAD=0 for a host whose parent domain must keep plain HTTP).
SECURE_HSTS_PRELOAD = _HTTPS and env_bool("PARS_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if _HTTPS:
    # __Host- cookies are sent only over HTTPS, only to this host, never set by a subdomain.
    SESSION_COOKIE_NAME = "__Host-pars_session"
    CSRF_COOKIE_NAME = "__Host-pars_csrftoken"

# Content Security Policy (Django's own middleware, right after SecurityMiddleware):
# scripts only from our static files (htmx; no inline script anywhere), no plugins, no
# framing, forms post only here. Styles allow inline: the templates' <style> blocks and
# style attributes, pygal's inline SVG charts and htmx's indicator style. data: images are
# Pico CSS's icons (the TOTP QR code is inline SVG).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
)
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if env_bool("PARS_BEHIND_PROXY", False):
    # The proxy overwrites X-Forwarded-For with the client's address (docs/deployment.md):
    # lockouts and rate limits must count clients, not the proxy.
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("PARS_BEHIND_PROXY", False) else None
)

# Rate limits (count/period; an empty value turns one off), counted in the database
# (atomic across processes and machines) or, with PARS_RATELIMIT_STORE=cache, in Redis.
PARS_RATELIMIT_STORE = env_str("PARS_RATELIMIT_STORE", "database")
PARS_API_RATE = env_str("PARS_API_RATE", "600/m")
PARS_API_ANON_RATE = env_str("PARS_API_ANON_RATE", "60/m")
PARS_LOGIN_RATE = env_str("PARS_LOGIN_RATE", "30/m")
PARS_LOGIN_EMAIL_RATE = env_str("PARS_LOGIN_EMAIL_RATE", "20/h")
PARS_PASSWORD_RESET_RATE = env_str("PARS_PASSWORD_RESET_RATE", "20/h")
PARS_PASSWORD_RESET_EMAIL_RATE = env_str("PARS_PASSWORD_RESET_EMAIL_RATE", "5/h")

# Security events go to the "pars.security" logger; the redacting filter is a safety net
# that masks NPI-like numbers, birth dates, secrets and tokens in every log line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "pars.lib.security_log.RedactFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("PARS_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}, "pars.security": {"level": "INFO"}},
}
