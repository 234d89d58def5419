"""Revocation and appeal (FJ Art. 16)."""

from __future__ import annotations

from uuid import UUID

from litestar import Response, post
from litestar.params import FromPath, JSONBody

from api.routes.commands import (
    CLUSTER_PATH,
    ActorRequest,
    Preconditions,
    command_route,
    run_command,
)
from api.schemas import AppealBody, AppealDecisionBody, CommandResponse, RevocationBody
from domain.permissions import Command
from infra.application import ClusterLedger


@post(
    f"{CLUSTER_PATH}/revocation",
    **command_route(Command.REVOKE, "revoke", "Revoke the certification"),
)
async def revoke(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[RevocationBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """On one of the five grounds of FJ Art. 16, with the decision's document number, a reason,
    and the date the applicant received it; the appeal deadline (15 working days from receipt)
    is computed and recorded."""
    return await run_command(
        request, preconditions, data, ClusterLedger.revoke, cluster_id,
        ground=data.ground, received_on=data.received_on,
    )


@post(
    f"{CLUSTER_PATH}/appeals",
    **command_route(Command.APPEAL, "appeal", "Appeal a revocation"),
)
async def appeal(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[AppealBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """Within 15 working days of receiving the revocation (FJ Art. 16); the province's reply is
    due within 30 working days. The grounds go in `comment`."""
    return await run_command(request, preconditions, data, ClusterLedger.appeal, cluster_id)


@post(
    f"{CLUSTER_PATH}/appeals/decision",
    **command_route(Command.DECIDE_APPEAL, "decideAppeal", "Decide an appeal"),
)
async def decide_appeal(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[AppealDecisionBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """`upheld`: the revocation stands; `overturned`: certification restored with its original
    validity. The user who revoked may not decide the appeal (four eyes)."""
    return await run_command(
        request, preconditions, data, ClusterLedger.decide_appeal, cluster_id,
        outcome=data.outcome,
    )


ROUTES = [revoke, appeal, decide_appeal]
