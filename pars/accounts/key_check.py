"""The API key check of a new activity's POST, sent with its write (PostgreSQL).

Every web-service request has its key checked against the database (a revoked key is
refused at once) and counted for the rate limit: one statement, one round trip before the
view (pars.accounts.ratelimit). For ``POST /api/v1/activities``, whose new activity is
written in one round trip of its own (pars.activities.small_writes.add_in_one_round_trip),
the check can instead travel first in that round trip: one wait for PostgreSQL in all, as a
bare insert has. That is safe because nothing of the request reaches the database before
its check:

- a request goes ahead without a round trip only with a token this process verified
  before (the ordinary way) in the last REMEMBERED_FOR seconds; its key and provider are
  remembered with the versions of their rows (``xmin``: any change to a row, a revocation
  or an edit, gives it a new one); not with an Idempotency-Key, If-Match or a dry run,
  which run in a transaction that could roll the count back;
- its check (:data:`CHECK_SQL`) finds both rows still at those versions, the key unrevoked
  with the same secret hash, environment and provider, and counts the request; else it
  raises, which rolls back everything sent with it (PostgreSQL runs what is sent before
  one Sync as one transaction);
- any other statement of the request runs the check on its own first (a connection
  execute wrapper), unless it is in a transaction or a pipeline (then the request is run
  again the ordinary way, nothing having run yet), and a request that sent none runs it
  before its answer leaves;
- a check that fails, for whatever reason (a revoked key, an edited provider, the rate
  limit), means nothing was written: the request is then run again the ordinary way, which
  answers 401 or 429 as always, or succeeds with the key read afresh.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from pars.accounts.models import ApiKey
from pars.lib.prepared import prepared_cursor
from pars.models import RateLimitCounter
from pars.providers.models import Provider

# The SQLSTATE pars_api_key_check raises (accounts migration 0005): matched, never a text.
REFUSED = "PK401"
UNDEFINED_FUNCTION = "42883"  # the migration not run yet: the ordinary way, until it is
REMEMBERED_KEYS = 1024  # per process; the oldest is forgotten first
REMEMBERED_FOR = 300  # seconds: then verified the ordinary way again

logger = logging.getLogger(__name__)


class KeyCheckFailed(Exception):
    """A deferred key check failed: nothing was written; the request is run again."""


@dataclass(frozen=True)
class Verified:
    """A key (its provider attached) as this process last verified it, with the versions
    of the two rows it was read from."""

    key: ApiKey
    key_version: str
    provider_version: str
    verified_at: float  # time.monotonic()


@dataclass
class PendingCheck:
    """A request's key check, not run yet: its statement and where it stands."""

    verified: Verified
    bucket: str
    window_end: int
    limit: int
    settled: bool = False
    failed: bool = False
    sending: bool = False  # its statement is being sent (by a pipeline or on its own)

    def statement(self) -> tuple[str, list[Any]]:
        return CHECK_SQL, [*self._counted_params(), self.limit]

    def statement_then(self, select: str, params: list[Any]) -> tuple[str, list[Any]]:
        """The check, then `select` (a SELECT of expressions, such as a lock to take) once
        it has passed, as one statement: one statement fewer to send and run than the two.
        The check is the FROM of `select` and its answer the condition of `select`'s row:
        evaluated first, whatever the planner makes of the subquery (the function being
        VOLATILE also keeps it; tests/accounts/test_key_with_write.py checks both)."""
        assert select.startswith("SELECT ")
        assert " FROM " not in select
        sql = f"{_CHECK_COUNTED} {select} FROM ({_CHECK_PASSED} AS ok) AS passed WHERE passed.ok"
        return sql, [*self._counted_params(), *params, self.limit]

    def _counted_params(self) -> list[Any]:
        key = self.verified.key
        return [
            *(key.pk, self.verified.key_version, self.verified.provider_version),
            *(key.secret_hash, key.environment, key.provider_id),
            *(self.bucket, self.window_end),
        ]


