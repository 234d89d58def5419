"""Funding: the three-year city subsidy (fund-use plans, approval under notice, payment by
voucher) and the special audit with its rectification (XM Art. 13-17)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.actors import EventMeta
from domain.case import (
    AuditFinding,
    Funding,
    Notice,
)
from domain.commands import Command, CommandBody, Rules, command
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import (
    PlanLine,
)
from domain.inputs import Fen, FundingYear, LongText, ShortText, text_meta
from domain.readings import payment_fits, remaining_fen
from domain.stage import (
    Stage,
    stored_as_cluster_events,
    subsidy_subject,
)
from domain.voucher import VoucherIndex

if TYPE_CHECKING:
    from domain.cluster import Cluster


@stored_as_cluster_events
class FundingStage(Stage):
    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

    class FundUsePlanSubmitted(Aggregate.Event):
        meta: EventMeta
        funding_year: int
        lines: tuple[PlanLine, ...]
        requested_fen: int

    class FundUsePlanReviewed(Aggregate.Event):
        meta: EventMeta
        funding_year: int
        passed: bool

    class SubsidyApproved(Aggregate.Event):
        meta: EventMeta
        funding_year: int
        amount_fen: int
        entitlement_fen: int
        notice: Notice
        rulebook_version: str

    class SubsidyPaid(Aggregate.Event):
        meta: EventMeta
        funding_year: int
        amount_fen: int
        voucher_number: str

    class AuditFindingRecorded(Aggregate.Event):
        meta: EventMeta
        number: int
        summary: str
        amount_questioned_fen: int

    class RectificationConfirmed(Aggregate.Event):
        meta: EventMeta
        number: int
        level: str  # "city" or "county": XM Art. 17 needs both

    # ---- XM subsidy (Art. 13–15) -------------------------------------------------------------

    def submit_fund_use_plan(
        self,
        meta: EventMeta,
        funding_year: int,
        lines: tuple[PlanLine, ...],
        categories: tuple[str, ...],
        *,
        funding_years: tuple[int, ...],
        rulebook_version: str,
    ) -> None:
        """The operating unit's fund-use plan for a funding year (XM Art. 14-15). The funding
        years and spending categories are those of the rules in force (`rulebook_version`)."""
        self._check_certified("submit a fund-use plan")
        if not funding_years:
            raise RuleViolation(
                "subsidy_before_rules",
                f"rulebook {rulebook_version} grants no city subsidy; Xiamen's subsidy applies "
                "from its rules' effective date",
                rulebook=rulebook_version,
            )
        if funding_year not in funding_years:
            raise InvalidInput(
                "funding_year_out_of_range",
                f"the subsidy runs for years {min(funding_years)} to {max(funding_years)}",
                field="funding_year",
            )
        if funding_year > 1 and (funding_year - 1) not in self.case.funding:
            raise RuleViolation(
                "funding_year_out_of_order",
                f"funding year {funding_year - 1} comes before {funding_year}",
            )
        existing = self.case.funding.get(funding_year)
        if existing is not None and existing.district_passed is not False:
            raise RuleViolation(
                "fund_use_plan_already_submitted",
                f"a plan for funding year {funding_year} is already under review or approved",
            )
        if not lines:
            raise InvalidInput("plan_lines_required", "a fund-use plan lists its spending")
        for line in lines:
            if line.category not in categories:
                raise InvalidInput(
                    "unknown_fund_use_category",
                    f"XM Art. 14 allows only: {', '.join(categories)}; got {line.category!r}",
                    field="lines.category",
                )
            if line.amount_fen <= 0:
                raise InvalidInput("amount_not_positive", "plan amounts are positive fen")
        self._fund_use_plan_submitted(
            meta=meta,
            funding_year=funding_year,
            lines=lines,
            requested_fen=sum(line.amount_fen for line in lines),
        )

    @event(FundUsePlanSubmitted)
    def _fund_use_plan_submitted(
        self, meta: EventMeta, funding_year: int, lines: tuple[PlanLine, ...], requested_fen: int
    ) -> None:
        self.case.funding[funding_year] = Funding(
            funding_year=funding_year,
            plan_submitted_on=meta.effective_date,
            requested_fen=requested_fen,
            plan_lines=lines,
        )
        self._touch(meta)

    def review_fund_use_plan(self, meta: EventMeta, funding_year: int, *, passed: bool) -> None:
        funding = self._funding(funding_year)
        if funding.district_passed is not None:
            raise WrongState("fund_use_plan_already_reviewed", "the district has reviewed it")
        if not passed:
            self._check_reason(meta)
        self._fund_use_plan_reviewed(meta=meta, funding_year=funding_year, passed=passed)

    @event(FundUsePlanReviewed)
    def _fund_use_plan_reviewed(self, meta: EventMeta, funding_year: int, passed: bool) -> None:
        funding = self.case.funding[funding_year]
        funding.district_passed = passed
        funding.district_reviewed_by = meta.actor.user_id
        self._touch(meta)

    def approve_subsidy(
        self,
        meta: EventMeta,
        funding_year: int,
        amount_fen: int,
        entitlement_fen: int,
        notice: Notice,
        rulebook_version: str,
    ) -> None:
        self._check_certified("approve a subsidy")
        funding = self._funding(funding_year)
        if funding.district_passed is not True:
            raise WrongState(
                "district_review_pending",
                "XM Art. 15(2): the district's initial review must pass first",
            )
        if funding.approved_by is not None:
            raise WrongState("subsidy_already_approved", f"year {funding_year} is approved")
        if amount_fen <= 0:
            raise InvalidInput("amount_not_positive", "an approval is a positive amount in fen")
        if amount_fen > entitlement_fen:
            raise RuleViolation(
                "approval_exceeds_entitlement",
                f"year {funding_year} entitles to {entitlement_fen} fen; {amount_fen} asked",
                entitlement_fen=entitlement_fen,
                amount_fen=amount_fen,
            )
        if amount_fen > funding.requested_fen:
            raise RuleViolation(
                "approval_exceeds_plan",
                f"the plan asks for {funding.requested_fen} fen; {amount_fen} cannot be approved",
            )
        self._check_four_eyes(meta, funding.district_reviewed_by, "reviewed the plan")
        self._subsidy_approved(
            meta=meta,
            funding_year=funding_year,
            amount_fen=amount_fen,
            entitlement_fen=entitlement_fen,
            notice=notice,
            rulebook_version=rulebook_version,
        )

    @event(SubsidyApproved)
    def _subsidy_approved(
        self,
        meta: EventMeta,
        funding_year: int,
        amount_fen: int,
        entitlement_fen: int,
        notice: Notice,
        rulebook_version: str,
    ) -> None:
        funding = self.case.funding[funding_year]
        funding.approved_fen = amount_fen
        funding.entitlement_fen = entitlement_fen
        funding.approved_by = meta.actor.user_id
        funding.approved_on = meta.effective_date
        funding.notice = notice
        funding.rulebook_version = rulebook_version
        self._touch(meta)

    def pay_subsidy(
        self, meta: EventMeta, funding_year: int, amount_fen: int, voucher: str
    ) -> None:
        voucher = voucher.strip()  # as the voucher index keys it: " V1" and "V1" are one voucher
        self._check_certified("pay a subsidy")
        funding = self._funding(funding_year)
        if funding.notice is None or funding.approved_by is None:
            raise WrongState("subsidy_not_approved", f"year {funding_year} is not approved")
        self._check_notice_over(meta, funding.notice, subsidy_subject(funding_year))
        if not voucher.strip():
            raise InvalidInput("voucher_required", "a payment needs its voucher number")
        if self.voucher_paid(voucher):
            raise RuleViolation(
                "voucher_already_paid",
                f"voucher {voucher} has been paid already",
                voucher=voucher,
            )
        if amount_fen <= 0:
            raise InvalidInput("amount_not_positive", "a payment is a positive amount in fen")
        remaining = remaining_fen(funding.approved_fen, funding.paid_fen)
        if not payment_fits(funding.approved_fen, funding.paid_fen, amount_fen):
            raise RuleViolation(
                "payment_exceeds_approval",
                f"{amount_fen} fen exceeds what remains of the approval ({remaining} fen)",
                remaining_fen=remaining,
                amount_fen=amount_fen,
            )
        self._check_four_eyes(meta, funding.approved_by, "approved the subsidy")
        self._subsidy_paid(
            meta=meta, funding_year=funding_year, amount_fen=amount_fen, voucher_number=voucher
        )

    @event(SubsidyPaid)
    def _subsidy_paid(
        self, meta: EventMeta, funding_year: int, amount_fen: int, voucher_number: str
    ) -> None:
        funding = self.case.funding[funding_year]
        funding.paid_fen += amount_fen
        funding.vouchers = (*funding.vouchers, voucher_number)
        funding.paid_on = (*funding.paid_on, meta.effective_date)
        self._touch(meta)

    def voucher_paid(self, voucher: str) -> bool:
        return any(voucher in f.vouchers for f in self.case.funding.values())

    # ---- audit and rectification (XM Art. 16–17) ---------------------------------------------

    def record_audit_finding(
        self, meta: EventMeta, summary: str, amount_questioned_fen: int
    ) -> int:
        if not any(f.paid_fen for f in self.case.funding.values()):
            raise WrongState("nothing_paid", "the special audit covers funds that were paid")
        if not summary.strip():
            raise InvalidInput("summary_required", "a finding needs a summary", field="summary")
        if amount_questioned_fen < 0:
            raise InvalidInput("amount_negative", "amounts are non-negative fen")
        number = len(self.case.audit_findings) + 1
        self._audit_finding_recorded(
            meta=meta, number=number, summary=summary, amount_questioned_fen=amount_questioned_fen
        )
        return number

    @event(AuditFindingRecorded)
    def _audit_finding_recorded(
        self, meta: EventMeta, number: int, summary: str, amount_questioned_fen: int
    ) -> None:
        self.case.audit_findings.append(
            AuditFinding(
                number=number,
                recorded_on=meta.effective_date,
                summary=summary,
                amount_questioned_fen=amount_questioned_fen,
            )
        )
        self._touch(meta)

    def confirm_rectification(self, meta: EventMeta, number: int) -> None:
        finding = next((f for f in self.case.audit_findings if f.number == number), None)
        if finding is None:
            raise InvalidInput("unknown_audit_finding", f"there is no audit finding {number}")
        level = "city" if meta.actor.role == "city" else "county"
        confirmed = finding.city_confirmed_on if level == "city" else finding.county_confirmed_on
        if confirmed is not None:
            raise WrongState(
                "rectification_already_confirmed",
                f"the {level} confirmed finding {number} on {confirmed.isoformat()}",
            )
        self._rectification_confirmed(meta=meta, number=number, level=level)

    @event(RectificationConfirmed)
    def _rectification_confirmed(self, meta: EventMeta, number: int, level: str) -> None:
        for finding in self.case.audit_findings:
            if finding.number == number:
                if level == "city":
                    finding.city_confirmed_on = meta.effective_date
                else:
                    finding.county_confirmed_on = meta.effective_date
        self._touch(meta)


# ---- commands: one declaration each (domain.commands) -----------------------------------


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
    summary="Submit the annual fund-use plan",
    uses=("funding_years",),
)
def submit_fund_use_plan(
    cluster: Cluster, meta: EventMeta, body: FundUsePlanBody, rules: Rules
) -> None:
    """The operating unit's plan for `funding_year` (1–3), in the six earmarked categories of
    XM Art. 14, amounts in fen."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    lines = tuple(line.to_domain() for line in body.lines)
    cluster.submit_fund_use_plan(
        meta, body.funding_year, lines, version.fund_use_categories,
        funding_years=tuple(year.funding_year for year in version.subsidy),
        rulebook_version=version.id,
    )


@command(
    Command.REVIEW_FUND_USE_PLAN,
    body=FundUsePlanReviewBody,
    path="/fund-use-plans/{funding_year:int}/review",
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
    summary="City approves a year's subsidy",
    uses=("subsidy_notice", "funding_years"),
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
