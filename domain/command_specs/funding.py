"""The XM three-year subsidy and its audit: fund-use plans, district review, city approval,
payments, special audit findings and their rectification (XM Art. 13–17)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from domain.actors import EventMeta
from domain.cluster import Cluster
from domain.commands import Command, CommandBody, Rules, command
from domain.facts import PlanLine
from domain.inputs import Fen, FundingYear, LongText, ShortText, text_meta
from domain.voucher import VoucherIndex


class PlanLineIn(PlanLine, frozen=True, forbid_unknown_fields=True):
    category: Annotated[str, text_meta(min_length=1, max_length=100)]
    amount_fen: Fen
    description: ShortText = ""

    def to_domain(self) -> PlanLine:
        return PlanLine(**msgspec.structs.asdict(self))


class FundUsePlanBody(CommandBody, kw_only=True):
    funding_year: FundingYear
    lines: Annotated[tuple[PlanLineIn, ...], msgspec.Meta(max_length=100)]


class FundUsePlanReviewBody(CommandBody, kw_only=True):
    passed: bool


class SubsidyApprovalBody(CommandBody, kw_only=True):
    funding_year: FundingYear
    amount_fen: Fen


class PaymentBody(CommandBody, kw_only=True):
    funding_year: FundingYear
    amount_fen: Fen
    voucher: Annotated[str, text_meta(min_length=1, max_length=64)]


class AuditFindingBody(CommandBody, kw_only=True):
    summary: LongText
    amount_questioned_fen: Fen = 0


class RectificationBody(CommandBody, kw_only=True):
    """The city or the district confirms; the level follows the caller's role."""


@command(
    Command.SUBMIT_FUND_USE_PLAN,
    body=FundUsePlanBody,
    path="/fund-use-plans",
    operation_id="submitFundUsePlan",
    summary="Submit the annual fund-use plan",
)
def submit_fund_use_plan(
    cluster: Cluster, meta: EventMeta, body: FundUsePlanBody, rules: Rules
) -> None:
    """The operating unit's plan for `funding_year` (1–3), in the six earmarked categories of
    XM Art. 14, amounts in fen."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    lines = tuple(line.to_domain() for line in body.lines)
    cluster.submit_fund_use_plan(meta, body.funding_year, lines, version.fund_use_categories)


@command(
    Command.REVIEW_FUND_USE_PLAN,
    body=FundUsePlanReviewBody,
    path="/fund-use-plans/{funding_year:int}/review",
    operation_id="reviewFundUsePlan",
    summary="District's initial review of a plan",
)
def review_fund_use_plan(
    cluster: Cluster,
    meta: EventMeta,
    body: FundUsePlanReviewBody,
    rules: Rules,  # noqa: ARG001
    *,
    funding_year: int,
) -> None:
    """XM Art. 15(2): the district passes the plan, or refuses it with a reason (the operating
    unit may then submit a new one)."""
    cluster.review_fund_use_plan(meta, funding_year, passed=body.passed)


@command(
    Command.APPROVE_SUBSIDY,
    body=SubsidyApprovalBody,
    path="/subsidy-approvals",
    operation_id="approveSubsidy",
    summary="City approves a year's subsidy",
)
def approve_subsidy(
    cluster: Cluster, meta: EventMeta, body: SubsidyApprovalBody, rules: Rules
) -> None:
    """The city approves at most the entitlement (XM Art. 13: year 1 lump sum, years 2–3 by
    the previous assessment's final score) and at most the plan; the list goes under public
    notice for 5 working days. The district reviewer may not approve (four eyes)."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    entitled = rules.entitlement(cluster, version, body.funding_year)
    notice = rules.notice(meta.effective_date, version.subsidy_notice, version)
    cluster.approve_subsidy(meta, body.funding_year, body.amount_fen, entitled, notice, version.id)


@command(
    Command.PAY_SUBSIDY,
    body=PaymentBody,
    path="/payments",
    operation_id="paySubsidy",
    summary="Record a subsidy payment",
)
def pay_subsidy(
    cluster: Cluster, meta: EventMeta, body: PaymentBody, rules: Rules  # noqa: ARG001
) -> tuple[VoucherIndex]:
    """Disbursement after the notice ended without objection, with the payment voucher number.
    A voucher is never paid twice (on any case) and payments never exceed the approval."""
    cluster.pay_subsidy(meta, body.funding_year, body.amount_fen, body.voucher)
    return (VoucherIndex(voucher_number=body.voucher.strip(), cluster_id=cluster.id),)


@command(
    Command.RECORD_AUDIT_FINDING,
    body=AuditFindingBody,
    path="/audit-findings",
    operation_id="recordAuditFinding",
    summary="Record a special-audit finding",
)
def record_audit_finding(
    cluster: Cluster, meta: EventMeta, body: AuditFindingBody, rules: Rules  # noqa: ARG001
) -> None:
    """XM Art. 16: a problem found by the third-party special audit of fund use, recorded by
    the city; it needs rectification (Art. 17)."""
    cluster.record_audit_finding(meta, body.summary, body.amount_questioned_fen)


@command(
    Command.CONFIRM_RECTIFICATION,
    body=RectificationBody,
    path="/audit-findings/{number:int}/rectification-confirmations",
    operation_id="confirmRectification",
    summary="Confirm a rectification",
)
def confirm_rectification(
    cluster: Cluster,
    meta: EventMeta,
    body: RectificationBody,  # noqa: ARG001
    rules: Rules,  # noqa: ARG001
    *,
    number: int,
) -> None:
    """XM Art. 17: rectification is complete when both the city and the district confirmed;
    the level recorded follows the caller's role."""
    cluster.confirm_rectification(meta, number)
