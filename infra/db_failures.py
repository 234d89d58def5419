"""What a database failure means: the database is away, or it did not answer in time.

Both drivers (asyncpg for the API's reads, psycopg under eventsourcing for commands, single
cases and the projector) and eventsourcing's wrappers of psycopg's errors are sorted here, in
one place, by what the failure says about the database, not about the request:

- `UNAVAILABLE`: no connection could be had, or the one in use was lost: connection refused
  or reset, SQLSTATE class 08 (connection exception), 57P01/57P02/57P03 (the server is shutting
  down, crashed, or starting up), 53300 (too many connections), a pool that gave no connection
  in time or is closing.
- `BUSY`: the database is up but did not finish in time: 57014 (statement timeout), 55P03
  (lock timeout), 40001 (serialization failure), 40P01 (deadlock), or a client-side timeout
  of a driver.

Both are transient: the same request, or the projector's same batch, can succeed later. Anything
else (bad input the database refused, a value it cannot store, a missing table, a bug) is not
classified (`None`) and keeps its own handling: the API answers it as before, the projector
stops on it.

The API answers a transient failure 503 with `Retry-After` (`api/errors.py`); the projector
retries it with backoff (`projections/runner.py`).
"""

from __future__ import annotations

from enum import StrEnum
from types import TracebackType

import asyncpg
import psycopg
import psycopg_pool
from eventsourcing.persistence import PersistenceError


class Failure(StrEnum):
    UNAVAILABLE = "database_unavailable"
    BUSY = "database_busy"


# Seconds a client should wait before retrying, by failure (the `Retry-After` header).
RETRY_AFTER: dict[Failure, int] = {Failure.UNAVAILABLE: 5, Failure.BUSY: 1}

_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_BUSY_STATES = frozenset({"57014", "55P03", "40001", "40P01"})
# asyncpg's InterfaceError for a connection or pool that is gone, by exact message: its other
# InterfaceErrors are misuse, and its client-side DataError (a subclass: a query argument of
# the wrong type) is bad input, whatever text the input carried.
_ASYNCPG_CLOSED = frozenset({"connection is closed", "pool is closing", "pool is closed"})
_DRIVER_MODULES = ("asyncpg", "psycopg", "psycopg_pool")


class DatabaseFailure(PersistenceError):
    """The database is away or did not answer in time; raised instead of a driver's error
    where the ledger itself notices it (a pool that gave no connection in time, a connection
    that could not be opened, a statement the server cancelled).

    A subclass of eventsourcing's `PersistenceError` but not of its `OperationalError`:
    eventsourcing's recorders retry an `OperationalError` ten times, which would multiply
    the wait by ten."""

    failure: Failure


class DatabaseUnavailable(DatabaseFailure):
    failure = Failure.UNAVAILABLE


class DatabaseBusy(DatabaseFailure):
    failure = Failure.BUSY


# Every exception class that can carry a database failure (for the API's exception map);
# `classify` decides whether a given one does.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    PersistenceError,
    psycopg.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    ConnectionError,
    TimeoutError,
)


def classify(exc: BaseException) -> Failure | None:
    """The transient failure `exc` reports, or None if it is not one.

    eventsourcing's wrappers are judged by the driver error they were raised from; an
    exception of any other class is judged by itself only (an error raised while handling a
    lost connection is not made transient by it)."""
    current: BaseException | None = exc
    for _ in range(8):  # wrappers nest at most a few levels
        if current is None:
            return None
        found = _own_failure(current)
        if found is not None or not isinstance(current, PersistenceError):
            return found
        current = current.__cause__
    return None


def is_transient(exc: BaseException) -> bool:
    return classify(exc) is not None


def _own_failure(exc: BaseException) -> Failure | None:
    if isinstance(exc, DatabaseFailure):
        return exc.failure
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg_pool.PoolClosed):
        return Failure.UNAVAILABLE
    if isinstance(exc, psycopg.Error):
        # Without a SQLSTATE, psycopg's OperationalError is a connection that failed or was
        # lost on the client side ("connection refused", "server closed the connection
        # unexpectedly", "the connection is closed").
        if exc.sqlstate or not isinstance(exc, psycopg.OperationalError):
            return by_sqlstate(exc.sqlstate)
        return Failure.UNAVAILABLE
    if isinstance(exc, asyncpg.PostgresError):
        return by_sqlstate(exc.sqlstate)
    return _client_side_failure(exc)


def _client_side_failure(exc: BaseException) -> Failure | None:
    failure: Failure | None = None
    if isinstance(exc, asyncpg.InterfaceError):
        failure = Failure.UNAVAILABLE if str(exc) in _ASYNCPG_CLOSED else None
    elif isinstance(exc, TimeoutError) and _raised_by_driver(exc.__traceback__):
        failure = Failure.BUSY
    elif isinstance(exc, ConnectionError) and _raised_by_driver(exc.__traceback__):
        failure = Failure.UNAVAILABLE
    return failure


def by_sqlstate(sqlstate: str | None) -> Failure | None:
    if not sqlstate:
        return None
    if sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_STATES:
        return Failure.UNAVAILABLE
    if sqlstate in _BUSY_STATES:
        return Failure.BUSY
    return None


def _raised_by_driver(tb: TracebackType | None) -> bool:
    """Whether a builtin TimeoutError or ConnectionError came out of a database driver (and
    not, say, from some other socket), judged by the modules it passed through."""
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DRIVER_MODULES:
            return True
        tb = tb.tb_next
    return False
