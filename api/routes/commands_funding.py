"""The XM three-year subsidy and its audit: fund-use plans, district review, city approval,
payments, special audit findings and their rectification (XM Art. 13–17)."""

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
    AuditFindingBody,
    CommandResponse,
    FundUsePlanBody,
    FundUsePlanReviewBody,
    PaymentBody,
    RectificationBody,
    SubsidyApprovalBody,
)
from domain.permissions import Command
from infra.application import ClusterLedger


@post(
    f"{CLUSTER_PATH}/fund-use-plans",
    **command_route(
        Command.SUBMIT_FUND_USE_PLAN, "submitFundUsePlan", "Submit the annual fund-use plan"
    ),
)
async def submit_fund_use_plan(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[FundUsePlanBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """The operating unit's plan for `funding_year` (1–3), in the six earmarked categories of
    XM Art. 14, amounts in fen."""
    return await run_command(
        request, preconditions, data, ClusterLedger.submit_fund_use_plan, cluster_id,
        funding_year=data.funding_year, lines=tuple(line.to_domain() for line in data.lines),
    )


@post(
    f"{CLUSTER_PATH}/fund-use-plans/{{funding_year:int}}/review",
    **command_route(
        Command.REVIEW_FUND_USE_PLAN, "reviewFundUsePlan", "District's initial review of a plan"
    ),
)
async def review_fund_use_plan(
    request: ActorRequest, cluster_id: FromPath[UUID], funding_year: FromPath[int],
    data: JSONBody[FundUsePlanReviewBody], preconditions: Preconditions,
) -> Response[CommandResponse]:
    """XM Art. 15(2): the district passes the plan, or refuses it with a reason (the operating
    unit may then submit a new one)."""
    return await run_command(
        request, preconditions, data, ClusterLedger.review_fund_use_plan, cluster_id,
        funding_year=funding_year, passed=data.passed,
    )


@post(
    f"{CLUSTER_PATH}/subsidy-approvals",
    **command_route(Command.APPROVE_SUBSIDY, "approveSubsidy", "City approves a year's subsidy"),
)
async def approve_subsidy(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[SubsidyApprovalBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """The city approves at most the entitlement (XM Art. 13: year 1 lump sum, years 2–3 by
    the previous assessment's final score) and at most the plan; the list goes under public
    notice for 5 working days. The district reviewer may not approve (four eyes)."""
    return await run_command(
        request, preconditions, data, ClusterLedger.approve_subsidy, cluster_id,
        funding_year=data.funding_year, amount_fen=data.amount_fen,
    )


@post(
    f"{CLUSTER_PATH}/payments",
    **command_route(Command.PAY_SUBSIDY, "paySubsidy", "Record a subsidy payment"),
)
async def pay_subsidy(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[PaymentBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """Disbursement after the notice ended without objection, with the payment voucher number.
    A voucher is never paid twice (on any case) and payments never exceed the approval."""
    return await run_command(
        request, preconditions, data, ClusterLedger.pay_subsidy, cluster_id,
        funding_year=data.funding_year, amount_fen=data.amount_fen, voucher=data.voucher,
    )


@post(
    f"{CLUSTER_PATH}/audit-findings",
    **command_route(
        Command.RECORD_AUDIT_FINDING, "recordAuditFinding", "Record a special-audit finding"
    ),
)
async def record_audit_finding(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[AuditFindingBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """XM Art. 16: a problem found by the third-party special audit of fund use, recorded by
    the city; it needs rectification (Art. 17)."""
    return await run_command(
        request, preconditions, data, ClusterLedger.record_audit_finding, cluster_id,
        summary=data.summary, amount_questioned_fen=data.amount_questioned_fen,
    )


@post(
    f"{CLUSTER_PATH}/audit-findings/{{number:int}}/rectification-confirmations",
    **command_route(
        Command.CONFIRM_RECTIFICATION, "confirmRectification", "Confirm a rectification"
    ),
)
async def confirm_rectification(
    request: ActorRequest, cluster_id: FromPath[UUID], number: FromPath[int],
    data: JSONBody[RectificationBody], preconditions: Preconditions,
) -> Response[CommandResponse]:
    """XM Art. 17: rectification is complete when both the city and the district confirmed;
    the level recorded follows the caller's role."""
    return await run_command(
        request, preconditions, data, ClusterLedger.confirm_rectification, cluster_id,
        number=number,
    )


ROUTES = [
    submit_fund_use_plan,
    review_fund_use_plan,
    approve_subsidy,
    pay_subsidy,
    record_audit_finding,
    confirm_rectification,
]
