"""The in-process projector: `serve` runs the projections beside the API unless
`CLUSTER_LEDGER_RUN_PROJECTOR=0` (then run `cluster-ledger project run` as its own process).

`readiness(runtime, conn)` reports each view's position and lag, and what the in-process
projector is doing (running, retrying a transient failure, or stopped on an error), for
`/ready`.
"""

from __future__ import annotations

import contextlib

import asyncpg
import msgspec

from api.runtime import Runtime
from infra.database import DatabaseLimits
from projections.positions import ViewPosition, fetch_positions
from projections.runner import Backoff, ProjectionFailure, Projector, ProjectorStatus

PROJECTOR_KEY = "projector"


async def start(runtime: Runtime, stack: contextlib.AsyncExitStack) -> None:
    """Lifespan hook: start the projections in worker threads; stop them at shutdown."""
    if not runtime.settings.run_projector:
        return
    settings = runtime.settings
    projector = Projector(
        runtime.conn,
        limits=DatabaseLimits.of(settings),
        backoff=Backoff(cap=settings.projector_max_backoff),
    )
    stack.push_async_callback(runtime.call, projector.stop)
    await runtime.call(projector.start)
    runtime.extras[PROJECTOR_KEY] = projector


class ProjectionReadiness(msgspec.Struct, kw_only=True):
    ok: bool  # False when this process's projector is retrying a failure or stopped on one
    in_process: bool  # whether this process runs the projector
    views: list[ViewPosition]
    failures: list[ProjectionFailure]  # the errors that stopped it
    projector: ProjectorStatus | None = None  # running, retrying (last error) or stopped


async def readiness(runtime: Runtime, conn: asyncpg.Connection) -> ProjectionReadiness:
    """Each view's position and lag (read over `conn`); what this process's projector does."""
    projector: Projector | None = runtime.extras.get(PROJECTOR_KEY)
    status = projector.status() if projector else None
    failures = list(projector.failures()) if projector else []
    views = await fetch_positions(conn)
    return ProjectionReadiness(
        ok=status is None or status.state == "running",
        in_process=projector is not None,
        views=views,
        failures=failures,
        projector=status,
    )
