"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar import Request, get
from litestar.exceptions import HTTPException

from api.projector import ProjectionReadiness, readiness
from api.runtime import runtime_of


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    database: str
    max_position: int | None
    projections: ProjectionReadiness


@get("/health", operation_id="health", tags=["operations"], summary="Liveness")
async def health() -> Health:
    """The process is up. Never touches the database."""
    return Health(status="ok")


@get("/ready", operation_id="ready", tags=["operations"], summary="Readiness")
async def ready(request: Request[Any, Any, Any]) -> Readiness:
    """The database answers and every read view is at most `CLUSTER_LEDGER_READY_MAX_LAG`
    events behind the log, with no projection stopped on an error; otherwise 503."""
    runtime = runtime_of(request)
    try:
        async with runtime.pool.acquire() as conn:
            position = await conn.fetchval("SELECT max(notification_id) FROM clusterledger_events")
        projections = await readiness(runtime)
    except (OSError, asyncpg.PostgresError) as exc:
        raise HTTPException(status_code=503, detail=f"database unreachable: {exc}") from None
    lagging = [v.view for v in projections.views if v.lag > runtime.settings.ready_max_lag]
    if not projections.ok or lagging:
        detail = (
            f"projections stopped: {[f.view for f in projections.failures]}"
            if not projections.ok
            else f"projections behind by more than {runtime.settings.ready_max_lag}: {lagging}"
        )
        raise HTTPException(status_code=503, detail=detail)
    return Readiness(
        status="ready", database="ok", max_position=position, projections=projections
    )


ROUTES = [health, ready]
