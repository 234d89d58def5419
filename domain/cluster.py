"""The Cluster aggregate: one case from application to the end of its subsidy and audit.

Public methods are commands: they check the rules (small `_check_*` helpers raising domain
errors) and then trigger an event. The body of each private `@event` method is that event's
applier; it only mutates `self.case` and runs again, unchanged, on every replay.

Anything that needs a calendar, the rulebook or the region table is computed by the caller
(the application service) and passed in, so that this module stays pure and its events record
the figures that were applied (due dates, entitlements, rulebook version).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec
from eventsourcing.domain import Aggregate, event
from eventsourcing.domain import Snapshot as BaseSnapshot

from domain.actors import EventMeta
from domain.case import (
    AnnualReport,
    Appeal,
    Assessment,
    AuditFinding,
    CaseState,
    Funding,
    MajorChange,
    Notice,
    Objection,
    Renewal,
    Revocation,
    Status,
    copy_case,
)
from domain.eligibility import EligibilityReport
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import (
    AnnualFigures,
    AppealOutcome,
    ChangeKind,
    Dossier,
    Ground,
    PlanLine,
    ScoreStage,
)
from domain.periods import add_years

CERTIFICATION = "certification"


class CaseSnapshot(msgspec.Struct, kw_only=True):
    """The shape of a Cluster snapshot's state, so the mapper can decode it with types."""

    _created_on: datetime
    _modified_on: datetime
    case: CaseState


def subsidy_subject(funding_year: int) -> str:
    return f"subsidy:{funding_year}"


