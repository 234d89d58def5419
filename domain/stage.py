"""What every stage of a case shares: the aggregate's state, the guards, and how stage events are
stored.

The Cluster aggregate (`domain.cluster`) is one aggregate assembled from stage classes, one module
per stage of a case: `review`, `certification`, `monitoring`, `funding`, `sanctions`. Each stage
declares its events and its commands; the body of each `@event` method is that event's applier.
Guards are small `_check_*` helpers raising domain errors with stable codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from eventsourcing.domain import Aggregate

from domain.actors import EventMeta
from domain.case import Funding, Notice, Status
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import Dossier

if TYPE_CHECKING:
    from domain.case import CaseState

CERTIFICATION = "certification"
CLUSTER_TOPIC = "domain.cluster:Cluster"  # where every event was declared before the stages

S = TypeVar("S", bound=type[Aggregate])


def subsidy_subject(funding_year: int) -> str:
    return f"subsidy:{funding_year}"


def replace_dossier(dossier: Dossier, **changes: Any) -> Dossier:
    return msgspec.structs.replace(dossier, **changes)


def stored_as_cluster_events(stage: S) -> S:
    """Keep each stage event's stored topic `domain.cluster:Cluster.<Name>`.

    The events were declared on `Cluster` before it was split into stages, and a deployed log
    stores them under those topics; a topic never changes (an event is found by it when the log
    is read). eventsourcing builds a topic from `TOPIC` when a class has one."""
    for name, value in vars(stage).items():
        if (
            isinstance(value, type)
            and issubclass(value, Aggregate.Event)
            and name[0].isupper()
            and name not in ("Event", "Created")
        ):
            value.TOPIC = f"{CLUSTER_TOPIC}.{name}"  # type: ignore[attr-defined]
    return stage


def stage_event_classes(aggregate: type[Aggregate]) -> dict[str, type[Aggregate.Event]]:
    """The events each stage of `aggregate` declares, by name (what its commands trigger)."""
    stages = [base for base in aggregate.__mro__ if issubclass(base, Stage) and base is not Stage]
    return {
        name: value
        for stage in stages
        for name, value in vars(stage).items()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and getattr(value, "TOPIC", "").startswith(CLUSTER_TOPIC)
    }


class Stage(Aggregate):
    """Base of the stage classes: the case's state and the guards every stage uses."""

    if TYPE_CHECKING:
        case: CaseState

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
