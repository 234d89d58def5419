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
from infra.database import ConnectionInfo
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


async def open_pool(conn: ConnectionInfo, max_size: int = 10) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        **conn.asyncpg_kwargs(), min_size=1, max_size=max_size, reset=_keep_session
    )
    return pool


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
