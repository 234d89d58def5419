"""Audit: the event log as NDJSON, the signed checkpoints, and the state of a case at a date.

Who may read the whole log (`GET /api/audit/events`): an auditor, the province or an
administrator whose jurisdiction is the province (350000). The log holds every case of every
county, so a city or county user, whose reads stop at their own area, may not; nor may an
auditor engaged for one city. Checkpoints (`GET /api/audit/checkpoints`) are positions, hashes and
signatures, nothing about a case: every authenticated user may read them, so that anyone holding
an export can check it.

State at a date (`/api/clusters/{id}/state`, `/diff`) is a read of one case: any role, inside its
jurisdiction, like `GET /api/clusters/{id}`. The reconstruction is `domain.history`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from api.errors import problem_responses
from api.input_policy import MAX_POSITION, query_date, query_instant
from api.runtime import Runtime, runtime_of
from domain.actors import Actor, Role
from domain.cluster import Cluster
from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.history import CaseAtDate, CaseDiff, LoggedEvent, case_at, diff_between
from domain.permissions import check_may_read
from domain.regions import Regions
from infra.audit.checkpointer import signer_of
from infra.audit.export import plan_range_async, stream_export
from infra.audit.format import MEDIA_TYPE
from infra.audit.signing import Checkpoint
from infra.case_history import (
    StoredRow,
    case_at_date,
    fetch_events,
    stored_event,
)
from infra.event_heads import HeadCache

ActorRequest = Request[Actor, Any, Any]

LOG_READER_ROLES = frozenset({Role.AUDITOR, Role.PROVINCE, Role.ADMIN})
# A read at a date also refuses an instant without its time zone, and a `to` before `from`.
AT_DATE_ERRORS = problem_responses(400, 401, 403, 404, 422)
MAX_CHECKPOINTS = 1000

AsOf = Annotated[
    date | None,
    QueryParameter(
        description="Valid time: apply the events whose effective date (the date on the "
        "decision document) is on or before this date. Default: every event."
    ),
]
KnownAt = Annotated[
    datetime | None,
    QueryParameter(
        description="Transaction time: apply only the events recorded at or before this "
        "instant (ISO 8601 with a time zone, e.g. 2025-06-01T00:00:00Z). Default: now."
    ),
]


# ---- who may read the log --------------------------------------------------------------------


def check_may_read_log(actor: Actor, regions: Regions) -> None:
    """The whole log: auditor, province or administrator, with the province's jurisdiction."""
    if actor.role not in LOG_READER_ROLES:
        raise NotAllowed(
            "log_reader_role",
            f"role {actor.role} may not read the whole event log; allowed: "
            + ", ".join(sorted(LOG_READER_ROLES)),
            role=str(actor.role),
        )
    jurisdiction = next((r for r in regions if r.code == actor.jurisdiction), None)
    if jurisdiction is None or jurisdiction.level != "province":
        raise NotAllowed(
            "log_needs_province_jurisdiction",
            "the event log covers every county: only a province-level jurisdiction may read it",
            jurisdiction=actor.jurisdiction,
        )


def _today() -> date:
    return datetime.now(UTC).date()


# ---- the log -----------------------------------------------------------------------------------


@get(
    "/api/audit/events",
    operation_id="exportEvents",
    tags=["audit"],
    summary="The event log as NDJSON (header, events with chain hashes, checkpoints, end line)",
    responses=problem_responses(400, 401, 403),
    media_type=MEDIA_TYPE,
)
async def export_events(
    request: ActorRequest,
    after: Annotated[
        int,
        QueryParameter(ge=0, le=MAX_POSITION, description="Export the positions after this one"),
    ] = 0,
    limit: Annotated[
        int | None,
        QueryParameter(
            ge=1, le=MAX_POSITION, description="At most this many events (default: up to the head)"
        ),
    ] = None,
) -> Stream:
    """Streams the same lines as `cluster-ledger export`: save the body to a file and run
    `cluster-ledger verify FILE --public-key KEY`. The range is fixed when the request
    starts (events appended meanwhile are left for the next page: `after=<last_position>`)."""
    runtime = runtime_of(request)
    check_may_read_log(request.user, runtime.ledger.services.regions)
    signer = await signer_of(runtime)
    async with runtime.pool.acquire() as conn:
        export_range = await plan_range_async(conn, after, None, limit)
    lines = stream_export(runtime.pool, export_range, signer.public_pem, signer.fingerprint)
    return Stream(
        lines,
        media_type=MEDIA_TYPE,
        headers={
            "X-Export-After": str(export_range.after),
            "X-Export-To": str(export_range.to),
            "Cache-Control": "no-store",
        },
    )


class CheckpointList(msgspec.Struct, kw_only=True):
    public_key: str  # PEM of the key that signs checkpoints now
    public_key_fingerprint: str
    checkpoints: list[Checkpoint]
    next_after: int | None  # pass as `after` for the next page; None: this is the last