_remembered: OrderedDict[str, Verified] = OrderedDict()
_remembering = threading.Lock()  # (free-threaded Python: the GIL does not order them)
_function_missing = False
_current: ContextVar[PendingCheck | None] = ContextVar("pars_key_check", default=None)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def remember(token: str, key: ApiKey, key_version: str, provider_version: str) -> None:
    """`key` (its provider attached) verified for `token` just now, read from rows of
    these versions."""
    digest = _token_digest(token)
    # Copies: the instances a request goes on using are never the remembered ones.
    remembered = _clone(key)
    remembered.provider = _clone(key.provider)
    verified = Verified(remembered, key_version, provider_version, time.monotonic())
    with _remembering:
        _remembered[digest] = verified
        _remembered.move_to_end(digest)
        while len(_remembered) > REMEMBERED_KEYS:
            _remembered.popitem(last=False)


def forget(token: str) -> None:
    with _remembering:
        _remembered.pop(_token_digest(token), None)


def stamp_last_used(token: str, key: ApiKey, when: datetime.datetime) -> bool:
    """The key's last use written, when `token` is remembered, only if its row is still
    at the remembered version; then remembered at its new one (else forgotten, to be read
    afresh: a change made meanwhile, a revocation say, is never taken for ours). Whether
    it was written."""
    verified = recalled(token)
    connection = connections[DEFAULT_DB_ALIAS]
    if verified is None or verified.key.pk != key.pk or connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL, [when, key.pk, verified.key_version])
        row = cursor.fetchone()
    if row is None:
        forget(token)
        return False
    stamped = own_copy(verified)
    stamped.last_used_at = when
    remember(token, stamped, row[0], verified.provider_version)
    return True


def forget_all() -> None:
    """Every remembered key forgotten (and the check's function looked for again)."""
    global _function_missing
    with _remembering:
        _remembered.clear()
    _function_missing = False


def recalled(token: str) -> Verified | None:
    """The key remembered for `token`, if verified in the last REMEMBERED_FOR seconds."""
    if _function_missing:
        return None
    verified = _remembered.get(_token_digest(token))
    if verified is None or time.monotonic() - verified.verified_at > REMEMBERED_FOR:
        return None
    return verified


def own_copy(verified: Verified) -> ApiKey:
    """A copy of the remembered key and provider for one request to use (and change)."""
    key = _clone(verified.key)
    key.provider = _clone(verified.key.provider)
    return key


def _clone[M: Model](instance: M) -> M:
    """A shallow copy of a model instance with a state of its own (copy.copy goes through
    pickling's protocol: a tenth of a millisecond for the two, on every request)."""
    clone = object.__new__(type(instance))
    clone.__dict__.update(instance.__dict__)
    state = copy.copy(instance._state)
    state.fields_cache = {}  # its related objects are set anew (the key's provider)
    clone._state = state
    return clone


def pending() -> PendingCheck | None:
    """This request's key check if it is still to run (to be sent first with a write);
    KeyCheckFailed if it failed (nothing more may run)."""
    check = _current.get()
    if check is not None and check.failed:
        raise KeyCheckFailed
    return check if check is not None and not check.settled else None


@contextmanager
def sent_with_write(check: PendingCheck | None) -> Iterator[None]:
    """Around a pipeline that sends `check`'s statement first: the statements pass the
    guard; the check has passed when the pipeline has (else it is still to run, or failed)."""
    if check is None:
        yield
        return
    check.sending = True
    try:
        yield
    except DatabaseError as error:
        if refused(error):
            check.failed = True
            raise KeyCheckFailed from error
        raise
    else:
        check.settled = True
    finally:
        check.sending = False


def refused(error: BaseException) -> bool:
    """Whether a database error is the key check's refusal (or its function is missing:
    the migration not run yet; then no check is deferred in this process any more)."""
    global _function_missing
    cause = error.__cause__ if isinstance(error, DatabaseError) else error
    state = getattr(cause, "sqlstate", None)
    if state == UNDEFINED_FUNCTION and "pars_api_key_check" in str(cause):
        if not _function_missing:
            logger.warning("pars_api_key_check is missing: run the migrations (accounts 0005)")
        _function_missing = True
        return True
    return state == REFUSED


