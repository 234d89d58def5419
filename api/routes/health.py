"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get
from litestar.exceptions import HTTPException

from api.runtime import runtime_of


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: str
    max_position: int | None


@get("/health", operation_id="health", tags=["operations"], summary="Liveness")
async def health() -> Health:
    """The process is up. Never touches the database."""
    return Health(status="ok")


@get("/ready", operation_id="ready", tags=["operations"], summary="Readiness")
async def ready(request: Request[Any, Any, Any]) -> Readiness:
    """The database answers. (The projection-lag check joins when projections run.)"""
    runtime = runtime_of(request)
    try:
        async with runtime.pool.acquire() as conn:
            position = await conn.fetchval("SELECT max(notification_id) FROM clusterledger_events")
    except (OSError, Exception) as exc:  # noqa: BLE001 - readiness reports any database failure
        raise HTTPException(status_code=503, detail=f"database unreachable: {exc}") from None
    return Readiness(status="ready", database="ok", max_position=position)


ROUTES = [health, ready]
