"""Certification and validity: certify or reject, renewal review at the end of validity
(FJ Art. 13-14; XM Art. 7-8)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate, event

from domain.actors import EventMeta
from domain.case import (
    Renewal,
    Status,
)
from domain.commands import Command, CommandBody, Rules, command
from domain.errors import InvalidInput, WrongState
from domain.periods import add_years
from domain.programmes import ProgrammeProfile
from domain.stage import (
    CERTIFICATION,
    Stage,
    stored_as_cluster_events,
)

if TYPE_CHECKING:
    from domain.cluster import Cluster


@stored_as_cluster_events
class CertificationStage(Stage):
    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

    class Certified(Aggregate.Event):
        meta: EventMeta
        certifying_body: str
        valid_until: date
        rulebook_version: str

    class Rejected(Aggregate.Event):
        meta: EventMeta
        certifying_body: str

    class RenewalRequested(Aggregate.Event):
        meta: EventMeta

    class RenewalDecided(Aggregate.Event):
        meta: EventMeta
        passed: bool
        plan_targets_met: bool | None
        valid_until: date | None
        rulebook_version: str

    # ---- certification ----------------------------------------------------------------------

    def certify(
        self,
        meta: EventMeta,
        validity_years: int,
        rulebook_version: str,
        *,
        profile: ProgrammeProfile,
    ) -> None:
        """FJ: the province certifies after a notice without objection (Art. 13).
        XM: the city records MIIT's certification with its document number (Art. 7–8)."""
        self._check_document_number(meta)
        self._check_not_before_last(meta)
        self._check_four_eyes(meta, self.case.recommended_by, "recommended")
        if profile.certification_notice:
            self._check_status(Status.UNDER_NOTICE, "certify")
            notice = self.case.notice
            assert notice is not None  # UNDER_NOTICE always has one  # noqa: S101
            self._check_notice_over(meta, notice, CERTIFICATION)
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
        valid_until = add_years(meta.effective_date, validity_years)
        self._certified(
            meta=meta,
            certifying_body=profile.certifying_body,
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

    def reject(self, meta: EventMeta, *, profile: ProgrammeProfile) -> None:
        allowed = (
            {Status.RECOMMENDED, Status.UNDER_NOTICE}
            if profile.certification_notice
            else {Status.RECOMMENDED}
        )
        self._check_status_in(allowed, "reject")
        self._check_reason(meta)
        self._check_not_before_last(meta)
        self._rejected(meta=meta, certifying_body=profile.certifying_body)

    @event(Rejected)
    def _rejected(self, meta: EventMeta, certifying_body: str) -> None:
        self.case.status = Status.REJECTED
        self.case.rejected_reason = meta.comment
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
        profile: ProgrammeProfile,
    ) -> None:
        # a case revoked while its review was pending must stay revoked, not turn renewal_failed
        self._check_certified("decide a renewal")
        renewal = self.case.renewal
        if renewal is None or renewal.passed is not None:
            raise WrongState("no_renewal_pending", "no renewal review is pending")
        self._check_document_number(meta)
        if profile.renewal_assesses_plan_targets and plan_targets_met is None:
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


# ---- commands: one declaration each (domain.commands) -----------------------------------


class CertifyBody(CommandBody, kw_only=True):
    """FJ: the province certifies; XM: the city records MIIT's certification."""


class RejectBody(CommandBody, kw_only=True):
    """The reason goes in `comment`."""


class RenewalRequestBody(CommandBody, kw_only=True):
    pass


class RenewalDecisionBody(CommandBody, kw_only=True):
    passed: bool
    plan_targets_met: bool | None = None  # FJ Art. 14: required for FJ


@command(
    Command.CERTIFY,
    body=CertifyBody,
    path="/certification",
    summary="Certify (FJ) or record MIIT's certification (XM)",
)
def certify(
    cluster: Cluster, meta: EventMeta, body: CertifyBody, rules: Rules  # noqa: ARG001
) -> None:
    """FJ Art. 13: the province certifies after a notice without open or upheld objections.
    XM Art. 7–8: the city records MIIT's certification. Needs the decision's document number;
    the recommending user may not certify (four eyes). Validity: 3 years."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    profile = rules.profile(cluster.case.dossier)
    cluster.certify(meta, version.validity_years, version.id, profile=profile)


@command(
    Command.REJECT,
    body=RejectBody,
    path="/rejection",
    summary="Reject (FJ) or record MIIT's rejection (XM)",
)
def reject(
    cluster: Cluster, meta: EventMeta, body: RejectBody, rules: Rules  # noqa: ARG001
) -> None:
    """The certifying body refuses the case; the reason (`comment`) is required."""
    cluster.reject(meta, profile=rules.profile(cluster.case.dossier))


@command(
    Command.REQUEST_RENEWAL,
    body=RenewalRequestBody,
    path="/renewal",
    summary="Apply for renewal review",
)
def request_renewal(
    cluster: Cluster, meta: EventMeta, body: RenewalRequestBody, rules: Rules  # noqa: ARG001
) -> None:
    """At the end of the 3-year validity the cluster applies for renewal review (复核;
    FJ Art. 14, XM Art. 8)."""
    cluster.request_renewal(meta)


@command(
    Command.DECIDE_RENEWAL,
    body=RenewalDecisionBody,
    path="/renewal/decision",
    summary="Decide the renewal review",
)
def decide_renewal(
    cluster: Cluster, meta: EventMeta, body: RenewalDecisionBody, rules: Rules
) -> None:
    """Passing extends validity by 3 years; FJ also records whether the 3-year plan's targets
    were met. A failed renewal needs a reason and is revocation ground (1)."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    cluster.decide_renewal(
        meta,
        passed=body.passed,
        plan_targets_met=body.plan_targets_met,
        validity_years=version.validity_years,
        rulebook_version=version.id,
        profile=rules.profile(cluster.case.dossier),
    )
