"""What a running API process holds: built in the lifespan, never at import time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import asyncpg
import msgspec
from litestar import Request

from infra.application import ClusterLedger
from infra.calendar_store import CalendarStore
from infra.database import ConnectionInfo, DatabaseLimits
from infra.db_failures import DatabaseUnavailable, classify
from infra.settings import Settings

T = TypeVar("T")


class Runtime(msgspec.Struct, kw_only=True):
    settings: Settings
    conn: ConnectionInfo
    ledger: ClusterLedger
    calendar: CalendarStore
    pool: asyncpg.Pool
    extras: dict[str, Any] = msgspec.field(default_factory=dict)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a synchronous ledger call in a worker thread: the event loop never blocks."""
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Release hook of the API's pool: nothing beyond asyncpg's own rollback of a transaction
    left open (which runs before this hook).

    asyncpg's default release sends a reset query (unlock advisory locks, close cursors,
    UNLISTEN, RESET ALL): one more round trip for every read. The API's queries change no
    session state (no SET, LISTEN, session advisory lock or cursor held past its transaction),
    so there is nothing to reset."""


async def open_connection(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg's connect, for the API's pool: a database that cannot be reached raises
    `DatabaseUnavailable` (a refused or timed-out TCP connection, a missing Unix socket, a
    server starting up or shutting down), which the exception map answers 503. asyncpg
    itself raises the socket's OSError, which says nothing about the database."""
    try:
        connection: asyncpg.Connection = await asyncpg.connect(*args, **kwargs)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {exc!r}") from exc
    except asyncpg.PostgresError as exc:
        if classify(exc) is None:
            raise
        raise DatabaseUnavailable(f"cannot connect to the database: {exc!r}") from exc
    return connection


async def open_pool(
    conn: ConnectionInfo, max_size: int = 10, limits: DatabaseLimits | None = None
) -> asyncpg.Pool:
    """The API's asyncpg pool. Every connection is opened within `limits.connect_timeout`
    and runs with the server's `statement_timeout`; a query is also given up on the client
    side a second after that, should the server not answer at all."""
    limits = limits or DatabaseLimits()
    pool: asyncpg.Pool = await asyncpg.create_pool(
        **conn.asyncpg_kwargs(),
        min_size=1,
        max_size=max_size,
        reset=_keep_session,
        connect=open_connection,
        timeout=limits.connect_timeout,
        command_timeout=limits.statement_timeout + 1.0,
        server_settings={"statement_timeout": str(limits.statement_timeout_ms)},
    )
    return pool


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
