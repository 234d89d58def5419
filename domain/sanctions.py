"""Sanctions: revocation, appeal and the appeal's decision (FJ Art. 16)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate, event

from domain.actors import EventMeta
from domain.case import (
    Appeal,
    Revocation,
    Status,
)
from domain.commands import Command, CommandBody, Rules, command
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import (
    AppealOutcome,
    Ground,
)
from domain.inputs import Day
from domain.readings import appeal_route
from domain.stage import (
    Stage,
    stored_as_cluster_events,
)

if TYPE_CHECKING:
    from domain.cluster import Cluster


@stored_as_cluster_events
class SanctionsStage(Stage):
    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

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


# ---- commands: one declaration each (domain.commands) -----------------------------------


class RevocationBody(CommandBody, kw_only=True):
    ground: Ground
    received_on: Day  # when the applicant received the decision: the appeal period runs from it


class AppealBody(CommandBody, kw_only=True):
    """The grounds of the appeal go in `comment`."""


class AppealDecisionBody(CommandBody, kw_only=True):
    outcome: AppealOutcome


@command(
    Command.REVOKE,
    body=RevocationBody,
    path="/revocation",
    summary="Revoke the certification",
    uses=("appeal_period",),
)
def revoke(cluster: Cluster, meta: EventMeta, body: RevocationBody, rules: Rules) -> None:
    """On one of the five grounds of FJ Art. 16, with the decision's document number, a reason,
    and the date the applicant received it; the appeal deadline (15 working days from receipt)
    is computed and recorded."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    route = appeal_route(version)
    deadline = (
        rules.period(body.received_on, route.period, "appeal period", version) if route else None
    )
    cluster.revoke(
        meta,
        body.ground,
        body.received_on,
        deadline.due if deadline else None,
        deadline.provisional if deadline else False,
        version.id,
    )


@command(
    Command.APPEAL,
    body=AppealBody,
    path="/appeals",
    summary="Appeal a revocation",
    uses=("appeal_reply",),
)
def appeal(
    cluster: Cluster, meta: EventMeta, body: AppealBody, rules: Rules  # noqa: ARG001
) -> None:
    """Within 15 working days of receiving the revocation (FJ Art. 16); the province's reply is
    due within 30 working days. The grounds go in `comment`."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    route = appeal_route(version)
    if route is None:
        raise RuleViolation("no_appeal_route", f"rulebook {version.id} provides no appeal")
    reply = rules.period(meta.effective_date, route.reply, "appeal reply", version)
    cluster.appeal(meta, reply.due, reply.provisional, version.id)


@command(
    Command.DECIDE_APPEAL,
    body=AppealDecisionBody,
    path="/appeals/decision",
    summary="Decide an appeal",
)
def decide_appeal(
    cluster: Cluster, meta: EventMeta, body: AppealDecisionBody, rules: Rules  # noqa: ARG001
) -> None:
    """`upheld`: the revocation stands; `overturned`: certification restored with its original
    validity. The user who revoked may not decide the appeal (four eyes)."""
    cluster.decide_appeal(meta, body.outcome)
