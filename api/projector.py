"""The in-process projector: `serve` runs the projections beside the API unless
`CLUSTER_LEDGER_RUN_PROJECTOR=0` (then run `cluster-ledger project run` as its own process).

`readiness(runtime)` reports each view's position and lag, and any projection that stopped on
an error, for `/ready`.
"""

from __future__ import annotations

import contextlib

import msgspec

from api.runtime import Runtime
from projections.positions import ViewPosition, fetch_positions
from projections.runner import ProjectionFailure, Projector

_EXTRA = "projector"


async def start(runtime: Runtime, stack: contextlib.AsyncExitStack) -> None:
    """Lifespan hook: start the projections in worker threads; stop them at shutdown."""
    if not runtime.settings.run_projector:
        return
    projector = Projector(runtime.conn)
    stack.push_async_callback(runtime.call, projector.stop)
    await runtime.call(projector.start)
    runtime.extras[_EXTRA] = projector


class ProjectionReadiness(msgspec.Struct, kw_only=True):
    ok: bool  # False when a projection of this process stopped on an error
    in_process: bool  # whether this process runs the projector
    views: list[ViewPosition]
    failures: list[ProjectionFailure]


async def readiness(runtime: Runtime) -> ProjectionReadiness:
    """Each view's position and lag; failures of the projections this process runs."""
    projector: Projector | None = runtime.extras.get(_EXTRA)
    failures = list(projector.failures()) if projector else []
    async with runtime.pool.acquire() as conn:
        views = await fetch_positions(conn)
    return ProjectionReadiness(
        ok=not failures, in_process=projector is not None, views=views, failures=failures
    )
