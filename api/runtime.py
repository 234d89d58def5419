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


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
