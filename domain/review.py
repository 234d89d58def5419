"""Review: the city's recommendation, the province's shortlist and public notice, objections
(FJ Art. 11-13; XM Art. 6-7)."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event

from domain.actors import EventMeta
from domain.case import (
    Notice,
    Objection,
    Status,
)
from domain.eligibility import EligibilityReport
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.programmes import ProgrammeProfile
from domain.stage import (
    Stage,
    stored_as_cluster_events,
)


@stored_as_cluster_events
class ReviewStage(Stage):
    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

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

    def shortlist(
        self, meta: EventMeta, notice: Notice, rulebook_version: str, *, profile: ProgrammeProfile
    ) -> None:
        """The certifying body shortlists under public notice (FJ Art. 13), where the programme
        has that step."""
        if not profile.certification_notice:
            raise RuleViolation(
                "not_in_programme",
                f"the {profile.programme} programme has no shortlist under public notice",
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