def run_alone(check: PendingCheck) -> None:
    """The check as a statement of its own: settled, or failed (KeyCheckFailed)."""
    connection = connections[DEFAULT_DB_ALIAS]
    check.sending = True
    try:
        with prepared_cursor(connection) as cursor:
            cursor.execute(*check.statement())
    except DatabaseError as error:
        if not refused(error):
            raise
        check.failed = True
        raise KeyCheckFailed from error
    finally:
        check.sending = False
    check.settled = True


def _check_first(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    """The execute wrapper: no statement of the request runs before its key check."""
    check = _current.get()
    if check is not None and not check.settled and not check.sending:
        connection = context["connection"]
        if not check.failed and (connection.in_atomic_block or _in_pipeline(connection)):
            # Counted there, the count could be rolled back (a dry run's transaction),
            # or its refusal come too late: the ordinary way instead, as nothing ran yet.
            check.failed = True
        if check.failed:
            raise KeyCheckFailed
        run_alone(check)
    return execute(sql, params, many, context)


def _in_pipeline(connection: Any) -> bool:
    from psycopg import pq

    raw = connection.connection
    return raw is not None and raw.pgconn.pipeline_status != pq.PipelineStatus.OFF


def run_deferred(
    check: PendingCheck,
    request: HttpRequest,
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> HttpResponseBase | None:
    """The request's response with its key check deferred, or None when the check failed
    (nothing was written: the caller runs the request the ordinary way)."""
    reset = _current.set(check)
    try:
        with connections[DEFAULT_DB_ALIAS].execute_wrapper(_check_first):
            response = get_response(request)
            if not check.settled and not check.failed:
                run_alone(check)  # a request that sent no statement (an invalid body)
    except KeyCheckFailed:
        response = None
    finally:
        _current.reset(reset)
    return None if check.failed else response


def deferred(request: HttpRequest) -> bool:
    """Whether this request's key check is deferred (its use is logged once it passes)."""
    return _current.get() is not None


# The key and its provider still at the versions verified, the key unrevoked with the same
# secret, environment and provider (xmin is 32 bits: never its only witness); then the
# request counted (as ratelimit's statement counts). Anything else raises REFUSED, which
# rolls back whatever was sent with it. Table and column names come from the models.
_KEYS = ApiKey._meta.db_table
_PROVIDERS = Provider._meta.db_table
_COUNTER = RateLimitCounter._meta.db_table
_STAMP_SQL = (
    f"UPDATE {_KEYS} SET last_used_at = %s WHERE id = %s AND xmin = %s::xid "  # noqa: S608
    "RETURNING xmin::text"
)
_CHECK_COUNTED = (
    f"WITH k AS (SELECT 1 FROM {_KEYS} k JOIN {_PROVIDERS} p ON p.id = k.provider_id "  # noqa: S608
    "WHERE k.id = %s AND k.xmin = %s::xid AND p.xmin = %s::xid AND k.revoked_at IS NULL "
    "AND k.secret_hash = %s AND k.environment = %s AND k.provider_id = %s), "
    f"c AS (INSERT INTO {_COUNTER} (bucket, window_end, count) SELECT %s, %s, 1 FROM k "
    "ON CONFLICT (bucket) DO UPDATE SET "
    f"count = CASE WHEN {_COUNTER}.window_end >= excluded.window_end "
    f"THEN {_COUNTER}.count + 1 ELSE 1 END, "
    f"window_end = GREATEST({_COUNTER}.window_end, excluded.window_end) RETURNING count)"
)
_CHECK_PASSED = "SELECT pars_api_key_check((SELECT count FROM c) <= %s)"
CHECK_SQL = f"{_CHECK_COUNTED} {_CHECK_PASSED}"
