"""Cluster cases: read one, read its history (opening one is a command: `api.routes.commands`).

Reads load the aggregate in a worker thread and are authorised like every read: the case must
lie in the caller's jurisdiction (`domain.permissions.check_may_read`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath

from api.errors import READ_ERRORS
from api.routes.commands import CLUSTER_PATH, ActorRequest
from api.runtime import Runtime, runtime_of
from api.schemas import EventHistory, EventView
from domain.actors import Actor, EventMeta
from domain.case import CaseState
from infra.application import ClusterLedger

EVENTS_TABLE = "clusterledger_events"
# Envelope attributes of an eventsourcing event: shown as version/recorded_at, not as payload.
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_ETAG_HEADER = [
    ResponseHeader(name="ETag", description="The case's version", documentation_only=True)
]


class ClusterView(msgspec.Struct, kw_only=True):
    id: UUID
    version: int
    status: str  # derived by today's date: a lapsed certification reads "expired"
    case: CaseState


@get(
    CLUSTER_PATH,
    operation_id="getCluster",
    tags=["clusters"],
    summary="Current state of one cluster case",
    responses=READ_ERRORS,
    response_headers=_ETAG_HEADER,
)
async def get_cluster(request: ActorRequest, cluster_id: FromPath[UUID]) -> Response[ClusterView]:
    """The case as it stands now; the ETag carries its version for If-Match."""
    runtime = runtime_of(request)
    case, version = await runtime.call(runtime.ledger.read_case, cluster_id, request.user)
    today = datetime.now(UTC).date()
    view = ClusterView(id=cluster_id, version=version, status=case.status_on(today), case=case)
    return Response(view, headers={"ETag": f'"{version}"'})


def _event_view(event: Any, position: int | None) -> EventView:
    state = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    meta: EventMeta = state.pop("meta")
    return EventView(
        type=type(event).__name__,
        version=event.originator_version,
        position=position,
        recorded_at=event.timestamp,
        effective_date=meta.effective_date,
        actor=meta.actor,
        document_number=meta.document_number,
        comment=meta.comment,
        attachments=meta.attachments,
        request_id=meta.request_id,
        correlation_id=meta.correlation_id,
        payload=msgspec.to_builtins(state),
        rulebooks=meta.rulebooks,
        conventions=meta.conventions,
    )


def _history(ledger: ClusterLedger, cluster_id: UUID, actor: Actor) -> list[Any]:
    ledger.read_case(cluster_id, actor)  # 404 if unknown, 403 outside the jurisdiction
    return list(ledger.events.get(cluster_id))


@get(
    f"{CLUSTER_PATH}/events",
    operation_id="getClusterEvents",
    tags=["clusters"],
    summary="History of one cluster case",
    responses=READ_ERRORS,
    response_headers=_ETAG_HEADER,
)
async def get_cluster_events(
    request: ActorRequest, cluster_id: FromPath[UUID]
) -> Response[EventHistory]:
    """Every event of the case in order: its type, the case version after it, its position in
    the log, who recorded it and when (transaction time), the date it takes effect (valid time),
    the document number, comment, attachment hashes, request/correlation ids and its facts."""
    history = await case_history(runtime_of(request), cluster_id, request.user)
    return Response(history, headers={"ETag": f'"{history.version}"'})


async def case_history(runtime: Runtime, cluster_id: UUID, actor: Actor) -> EventHistory:
    """Every event of a case with its log position (404 unknown, 403 outside the jurisdiction):
    what the API's history and the case page show."""
    events = await runtime.call(_history, runtime.ledger, cluster_id, actor)
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT originator_version, notification_id FROM {EVENTS_TABLE}"  # noqa: S608
            " WHERE originator_id = $1",
            cluster_id,
        )
    positions = {row["originator_version"]: row["notification_id"] for row in rows}
    views = [_event_view(e, positions.get(e.originator_version)) for e in events]
    version = views[-1].version if views else 0
    return EventHistory(cluster_id=cluster_id, version=version, events=views)


ROUTES = [get_cluster, get_cluster_events]
