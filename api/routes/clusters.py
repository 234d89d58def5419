"""Cluster cases: read one case (commands join in the API issue)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get

from api.runtime import runtime_of
from domain.actors import Actor
from domain.case import CaseState


class ClusterView(msgspec.Struct, kw_only=True):
    id: UUID
    version: int
    status: str  # derived by today's date: a lapsed certification reads "expired"
    case: CaseState


@get(
    "/api/clusters/{cluster_id:uuid}",
    operation_id="getCluster",
    tags=["clusters"],
    summary="Current state of one cluster case",
)
async def get_cluster(request: Request[Actor, Any, Any], cluster_id: UUID) -> Response[ClusterView]:
    """The case as it stands now; the ETag carries its version for If-Match."""
    runtime = runtime_of(request)
    case, version = await runtime.call(runtime.ledger.read_case, cluster_id, request.user)
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    view = ClusterView(id=cluster_id, version=version, status=case.status_on(today), case=case)
    return Response(view, headers={"ETag": f'"{version}"'})


ROUTES = [get_cluster]