class Cluster(Aggregate):
    """One SME characteristic industrial cluster case."""

    case: CaseState

    def __deepcopy__(self, memo: dict[int, Any]) -> Cluster:
        """A copy whose case shares nothing that can change with this one.

        eventsourcing's aggregate cache hands each command a deep copy, so that a command
        refused half-way (or a save that loses a race) cannot corrupt the cached case.
        `copy.deepcopy` walks every object of a long case one by one; `copy_case` copies the
        containers and mutable parts and shares the frozen ones (most of a long history).
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.__dict__["_pending_events"] = list(self._pending_events)
        clone.__dict__["case"] = copy_case(self.case)
        memo[id(self)] = clone
        return clone

    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

    class Applied(Aggregate.Created):
        meta: EventMeta
        dossier: Dossier
        rulebook_version: str

    class Recommended(Aggregate.Event):
        meta: EventMeta
        rulebook_version: str
        onsite_verified: bool

    class NotRecommended(Aggregate.Event):
        meta: EventMeta

    class Shortlisted(Aggregate.Event):
        meta: EventMeta
        notice: Notice
        rulebook_version: str

    class ObjectionRaised(Aggregate.Event):
        meta: EventMeta
        number: int
        subject: str
        summary: str

    class ObjectionResolved(Aggregate.Event):
        meta: EventMeta
        number: int
        upheld: bool

    class Certified(Aggregate.Event):
        meta: EventMeta
        certifying_body: str
        valid_until: date
        rulebook_version: str

    class Rejected(Aggregate.Event):
        meta: EventMeta
        certifying_body: str

    class AnnualReportFiled(Aggregate.Event):
        meta: EventMeta
        year: int
        due_on: date
        late: bool
        figures: AnnualFigures
        rulebook_version: str

    class Scored(Aggregate.Event):
        meta: EventMeta
        year: int
        stage: ScoreStage
        score: Decimal
        failure_grounds: tuple[Ground, ...]
        correction: bool
        rulebook_version: str

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

    class MajorChangeReported(Aggregate.Event):
        meta: EventMeta
        kind: ChangeKind
        new_value: str

    class RenewalRequested(Aggregate.Event):
        meta: EventMeta

    class RenewalDecided(Aggregate.Event):
        meta: EventMeta
        passed: bool
        plan_targets_met: bool | None
        valid_until: date | None
        rulebook_version: str

    class Revoked(Aggregate.Event):
        meta: EventMeta
        ground: Ground
        received_on: date
        appeal_deadline: date | None  # None: the rulebook provides no appeal (XM)
        appeal_deadline_provisional: bool
        rulebook_version: str

    class Appealed(Aggregate.Event):
        meta: EventMeta
        reply_due: date
        reply_due_provisional: bool
        rulebook_version: str

    class AppealDecided(Aggregate.Event):
        meta: EventMeta
        outcome: AppealOutcome

    class AuditFindingRecorded(Aggregate.Event):
        meta: EventMeta
        number: int
        summary: str
        amount_questioned_fen: int

    class RectificationConfirmed(Aggregate.Event):
        meta: EventMeta
        number: int
        level: str  # "city" or "county": XM Art. 17 needs both

    class Snapshot(BaseSnapshot):
        state: CaseSnapshot  # type: ignore[assignment]  # take() stores a dict of this shape

    # ---- creation ---------------------------------------------------------------------------

    @classmethod
    def apply(cls, meta: EventMeta, dossier: Dossier, rulebook_version: str) -> Cluster:
        """Open a case for an application (FJ Art. 11; XM Art. 5–6)."""
        if not dossier.name.strip():
            raise InvalidInput("name_required", "the cluster needs a name", field="name")
        if not dossier.leading_industry.strip():
            raise InvalidInput(
                "leading_industry_required",
                "the dossier must name the leading industry",
                field="leading_industry",
            )
        if dossier.programme == "XM" and not (dossier.operating_unit or "").strip():
            raise RuleViolation(
                "operating_unit_required",
                "XM Art. 6: the district designates an operating unit when applying",
                field="operating_unit",
            )
        if dossier.programme == "FJ" and not dossier.plan_targets:
            raise RuleViolation(
                "development_plan_required",
                "FJ Annex §8: the application needs a 3-year plan with measurable targets",
                field="plan_targets",
            )
        if not dossier.negative_list_clear:
            raise RuleViolation(
                "negative_list_not_declared",
                "the applicant must declare no major accident, incident or violation in the "
                "last three years (certification standards, negative list)",
                field="negative_list_clear",
            )
        return cls(meta=meta, dossier=dossier, rulebook_version=rulebook_version)

    @event(Applied)
    def __init__(self, meta: EventMeta, dossier: Dossier, rulebook_version: str) -> None:
        self.case = CaseState(
            dossier=dossier,
            status=Status.APPLIED,
            applied_on=meta.effective_date,
            rulebook_version=rulebook_version,
            applied_by=meta.actor.user_id,
            last_effective_date=meta.effective_date,
        )

    # ---- city review ------------------------------------------------------------------------

    def recommend(
        self, meta: EventMeta, eligibility: EligibilityReport, *, onsite_verified: bool
    ) -> None:
        """City recommends to the province (FJ Art. 12) or to MIIT (XM Art. 7), "on the basis
        of meeting the certification standards": a dossier with a shortfall is refused."""
        self._check_status(Status.APPLIED, "recommend")
        self._check_not_before_last(meta)
        if not onsite_verified:
            raise RuleViolation(
                "onsite_verification_required",
                "FJ Art. 12 / XM Art. 7: the city verifies on site before recommending",
            )
        if not eligibility.eligible:
            raise RuleViolation(
                "standards_not_met",
                "the dossier falls short of the certification standards: "
                + "; ".join(
                    f"{c.label} ({c.article}): {c.figure or 'not given'} vs {c.threshold}"
                    for c in eligibility.shortfalls
                ),
                rulebook=eligibility.rulebook_version,
                shortfalls=[c.id for c in eligibility.shortfalls],
            )
        self._recommended(
            meta=meta, rulebook_version=eligibility.rulebook_version, onsite_verified=True
        )

    @event(Recommended)
    def _recommended(self, meta: EventMeta, rulebook_version: str, onsite_verified: bool) -> None:
        self.case.status = Status.RECOMMENDED
        self.case.recommended_by = meta.actor.user_id
        self.case.recommended_on = meta.effective_date
        self._touch(meta)

    def decline_to_recommend(self, meta: EventMeta) -> None:
        self._check_status(Status.APPLIED, "decline to recommend")
        self._check_reason(meta)
        self._check_not_before_last(meta)
        self._not_recommended(meta=meta)

    @event(NotRecommended)
    def _not_recommended(self, meta: EventMeta) -> None:
        self.case.status = Status.NOT_RECOMMENDED
        self._touch(meta)

    # ---- province review and public notice (FJ Art. 13) ---------------------------------------

    def shortlist(self, meta: EventMeta, notice: Notice, rulebook_version: str) -> None:
        if self.case.dossier.programme != "FJ":
            raise RuleViolation(
                "not_in_programme", "only the FJ programme has a province shortlist and notice"
            )
        self._check_status(Status.RECOMMENDED, "shortlist")
        self._check_not_before_last(meta)
        if notice.ends_on < notice.starts_on:
            raise InvalidInput("notice_ends_before_start", "a notice cannot end before it starts")
        self._shortlisted(meta=meta, notice=notice, rulebook_version=rulebook_version)

    @event(Shortlisted)
    def _shortlisted(self, meta: EventMeta, notice: Notice, rulebook_version: str) -> None:
        self.case.status = Status.UNDER_NOTICE
        self.case.notice = notice
        self._touch(meta)

    def raise_objection(self, meta: EventMeta, subject: str, summary: str) -> int:
        """Record an objection received during a public notice; it blocks the next step."""
        notice = self._notice_for(subject)
        if not notice.starts_on <= meta.effective_date <= notice.ends_on:
            raise RuleViolation(
                "objection_outside_notice",
                "objections are received during the notice, "
                f"{notice.starts_on.isoformat()} to {notice.ends_on.isoformat()}; "
                f"this one is dated {meta.effective_date.isoformat()}",
                notice_starts_on=notice.starts_on.isoformat(),
                notice_ends_on=notice.ends_on.isoformat(),
            )
        if not summary.strip():
            raise InvalidInput("summary_required", "an objection needs a summary", field="summary")
        number = len(self.case.objections) + 1
        self._objection_raised(meta=meta, number=number, subject=subject, summary=summary)
        return number

    @event(ObjectionRaised)
    def _objection_raised(self, meta: EventMeta, number: int, subject: str, summary: str) -> None:
        self.case.objections.append(
            Objection(
                number=number, subject=subject, raised_on=meta.effective_date, summary=summary
            )
        )
        self._touch(meta)

    def resolve_objection(self, meta: EventMeta, number: int, *, upheld: bool) -> None:
        objection = next((o for o in self.case.objections if o.number == number), None)
        if objection is None:
            raise InvalidInput("unknown_objection", f"there is no objection number {number}")
        if objection.resolution is not None:
            raise WrongState("objection_already_resolved", f"objection {number} is resolved")
        self._check_reason(meta)
        self._objection_resolved(meta=meta, number=number, upheld=upheld)

    @event(ObjectionResolved)
    def _objection_resolved(self, meta: EventMeta, number: int, upheld: bool) -> None:
        for objection in self.case.objections:
            if objection.number == number:
                objection.resolution = "upheld" if upheld else "dismissed"
                objection.resolved_on = meta.effective_date
        self._touch(meta)

    # ---- certification ----------------------------------------------------------------------

    def certify(self, meta: EventMeta, validity_years: int, rulebook_version: str) -> None:
        """FJ: the province certifies after a notice without objection (Art. 13).
        XM: the city records MIIT's certification with its document number (Art. 7–8)."""
        programme = self.case.dossier.programme
        self._check_document_number(meta)
        self._check_not_before_last(meta)
        self._check_four_eyes(meta, self.case.recommended_by, "recommended")
        if programme == "FJ":
            self._check_status(Status.UNDER_NOTICE, "certify")
            notice = self.case.notice
            assert notice is not None  # UNDER_NOTICE always has one  # noqa: S101
            self._check_notice_over(meta, notice, CERTIFICATION)
            body = "province"
        else:
            self._check_status(Status.RECOMMENDED, "record MIIT's certification")
            recommended_on = self.case.recommended_on
            if recommended_on is not None and meta.effective_date < recommended_on:
                raise InvalidInput(
                    "effective_date_before_recommendation",
                    f"MIIT certifies after the city's recommendation of "
                    f"{recommended_on.isoformat()}",
                    field="effective_date",
                )
            body = "MIIT"
        valid_until = add_years(meta.effective_date, validity_years)
        self._certified(
            meta=meta,
            certifying_body=body,
            valid_until=valid_until,
            rulebook_version=rulebook_version,
        )

    @event(Certified)
    def _certified(
        self, meta: EventMeta, certifying_body: str, valid_until: date, rulebook_version: str
    ) -> None:
        self.case.status = Status.CERTIFIED
        self.case.certified_on = meta.effective_date
        self.case.certified_by = meta.actor.user_id
        self.case.certifying_body = certifying_body
        self.case.certification_document = meta.document_number
        self.case.valid_until = valid_until
        self._touch(meta)

    def reject(self, meta: EventMeta) -> None:
        allowed = (
            {Status.RECOMMENDED, Status.UNDER_NOTICE}
            if self.case.dossier.programme == "FJ"
            else {Status.RECOMMENDED}
        )
        self._check_status_in(allowed, "reject")
        self._check_reason(meta)
        self._check_not_before_last(meta)
        body = "province" if self.case.dossier.programme == "FJ" else "MIIT"
        self._rejected(meta=meta, certifying_body=body)

    @event(Rejected)
    def _rejected(self, meta: EventMeta, certifying_body: str) -> None:
        self.case.status = Status.REJECTED
        self.case.rejected_reason = meta.comment
        self._touch(meta)

    # ---- annual reports (FJ Art. 15; XM Art. 9) ----------------------------------------------

    def file_annual_report(
        self,
        meta: EventMeta,
        year: int,
        figures: AnnualFigures,
        due_on: date,
        rulebook_version: str,
    ) -> None:
        self._check_certified("file an annual report")
        if year in self.case.reports:
            raise RuleViolation(
                "annual_report_already_filed",
                f"the annual report for {year} was filed on "
                f"{self.case.reports[year].filed_on.isoformat()}",
                year=year,
            )
        self._check_past_year_since_certification(meta, year, "annual_report", "the report")
        late = meta.effective_date > due_on
        self._annual_report_filed(
            meta=meta,
            year=year,
            due_on=due_on,
            late=late,
            figures=figures,
            rulebook_version=rulebook_version,
        )

    @event(AnnualReportFiled)
    def _annual_report_filed(
        self,
        meta: EventMeta,
        year: int,
        due_on: date,
        late: bool,
        figures: AnnualFigures,
        rulebook_version: str,
    ) -> None:
        self.case.reports[year] = AnnualReport(
            year=year, filed_on=meta.effective_date, due_on=due_on, late=late
        )
        self._touch(meta)

    # ---- XM annual assessment (Art. 10) ------------------------------------------------------

    def score(
        self,
        meta: EventMeta,
        year: int,
        stage: ScoreStage,
        score: Decimal,
        failure_grounds: tuple[Ground, ...],
        score_range: tuple[Decimal, Decimal],
        rulebook_version: str,
        *,
        correction: bool = False,
    ) -> None:
        self._check_certified("score")
        self._check_score_value(meta, year, score, score_range)
        assessment = self.case.assessments.get(year)
        if stage == ScoreStage.DISTRICT_INITIAL:
            if meta.actor.role != "county":
                raise RuleViolation("initial_score_by_district", "the district scores first")
            if assessment and assessment.initial_score is not None and not correction:
                raise RuleViolation(
                    "score_already_recorded",
                    f"the district's initial score for {year} is recorded; send a correction",
                )
        else:
            if meta.actor.role != "city":
                raise RuleViolation("final_score_by_city", "the city re-reviews the score")
            if assessment is None or assessment.initial_score is None:
                raise WrongState(
                    "initial_score_missing",
                    f"XM Art. 10: the district's initial score for {year} comes first",
                )
            if assessment.final_score is not None and not correction:
                raise RuleViolation(
                    "score_already_recorded",
                    f"the city's final score for {year} is recorded; send a correction",
                )
            self._check_four_eyes(meta, assessment.initial_by, "gave the initial score")
        if correction:
            if (
                assessment is None
                or (
                    assessment.initial_score
                    if stage == ScoreStage.DISTRICT_INITIAL
                    else assessment.final_score
                )
                is None
            ):
                raise WrongState("nothing_to_correct", f"no {stage} score for {year} to correct")
            self._check_reason(meta)
        self._scored(
            meta=meta,
            year=year,
            stage=stage,
            score=score,
            failure_grounds=tuple(sorted(set(failure_grounds))),
            correction=correction,
            rulebook_version=rulebook_version,
        )

    def _check_score_value(
        self, meta: EventMeta, year: int, score: Decimal, score_range: tuple[Decimal, Decimal]
    ) -> None:
        low, high = score_range
        if not score.is_finite() or not low <= score <= high:  # NaN cannot be compared
            raise InvalidInput(
                "score_out_of_range",
                f"a score lies between {low} and {high}; got {score}",
                field="score",
                score=str(score),
            )
        self._check_past_year_since_certification(
            meta, year, "assessment", "XM Art. 9-10: the assessment"
        )
        if score.as_tuple().exponent < -2:  # type: ignore[operator]
            raise InvalidInput("score_precision", "scores have at most two decimals", field="score")

    @event(Scored)
    def _scored(
        self,
        meta: EventMeta,
        year: int,
        stage: ScoreStage,
        score: Decimal,
        failure_grounds: tuple[Ground, ...],
        correction: bool,
        rulebook_version: str,
    ) -> None:
        assessment = self.case.assessments.get(year)
        if assessment is None:
            assessment = Assessment(year=year, number=len(self.case.assessments) + 1)
            self.case.assessments[year] = assessment
        if stage == ScoreStage.DISTRICT_INITIAL:
            assessment.initial_score = score
            assessment.initial_by = meta.actor.user_id
        else:
            assessment.final_score = score
            assessment.final_by = meta.actor.user_id
        assessment.failure_grounds = tuple(str(g) for g in failure_grounds)
        if correction:
            assessment.corrections += 1
        self._touch(meta)

    def final_assessment(self, number: int) -> Assessment | None:
        """The `number`-th assessment, if its final score is recorded."""
        for assessment in self.case.assessments.values():
            if assessment.number == number and assessment.final_score is not None:
                return assessment
        return None

    # ---- XM subsidy (Art. 13–15) -------------------------------------------------------------

    def submit_fund_use_plan(
        self,
        meta: EventMeta,
        funding_year: int,
        lines: tuple[PlanLine, ...],
        categories: tuple[str, ...],
    ) -> None:
        self._check_certified("submit a fund-use plan")
        if funding_year not in (1, 2, 3):
            raise InvalidInput("funding_year_out_of_range", "the subsidy runs for years 1 to 3")
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
        remaining = funding.approved_fen - funding.paid_fen
        if amount_fen > remaining:
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

    # ---- major change, renewal ---------------------------------------------------------------

    def report_major_change(self, meta: EventMeta, kind: ChangeKind, new_value: str) -> None:
        self._check_certified("report a major change")
        if not new_value.strip():
            raise InvalidInput("new_value_required", "say what changed", field="new_value")
        if (
            kind == ChangeKind.OPERATING_UNIT
            and self.case.dossier.programme == "XM"
            and not meta.comment.strip()
        ):
            raise RuleViolation(
                "operating_unit_change_needs_reason",
                "XM Art. 6: the operating unit in principle never changes; give the reason",
            )
        self._major_change_reported(meta=meta, kind=kind, new_value=new_value)

    @event(MajorChangeReported)
    def _major_change_reported(self, meta: EventMeta, kind: ChangeKind, new_value: str) -> None:
        self.case.changes.append(
            MajorChange(kind=kind, reported_on=meta.effective_date, new_value=new_value)
        )
        dossier = self.case.dossier
        if kind == ChangeKind.LEADING_INDUSTRY:
            self.case.dossier = _replace(dossier, leading_industry=new_value)
        elif kind == ChangeKind.OPERATING_UNIT:
            self.case.dossier = _replace(dossier, operating_unit=new_value)
        self._touch(meta)

    def request_renewal(self, meta: EventMeta) -> None:
        """FJ Art. 14 / XM Art. 8: at the end of validity the cluster applies for renewal review."""
        self._check_certified("request renewal")
        if self.case.renewal is not None and self.case.renewal.passed is None:
            raise WrongState("renewal_already_requested", "a renewal review is pending")
        self._renewal_requested(meta=meta)

    @event(RenewalRequested)
    def _renewal_requested(self, meta: EventMeta) -> None:
        self.case.renewal = Renewal(requested_on=meta.effective_date)
        self._touch(meta)

    def decide_renewal(
        self,
        meta: EventMeta,
        *,
        passed: bool,
        plan_targets_met: bool | None,
        validity_years: int,
        rulebook_version: str,
    ) -> None:
        # a case revoked while its review was pending must stay revoked, not turn renewal_failed
        self._check_certified("decide a renewal")
        renewal = self.case.renewal
        if renewal is None or renewal.passed is not None:
            raise WrongState("no_renewal_pending", "no renewal review is pending")
        self._check_document_number(meta)
        if self.case.dossier.programme == "FJ" and plan_targets_met is None:
            raise InvalidInput(
                "plan_targets_finding_required",
                "FJ Art. 14: the renewal review assesses the 3-year plan's targets",
                field="plan_targets_met",
            )
        if not passed:
            self._check_reason(meta)
        valid_until = self.case.valid_until
        assert valid_until is not None  # noqa: S101
        self._renewal_decided(
            meta=meta,
            passed=passed,
            plan_targets_met=plan_targets_met,
            valid_until=add_years(valid_until, validity_years) if passed else None,
            rulebook_version=rulebook_version,
        )

    @event(RenewalDecided)
    def _renewal_decided(
        self,
        meta: EventMeta,
        passed: bool,
        plan_targets_met: bool | None,
        valid_until: date | None,
        rulebook_version: str,
    ) -> None:
        renewal = self.case.renewal
        if renewal is not None:
            renewal.passed = passed
            renewal.decided_on = meta.effective_date
            renewal.plan_targets_met = plan_targets_met
        if passed and valid_until is not None:
            self.case.valid_until = valid_until
            self.case.renewals_passed += 1
        else:
            self.case.status = Status.RENEWAL_FAILED
        self._touch(meta)

    # ---- revocation and appeal (FJ Art. 16) --------------------------------------------------

    def revoke(
        self,
        meta: EventMeta,
        ground: Ground,
        received_on: date,
        appeal_deadline: date | None,
        appeal_deadline_provisional: bool,
        rulebook_version: str,
    ) -> None:
        self._check_status_in({Status.CERTIFIED, Status.RENEWAL_FAILED}, "revoke")
        self._check_document_number(meta)
        self._check_reason(meta)
        if received_on < meta.effective_date:
            raise InvalidInput(
                "received_before_decision",
                "the decision cannot be received before it is made",
                field="received_on",
            )
        if ground == Ground.EXPIRED_WITHOUT_RENEWAL:
            valid_until = self.case.valid_until
            renewal_failed = self.case.status == Status.RENEWAL_FAILED
            assert valid_until is not None  # noqa: S101
            if not renewal_failed and meta.effective_date <= valid_until:
                raise RuleViolation(
                    "certification_still_valid",
                    f"FJ Art. 16(1): the certification is valid until {valid_until.isoformat()}",
                )
            if not renewal_failed and self.case.renewal and self.case.renewal.passed is None:
                raise RuleViolation(
                    "renewal_pending", "a renewal review is pending; decide it first"
                )
        self._revoked(
            meta=meta,
            ground=ground,
            received_on=received_on,
            appeal_deadline=appeal_deadline,
            appeal_deadline_provisional=appeal_deadline_provisional,
            rulebook_version=rulebook_version,
        )

    @event(Revoked)
    def _revoked(
        self,
        meta: EventMeta,
        ground: Ground,
        received_on: date,
        appeal_deadline: date | None,
        appeal_deadline_provisional: bool,
        rulebook_version: str,
    ) -> None:
        self.case.revocation = Revocation(
            ground=ground,
            decided_on=meta.effective_date,
            received_on=received_on,
            appeal_deadline=appeal_deadline,
            appeal_deadline_provisional=appeal_deadline_provisional,
            decided_by=meta.actor.user_id,
            status_before=self.case.status,
        )
        self.case.status = Status.REVOKED
        self.case.appeal = None
        self._touch(meta)

    def appeal(
        self, meta: EventMeta, reply_due: date, reply_due_provisional: bool, rulebook_version: str
    ) -> None:
        self._check_status(Status.REVOKED, "appeal")
        revocation = self.case.revocation
        assert revocation is not None  # noqa: S101
        if self.case.appeal is not None:
            raise WrongState("appeal_already_filed", "an appeal against this revocation exists")
        if meta.effective_date < revocation.received_on:
            raise InvalidInput("appeal_before_receipt", "an appeal follows receipt of the decision")
        if revocation.appeal_deadline is None:
            raise RuleViolation(
                "no_appeal_route",
                f"rulebook {rulebook_version} provides no appeal against this revocation",
            )
        if meta.effective_date > revocation.appeal_deadline:
            raise RuleViolation(
                "appeal_window_closed",
                "FJ Art. 16: appeals are filed within 15 working days of receiving the decision; "
                f"the window closed on {revocation.appeal_deadline.isoformat()}",
                appeal_deadline=revocation.appeal_deadline.isoformat(),
            )
        self._check_reason(meta)
        self._appealed(
            meta=meta,
            reply_due=reply_due,
            reply_due_provisional=reply_due_provisional,
            rulebook_version=rulebook_version,
        )

    @event(Appealed)
    def _appealed(
        self, meta: EventMeta, reply_due: date, reply_due_provisional: bool, rulebook_version: str
    ) -> None:
        self.case.appeal = Appeal(
            filed_on=meta.effective_date,
            reply_due=reply_due,
            reply_due_provisional=reply_due_provisional,
        )
        self._touch(meta)

    def decide_appeal(self, meta: EventMeta, outcome: AppealOutcome) -> None:
        appeal, revocation = self.case.appeal, self.case.revocation
        if appeal is None or appeal.outcome is not None or revocation is None:
            raise WrongState("no_appeal_pending", "no appeal is awaiting a decision")
        self._check_four_eyes(meta, revocation.decided_by, "decided the revocation")
        self._check_reason(meta)
        if meta.effective_date < appeal.filed_on:
            raise InvalidInput("decision_before_appeal", "the reply follows the appeal")
        self._appeal_decided(meta=meta, outcome=outcome)

    @event(AppealDecided)
    def _appeal_decided(self, meta: EventMeta, outcome: AppealOutcome) -> None:
        appeal, revocation = self.case.appeal, self.case.revocation
        if appeal is not None:
            appeal.outcome = outcome
            appeal.decided_on = meta.effective_date
            appeal.decided_by = meta.actor.user_id
            appeal.replied_late = meta.effective_date > appeal.reply_due
        if outcome == AppealOutcome.OVERTURNED and revocation is not None:
            self.case.status = revocation.status_before  # original validity is kept
        self._touch(meta)

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

    # ---- guards ------------------------------------------------------------------------------

    def _touch(self, meta: EventMeta) -> None:
        last = self.case.last_effective_date
        if last is None or meta.effective_date > last:
            self.case.last_effective_date = meta.effective_date

    def _check_status(self, expected: Status, action: str) -> None:
        self._check_status_in({expected}, action)

    def _check_status_in(self, expected: set[Status], action: str) -> None:
        if self.case.status not in expected:
            raise WrongState(
                "wrong_state",
                f"cannot {action} a case that is {self.case.status}; it must be "
                f"{' or '.join(sorted(expected))}",
                status=str(self.case.status),
                expected=sorted(expected),
            )

    def _check_certified(self, action: str) -> None:
        self._check_status(Status.CERTIFIED, action)

    def _check_past_year_since_certification(
        self, meta: EventMeta, year: int, code_prefix: str, what: str
    ) -> None:
        """Annual reports and assessments cover a year that is over and not before
        certification (FJ Art. 15; XM Art. 9-10: each year, for the previous year)."""
        certified_on = self.case.certified_on
        assert certified_on is not None  # noqa: S101 - CERTIFIED always has a date
        if year < certified_on.year:
            raise RuleViolation(
                f"{code_prefix}_before_certification",
                f"the cluster was certified on {certified_on.isoformat()}; "
                f"{what} is not owed for {year}",
                year=year,
            )
        if year >= meta.effective_date.year:
            raise RuleViolation(
                f"{code_prefix}_year_not_over",
                f"{what} covers a past year; {year} is not over on "
                f"{meta.effective_date.isoformat()}",
                year=year,
            )

    def _check_reason(self, meta: EventMeta) -> None:
        if not meta.comment.strip():
            raise InvalidInput(
                "reason_required", "this decision needs a reason in 'comment'", field="comment"
            )

    def _check_document_number(self, meta: EventMeta) -> None:
        if not (meta.document_number or "").strip():
            raise InvalidInput(
                "document_number_required",
                "this decision is recorded with the document number (文号) of its decision",
                field="document_number",
            )

    def _check_four_eyes(self, meta: EventMeta, earlier_user: str | None, did: str) -> None:
        if earlier_user is not None and earlier_user == meta.actor.user_id:
            raise RuleViolation(
                "four_eyes",
                f"user {meta.actor.user_id} {did} on this case and may not also take this step",
                user_id=meta.actor.user_id,
            )

    def _check_not_before_last(self, meta: EventMeta) -> None:
        applied_on = self.case.applied_on
        if meta.effective_date < applied_on:
            raise InvalidInput(
                "effective_date_before_application",
                f"the case was opened on {applied_on.isoformat()}",
                field="effective_date",
            )

    def _check_notice_over(self, meta: EventMeta, notice: Notice, subject: str) -> None:
        if meta.effective_date <= notice.ends_on:
            raise RuleViolation(
                "notice_not_over",
                f"the public notice runs until {notice.ends_on.isoformat()}",
                notice_ends_on=notice.ends_on.isoformat(),
            )
        if self.case.open_objections(subject):
            raise RuleViolation(
                "objection_open", "an objection raised during the notice is not yet resolved"
            )
        if self.case.upheld_objections(subject):
            raise RuleViolation(
                "objection_upheld", "an objection to this step was upheld; it cannot proceed"
            )

    def _notice_for(self, subject: str) -> Notice:
        if subject == CERTIFICATION:
            if self.case.status != Status.UNDER_NOTICE or self.case.notice is None:
                raise WrongState("no_notice_running", "the case is not under public notice")
            return self.case.notice
        for year, funding in self.case.funding.items():
            if subject == subsidy_subject(year) and funding.notice is not None:
                return funding.notice
        raise WrongState("no_notice_running", f"no public notice for {subject!r}")

    def _funding(self, funding_year: int) -> Funding:
        funding = self.case.funding.get(funding_year)
        if funding is None:
            raise WrongState(
                "no_fund_use_plan", f"no fund-use plan for funding year {funding_year}"
            )
        return funding


def _replace(dossier: Dossier, **changes: Any) -> Dossier:
    return msgspec.structs.replace(dossier, **changes)
