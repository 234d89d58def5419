"""Review and certification: city recommendation, province shortlist and public notice,
objections, certification or rejection (FJ Art. 12–13; XM Art. 7–8)."""

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
from api.schemas import (
    CertifyBody,
    CommandResponse,
    DeclineBody,
    ObjectionBody,
    RecommendBody,
    RejectBody,
    ResolveObjectionBody,
    ShortlistBody,
)
from domain.permissions import Command
from infra.application import ClusterLedger


@post(
    f"{CLUSTER_PATH}/recommendation",
    **command_route(Command.RECOMMEND, "recommend", "City recommends the case"),
)
async def recommend(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[RecommendBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """The city, after its preliminary review and on-site verification, recommends the case to
    the province (FJ Art. 12) or to MIIT (XM Art. 7). Refused when the dossier falls short of the
    certification standards of the rulebook in force (`standards_not_met`, with each shortfall)
    or without on-site verification."""
    return await run_command(
        request, preconditions, data, ClusterLedger.recommend, cluster_id,
        onsite_verified=data.onsite_verified,
    )


@post(
    f"{CLUSTER_PATH}/decline",
    **command_route(Command.DECLINE, "declineToRecommend", "City does not recommend the case"),
)
async def decline(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[DeclineBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """The city does not recommend: the case ends; the reason (`comment`) is required."""
    return await run_command(
        request, preconditions, data, ClusterLedger.decline_to_recommend, cluster_id
    )


@post(
    f"{CLUSTER_PATH}/shortlist",
    **command_route(Command.SHORTLIST, "shortlist", "Province shortlists: public notice opens"),
)
async def shortlist(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[ShortlistBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """FJ Art. 13: after re-review the province shortlists the case and publishes a notice
    starting on `effective_date`; its end is computed in working days from the rulebook."""
    return await run_command(request, preconditions, data, ClusterLedger.shortlist, cluster_id)


@post(
    f"{CLUSTER_PATH}/objections",
    **command_route(Command.RAISE_OBJECTION, "raiseObjection", "Record an objection to a notice"),
)
async def raise_objection(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[ObjectionBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """An objection received during a public notice (certification, or a subsidy list); it
    blocks the next step until resolved. Dated (`effective_date`) within the notice."""
    return await run_command(
        request, preconditions, data, ClusterLedger.raise_objection, cluster_id,
        subject=data.subject, summary=data.summary,
    )


@post(
    f"{CLUSTER_PATH}/objections/{{number:int}}/resolution",
    **command_route(Command.RESOLVE_OBJECTION, "resolveObjection", "Resolve an objection"),
)
async def resolve_objection(
    request: ActorRequest, cluster_id: FromPath[UUID], number: FromPath[int],
    data: JSONBody[ResolveObjectionBody], preconditions: Preconditions,
) -> Response[CommandResponse]:
    """Uphold (the step cannot proceed) or dismiss objection `number`; a reason is required."""
    return await run_command(
        request, preconditions, data, ClusterLedger.resolve_objection, cluster_id,
        number=number, upheld=data.upheld,
    )


@post(
    f"{CLUSTER_PATH}/certification",
    **command_route(Command.CERTIFY, "certify", "Certify (FJ) or record MIIT's certification (XM)"),
)
async def certify(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[CertifyBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """FJ Art. 13: the province certifies after a notice without open or upheld objections.
    XM Art. 7–8: the city records MIIT's certification. Needs the decision's document number;
    the recommending user may not certify (four eyes). Validity: 3 years."""
    return await run_command(request, preconditions, data, ClusterLedger.certify, cluster_id)


@post(
    f"{CLUSTER_PATH}/rejection",
    **command_route(Command.REJECT, "reject", "Reject (FJ) or record MIIT's rejection (XM)"),
)
async def reject(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[RejectBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """The certifying body refuses the case; the reason (`comment`) is required."""
    return await run_command(request, preconditions, data, ClusterLedger.reject, cluster_id)


ROUTES = [recommend, decline, shortlist, raise_objection, resolve_objection, certify, reject]
