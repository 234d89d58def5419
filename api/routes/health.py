"""Liveness and readiness.

`/health` never touches the database: the process is up. `/ready` answers 200 when this
instance can serve up-to-date reads, and otherwise 503 with a problem body that says why, and
`Retry-After`:

- `database_unavailable`: the database cannot be reached (from the one exception map);
- `projection_stopped`: this process's projector stopped on an error that will not go away
  by itself (an event it cannot fold, a bug): it needs an operator;
- `projection_retrying`: this process's projector is retrying a transient failure (the
  database was away): its views do not move meanwhile. `Retry-After` is the time to its next
  attempt;
- `projection_lagging`: a view is more than `CLUSTER_LEDGER_READY_MAX_LAG` events behind.

The problem's `details.projections` carries each view's position and lag and the projector's
state, with its last error.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec

from api.errors import PROBLEM_JSON, ApiError, Problem
from api.projector import ProjectionReadiness, readiness
from api.runtime import runtime_of

RETRY_STOPPED = 60  # s: a stopped projector needs an operator; ask again in a while
RETRY_LAGGING = 1


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    database: str
    max_position: int | None
    projections: ProjectionReadiness


_NOT_READY = ResponseSpec(
    data_container=Problem,
    generate_examples=False,
    media_type=PROBLEM_JSON,
    description="Not ready, with `Retry-After`: `database_unavailable`, `projection_stopped`,"
    " `projection_retrying` or `projection_lagging`; `details.projections` has each view's"
    " lag and the projector's state and last error",
)


@get("/health", operation_id="health", tags=["operations"], summary="Liveness")
async def health() -> Health:
    """The process is up. Never touches the database."""
    return Health(status="ok")


@get(
    "/ready",
    operation_id="ready",
    tags=["operations"],
    summary="Readiness",
    responses={503: _NOT_READY},
)
async def ready(request: Request[Any, Any, Any]) -> Readiness:
    """The database answers, this process's projector (if it runs one) is running, and every
    read view is at most `CLUSTER_LEDGER_READY_MAX_LAG` events behind the log; otherwise 503
    with the reason."""
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        position = await conn.fetchval("SELECT max(notification_id) FROM clusterledger_events")
        projections = await readiness(runtime, conn)
    refusal = not_ready(projections, runtime.settings.ready_max_lag)
    if refusal is not None:
        raise refusal
    return Readiness(
        status="ready", database="ok", max_position=position, projections=projections
    )


def not_ready(projections: ProjectionReadiness, max_lag: int) -> ApiError | None:
    """Why the views cannot be trusted to be up to date, if they cannot."""
    status = projections.projector
    details = {"projections": msgspec.to_builtins(projections)}
    if status is not None and status.state == "stopped":
        return ApiError(
            503,
            "projection_stopped",
            f"the projector stopped on an error: {status.error}"
            if status.error
            else "the projector is stopped",
            headers={"Retry-After": str(RETRY_STOPPED)},
            details=details,
        )
    if status is not None and status.state == "retrying":
        retry_after = max(1, math.ceil(status.retry_in or 0))
        return ApiError(
            503,
            "projection_retrying",
            f"the projector is retrying after a transient failure (attempt {status.attempts}"
            f", next in {retry_after} s): {status.error}",
            headers={"Retry-After": str(retry_after)},
            details=details,
        )
    lagging = [v.view for v in projections.views if v.lag > max_lag]
    if lagging:
        return ApiError(
            503,
            "projection_lagging",
            f"views more than {max_lag} events behind the log: {', '.join(lagging)}",
            headers={"Retry-After": str(RETRY_LAGGING)},
            details=details,
        )
    return None


ROUTES = [health, ready]