@get(
    "/api/audit/checkpoints",
    operation_id="listCheckpoints",
    tags=["audit"],
    summary="Signed checkpoints: (position, chain hash, time) with Ed25519 signatures",
    responses=problem_responses(400, 401),
)
async def list_checkpoints(
    request: ActorRequest,
    after: Annotated[
        int, QueryParameter(ge=0, le=MAX_POSITION, description="Checkpoints after this position")
    ] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_CHECKPOINTS)] = MAX_CHECKPOINTS,
) -> CheckpointList:
    """Each signature covers `cluster-ledger/checkpoint/v1|<position>|<hash>|<created_at>`
    (created_at in UTC with microseconds and a Z). Compare a checkpoint's hash with the
    `hash` of the event line at its position in an export."""
    import base64

    runtime = runtime_of(request)
    signer = await signer_of(runtime)
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT position, hash, created_at, signature, key_fingerprint FROM audit_checkpoints"
            " WHERE position > $1 ORDER BY position LIMIT $2",
            after, limit + 1,
        )
    checkpoints = [
        Checkpoint(
            position=row["position"], hash=bytes(row["hash"]).hex(),
            created_at=row["created_at"],
            signature=base64.b64encode(bytes(row["signature"])).decode("ascii"),
            key_fingerprint=row["key_fingerprint"],
        )
        for row in rows[:limit]
    ]
    return CheckpointList(
        public_key=signer.public_pem,
        public_key_fingerprint=signer.fingerprint,
        checkpoints=checkpoints,
        next_after=checkpoints[-1].position if len(rows) > limit else None,
    )


# ---- state at a date ---------------------------------------------------------------------------

HEAD_CACHE_KEY = "audit.event_heads"


def head_cache_of(runtime: Runtime) -> HeadCache | None:
    """The process's cache of cases' event heads (`settings.history_cache` heads; None when
    0), made on first use. Runs on the event loop, so two requests never both make one."""
    if runtime.settings.history_cache <= 0:
        return None
    cache: HeadCache | None = runtime.extras.get(HEAD_CACHE_KEY)
    if cache is None:
        cache = HeadCache(runtime.settings.history_cache)
        runtime.extras[HEAD_CACHE_KEY] = cache
    return cache


def _reconstruct(
    runtime: Runtime, cluster_id: UUID, rows: list[StoredRow], actor: Actor,
    dates: list[date | None], known_at: datetime | None,
) -> list[CaseAtDate]:
    """Decode, authorise by the case's county, and fold once per date (worker thread)."""
    mapper = runtime.ledger.mapper
    events = [
        LoggedEvent(mapper.to_domain_event(stored_event(cluster_id, row)), row.position)
        for row in rows
    ]
    if not events or not isinstance(events[0].event, Cluster.Applied):
        raise NotFound("cluster_not_found", f"no cluster case {cluster_id}")
    check_may_read(actor, events[0].event.dossier.county_code, runtime.ledger.services.regions)
    today = _today()
    return [
        case_at(cluster_id, events, today=today, as_of=day, known_at=known_at) for day in dates
    ]


@get(
    "/api/clusters/{cluster_id:uuid}/state",
    operation_id="getClusterStateAt",
    tags=["audit"],
    summary="The case as it stood on a date (valid time) and/or as known at an instant "
    "(transaction time)",
    responses=AT_DATE_ERRORS,
)
async def get_state_at(
    request: ActorRequest, cluster_id: FromPath[UUID], as_of: AsOf = None,
    known_at: KnownAt = None,
    full: Annotated[
        bool,
        QueryParameter(
            description="Fold every event from the application instead of starting from the "
            "latest snapshot that the filters keep whole (the answer is the same)."
        ),
    ] = False,
) -> CaseAtDate:
    """`as_of=DATE`: the events effective on or before DATE, as the record stands now.
    `known_at=INSTANT`: only the events recorded by then. Both: what was known at INSTANT about
    DATE. Events are applied in recording order, so a later correction wins over what it
    corrects. `used` lists the events applied (version, log position, dates); `excluded` the
    others, with the reason. `status` is read on `status_on` (a lapsed certification reads
    `expired`); `exists` is false before the application."""
    runtime = runtime_of(request)
    actor, regions = request.user, runtime.ledger.services.regions
    return await case_at_date(
        runtime.pool, runtime.call, runtime.ledger.mapper, cluster_id,
        lambda county: check_may_read(actor, county, regions),
        today=_today(), as_of=query_date("as_of", as_of),
        known_at=query_instant("known_at", known_at), full=full,
        heads=head_cache_of(runtime),
    )


@get(
    "/api/clusters/{cluster_id:uuid}/diff",
    operation_id="getClusterDiff",
    tags=["audit"],
    summary="What changed in a case between two dates",
    responses=AT_DATE_ERRORS,
)
async def get_diff(
    request: ActorRequest,
    cluster_id: FromPath[UUID],
    from_date: Annotated[date, QueryParameter(name="from", description="Earlier date")],
    to_date: Annotated[date, QueryParameter(name="to", description="Later date")],
    known_at: KnownAt = None,
) -> CaseDiff:
    """The case as of `from` and as of `to` (both as known at `known_at`, default now), the
    field paths that differ (`old` -> `new`; null where absent) and the events in between."""
    query_date("from", from_date)
    query_date("to", to_date)
    if to_date < from_date:
        raise InvalidInput("to_before_from", "`to` must not be earlier than `from`", field="to")
    runtime = runtime_of(request)
    known = query_instant("known_at", known_at)
    async with runtime.pool.acquire() as conn:
        stored = await fetch_events(conn, cluster_id)
    before, after = await runtime.call(
        _reconstruct, runtime, cluster_id, stored, request.user, [from_date, to_date], known
    )
    return diff_between(before, after)


ROUTES = [export_events, list_checkpoints, get_state_at, get_diff]
