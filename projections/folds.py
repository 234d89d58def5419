"""Pure folds: from the event log to the rows of the read views.

One compact per-cluster state, the `ClusterDigest`, is folded event by event (`fold`); the rows
of every view are pure functions of it (`status_row`, `funding_rows`, `deadline_rows`). The
PostgreSQL views apply exactly these functions, and an offline verifier folding an exported log
in memory (`fold_log`) obtains the same rows.

An event this module does not know stops the fold with `UnhandledEvent`: nothing is skipped.
Events of other aggregates that carry nothing for these views are listed in `IGNORED_EVENTS`.

Every free text a fold takes from an event goes through `projections.text.storable` (U+0000
and lone surrogates, which PostgreSQL cannot store, in a visible escaped form): a view never
stops on a stored text.

The digest is stored by the views: changing what a fold computes means rebuilding the views
(`cluster-ledger project rebuild NAME`).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

import msgspec
from eventsourcing.utils import resolve_topic
from msgspec.structs import replace

from domain.cluster import Cluster
from domain.errors import InvalidInput, NotFound
from domain.facts import AppealOutcome, ChangeKind, ScoreStage
from domain.governance import governing_version
from domain.programmes import Programmes
from domain.readings import annual_report_due as report_due_under
from domain.readings import (
    annual_report_rulebook,
    entitlement,
    in_time,
    remaining_fen,
)
from domain.regions import Regions
from domain.rulebook import Rulebook
from domain.status import EXPIRED as EXPIRED  # noqa: PLC0414 - re-exported for the read side
from domain.status import Status, lapses_on, status_on
from domain.voucher import VoucherIndex
from projections.text import storable, storable_or_none


@dataclass(frozen=True)
class Rules:
    """The reference data a fold reads: the dated rulebook, the programme profiles and the
    region table."""

    rulebook: Rulebook
    programmes: Programmes
    regions: Regions


class UnhandledEvent(Exception):
    """The fold met an event it cannot handle, or an event that makes no sense in its order."""


# ---- the per-cluster digest ----------------------------------------------------------------


class Payment(msgspec.Struct, frozen=True, kw_only=True):
    voucher: str
    paid_on: date
    amount_fen: int


class AssessmentDigest(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    number: int  # 1st, 2nd, ... assessment since certification (XM Art. 13 bands)
    final_score: Decimal | None = None
    failed: bool = False


class FundingDigest(msgspec.Struct, frozen=True, kw_only=True):
    funding_year: int
    plan_submitted_on: date
    requested_fen: int
    district_passed: bool | None = None
    approved_fen: int = 0
    approved_on: date | None = None
    entitlement_fen: int | None = None  # as recorded by the approval
    notice_ends_on: date | None = None
    notice_provisional: bool = False
    payments: tuple[Payment, ...] = ()
    rulebook_version: str | None = None

    @property
    def paid_fen(self) -> int:
        return sum(p.amount_fen for p in self.payments)


class RevocationDigest(msgspec.Struct, frozen=True, kw_only=True):
    decided_on: date
    received_on: date
    appeal_deadline: date | None
    appeal_deadline_provisional: bool
    status_before: str


class AppealDigest(msgspec.Struct, frozen=True, kw_only=True):
    filed_on: date
    reply_due: date
    reply_due_provisional: bool
    outcome: str | None = None


class ClusterDigest(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID
    name: str
    programme: str
    province_code: str
    city_code: str
    county_code: str
    leading_industry: str
    operating_unit: str | None
    status: str  # as recorded; a lapsed certification reads expired (`domain.status`)
    applied_on: date
    rulebook_version: str  # the last version an event recorded
    notice_ends_on: date | None = None  # certification public notice (FJ Art. 13)
    notice_provisional: bool = False
    certified_on: date | None = None
    valid_until: date | None = None
    renewal_pending: bool = False
    reports: tuple[int, ...] = ()  # years whose annual report is filed, ascending
    assessments: tuple[AssessmentDigest, ...] = ()  # by number
    funding: tuple[FundingDigest, ...] = ()  # by funding year
    revocation: RevocationDigest | None = None
    appeal: AppealDigest | None = None
    version: int = 0
    position: int = 0  # notification id of the last event folded


# ---- rows of the views -------------------------------------------------------------------


class DeadlineKind(StrEnum):
    ANNUAL_REPORT = "annual_report"  # FJ Art. 15 (Mar 30) / XM Art. 9 (Apr 30)
    RENEWAL = "renewal"  # FJ Art. 14 / XM Art. 8: at the end of validity
    CERTIFICATION_NOTICE = "certification_notice"  # FJ Art. 13: end of the public notice
    APPEAL_WINDOW = "appeal_window"  # FJ Art. 16: 15 working days from receipt
    APPEAL_REPLY = "appeal_reply"  # FJ Art. 16: 30 working days from the appeal
    SUBSIDY_NOTICE = "subsidy_notice"  # XM Art. 15: 5 working days, then disbursement


_KIND_ORDER = {kind: index for index, kind in enumerate(DeadlineKind)}


class StatusRow(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID
    name: str
    programme: str
    province_code: str
    city_code: str
    county_code: str
    leading_industry: str
    operating_unit: str | None
    status: str  # as recorded; read it on a date with `domain.status.status_on(status, lapses_on)`
    applied_on: date
    certified_on: date | None
    valid_until: date | None
    renewal_pending: bool
    lapses_on: date | None  # first day it reads expired (`domain.status.lapses_on`)
    last_report_year: int | None
    last_final_score: Decimal | None
    next_due_on: date | None
    next_due_kind: str | None
    version: int
    position: int


class FundingRow(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID
    funding_year: int  # 1..3 of the XM subsidy (Art. 13)
    name: str
    programme: str
    city_code: str
    county_code: str
    budget_year: int  # calendar year of the approval, or of the plan while unapproved
    plan_submitted_on: date
    requested_fen: int
    district_passed: bool | None
    entitled_fen: int | None  # None: the rulebook cannot say yet (score missing)
    entitlement_fixed: bool  # True once an approval recorded it
    approved_fen: int
    approved_on: date | None
    notice_ends_on: date | None
    notice_provisional: bool
    paid_fen: int
    remaining_fen: int  # approved, not yet paid
    payments: tuple[Payment, ...]
    rulebook_version: str | None
    position: int


class DeadlineRow(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID
    kind: str
    subject: str  # the report year, "subsidy:<n>", or "" where the kind says it all
    name: str
    programme: str
    city_code: str
    county_code: str
    due_on: date
    provisional: bool  # the calendar did not know a year the count went through
    position: int


# ---- folding -----------------------------------------------------------------------------

_Fold = Callable[[ClusterDigest, Any, Rules], ClusterDigest]
_FOLDS: dict[type[Any], _Fold] = {}
# What `fold` dispatches on: the event classes above, plus the partial events of
# `partial_event_decoder` (which stand for them); `_APPLIED` holds Applied's stand-ins.
_HANDLERS: dict[type[Any], _Fold] = {}
_APPLIED: set[type[Any]] = {Cluster.Applied}
_TOPICS: dict[type[Any], str] = {}


def _folds(*event_classes: type[Any]) -> Callable[[_Fold], _Fold]:
    def register(function: _Fold) -> _Fold:
        for event_class in event_classes:
            _FOLDS[event_class] = function
            _HANDLERS[event_class] = function
        return function

    return register


IGNORED_EVENTS: tuple[type[Any], ...] = (VoucherIndex.Registered,)
"""Events in the log that carry nothing for these views (the voucher uniqueness index)."""


def handled_event_classes() -> tuple[type[Any], ...]:
    """Every Cluster event class the folds handle."""
    return (Cluster.Applied, *_FOLDS)


def topic_of(event: object) -> str:
    cls = type(event)
    topic = _TOPICS.get(cls)
    return topic if topic is not None else f"{cls.__module__}:{cls.__qualname__}"


def _where(event: Any, position: int) -> str:
    return (
        f"{topic_of(event)} of {getattr(event, 'originator_id', '?')} "
        f"v{getattr(event, 'originator_version', '?')} at position {position}"
    )


def fold(
    digest: ClusterDigest | None, event: Any, position: int, rules: Rules
) -> ClusterDigest:
    """The digest after `event`, which was recorded at `position` in the log."""
    cls = type(event)
    # The error text is made only when there is an error: this runs once per event.
    if cls in _APPLIED:
        if digest is not None:
            raise UnhandledEvent(
                f"{_where(event, position)}: the cluster was applied for already"
            )
        new = _applied(event, rules)
    else:
        handler = _HANDLERS.get(cls)
        if handler is None:
            raise UnhandledEvent(f"{_where(event, position)}: no fold handles this event")
        if digest is None:
            raise UnhandledEvent(
                f"{_where(event, position)}: the log has no Applied event before it"
            )
        if event.originator_version != digest.version + 1:
            raise UnhandledEvent(
                f"{_where(event, position)}: expected version {digest.version + 1} "
                "of the cluster"
            )
        new = handler(digest, event, rules)
    return replace(new, version=event.originator_version, position=position)


def fold_log(
    events: Iterable[tuple[int, Any]], rules: Rules,
    digests: Mapping[UUID, ClusterDigest] | None = None,
) -> dict[UUID, ClusterDigest]:
    """Fold `(position, event)` pairs, in log order, into one digest per cluster.

    Events in `IGNORED_EVENTS` are passed over by name; any other unknown event raises.
    """
    result = dict(digests or {})
    for position, event in events:
        if isinstance(event, IGNORED_EVENTS):
            continue
        cluster_id = event.originator_id
        result[cluster_id] = fold(result.get(cluster_id), event, position, rules)
    return result


def _applied(event: Any, rules: Rules) -> ClusterDigest:
    dossier = event.dossier
    county = dossier.county_code
    return ClusterDigest(
        cluster_id=event.originator_id,
        name=storable(dossier.name),
        programme=str(dossier.programme),
        province_code=county[:2] + "0000",
        city_code=rules.regions.city_of(county).code,
        county_code=county,
        leading_industry=storable(dossier.leading_industry),
        operating_unit=storable_or_none(dossier.operating_unit),
        status=str(Status.APPLIED),
        applied_on=event.meta.effective_date,
        rulebook_version=event.rulebook_version,
    )


def _version_from(digest: ClusterDigest, event: Any) -> str:
    return str(getattr(event, "rulebook_version", digest.rulebook_version))


@_folds(Cluster.Recommended)
def _recommended(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    return replace(
        digest, status=str(Status.RECOMMENDED), rulebook_version=_version_from(digest, event)
    )


@_folds(Cluster.NotRecommended)
def _not_recommended(digest: ClusterDigest, _event: Any, _: Rules) -> ClusterDigest:
    return replace(digest, status=str(Status.NOT_RECOMMENDED))


@_folds(Cluster.Withdrawn)
def _withdrawn(digest: ClusterDigest, _event: Any, _: Rules) -> ClusterDigest:
    return replace(digest, status=str(Status.WITHDRAWN))


@_folds(Cluster.Shortlisted)
def _shortlisted(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    return replace(
        digest,
        status=str(Status.UNDER_NOTICE),
        notice_ends_on=event.notice.ends_on,
        notice_provisional=event.notice.provisional,
        rulebook_version=_version_from(digest, event),
    )


@_folds(
    Cluster.ObjectionRaised,
    Cluster.ObjectionResolved,
    Cluster.AuditFindingRecorded,
    Cluster.RectificationConfirmed,
)
def _no_change(digest: ClusterDigest, _event: Any, _: Rules) -> ClusterDigest:
    """Recorded in the case, but nothing these views show changes (only version and position)."""
    return digest


@_folds(Cluster.Certified)
def _certified(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    return replace(
        digest,
        status=str(Status.CERTIFIED),
        certified_on=event.meta.effective_date,
        valid_until=event.valid_until,
        rulebook_version=_version_from(digest, event),
    )


@_folds(Cluster.Rejected)
def _rejected(digest: ClusterDigest, _event: Any, _: Rules) -> ClusterDigest:
    return replace(digest, status=str(Status.REJECTED))


@_folds(Cluster.AnnualReportFiled)
def _annual_report_filed(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    reports, year = digest.reports, event.year
    if not reports or year > reports[-1]:  # the usual case: the next year, in order
        reports = (*reports, year)
    elif year not in reports:
        reports = tuple(sorted((*reports, year)))
    return replace(digest, reports=reports, rulebook_version=_version_from(digest, event))


@_folds(Cluster.Scored)
def _scored(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    assessments, year = digest.assessments, event.year
    index = next((i for i, a in enumerate(assessments) if a.year == year), None)
    current = (
        assessments[index] if index is not None
        else AssessmentDigest(year=year, number=len(assessments) + 1)
    )
    if event.stage == ScoreStage.CITY_FINAL:
        current = replace(current, final_score=event.score)
    # Every score restates the failure grounds, as the aggregate's applier does.
    current = replace(current, failed=bool(event.failure_grounds))
    if index is None:
        # A new year's number is one more than any before: it sorts last.
        assessments = (*assessments, current)
    else:
        assessments = (*assessments[:index], current, *assessments[index + 1:])
    return replace(
        digest, assessments=assessments, rulebook_version=_version_from(digest, event)
    )


def _with_funding(digest: ClusterDigest, funding: FundingDigest) -> ClusterDigest:
    years = {f.funding_year: f for f in digest.funding}
    years[funding.funding_year] = funding
    return replace(digest, funding=tuple(years[y] for y in sorted(years)))


def _funding_year(digest: ClusterDigest, event: Any) -> FundingDigest:
    for funding in digest.funding:
        if funding.funding_year == event.funding_year:
            return funding
    raise UnhandledEvent(
        f"{topic_of(event)} of {event.originator_id} v{event.originator_version}: "
        f"no fund-use plan for funding year {event.funding_year} before it"
    )


@_folds(Cluster.FundUsePlanSubmitted)
def _plan_submitted(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    return _with_funding(
        digest,
        FundingDigest(
            funding_year=event.funding_year,
            plan_submitted_on=event.meta.effective_date,
            requested_fen=event.requested_fen,
        ),
    )


@_folds(Cluster.FundUsePlanReviewed)
def _plan_reviewed(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    funding = _funding_year(digest, event)
    return _with_funding(digest, replace(funding, district_passed=event.passed))


@_folds(Cluster.SubsidyApproved)
def _subsidy_approved(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    funding = replace(
        _funding_year(digest, event),
        approved_fen=event.amount_fen,
        approved_on=event.meta.effective_date,
        entitlement_fen=event.entitlement_fen,
        notice_ends_on=event.notice.ends_on,
        notice_provisional=event.notice.provisional,
        rulebook_version=event.rulebook_version,
    )
    return replace(
        _with_funding(digest, funding), rulebook_version=_version_from(digest, event)
    )


@_folds(Cluster.SubsidyPaid)
def _subsidy_paid(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    funding = _funding_year(digest, event)
    payment = Payment(
        voucher=storable(event.voucher_number), paid_on=event.meta.effective_date,
        amount_fen=event.amount_fen,
    )
    return _with_funding(digest, replace(funding, payments=(*funding.payments, payment)))


@_folds(Cluster.MajorChangeReported)
def _major_change(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    if event.kind == ChangeKind.LEADING_INDUSTRY:
        return replace(digest, leading_industry=storable(event.new_value))
    if event.kind == ChangeKind.OPERATING_UNIT:
        return replace(digest, operating_unit=storable(event.new_value))
    return digest  # a change of spatial scope is recorded; no column shows it


@_folds(Cluster.RenewalRequested)
def _renewal_requested(digest: ClusterDigest, _event: Any, _: Rules) -> ClusterDigest:
    return replace(digest, renewal_pending=True)


@_folds(Cluster.RenewalDecided)
def _renewal_decided(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    version = _version_from(digest, event)
    if event.passed and event.valid_until is not None:
        return replace(
            digest, renewal_pending=False, valid_until=event.valid_until,
            rulebook_version=version,
        )
    return replace(
        digest, renewal_pending=False, status=str(Status.RENEWAL_FAILED),
        rulebook_version=version,
    )


@_folds(Cluster.Revoked)
def _revoked(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    return replace(
        digest,
        status=str(Status.REVOKED),
        revocation=RevocationDigest(
            decided_on=event.meta.effective_date,
            received_on=event.received_on,
            appeal_deadline=event.appeal_deadline,
            appeal_deadline_provisional=event.appeal_deadline_provisional,
            status_before=digest.status,
        ),
        appeal=None,
        rulebook_version=_version_from(digest, event),
    )


@_folds(Cluster.Appealed)
def _appealed(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    return replace(
        digest,
        appeal=AppealDigest(
            filed_on=event.meta.effective_date,
            reply_due=event.reply_due,
            reply_due_provisional=event.reply_due_provisional,
        ),
        rulebook_version=_version_from(digest, event),
    )


@_folds(Cluster.AppealDecided)
def _appeal_decided(digest: ClusterDigest, event: Any, _: Rules) -> ClusterDigest:
    appeal, revocation = digest.appeal, digest.revocation
    if appeal is None or revocation is None:
        raise UnhandledEvent(
            f"{topic_of(event)} of {event.originator_id} v{event.originator_version}: "
            "no appeal before it"
        )
    status = digest.status
    if event.outcome == AppealOutcome.OVERTURNED:
        status = revocation.status_before  # certification restored, original validity
    return replace(digest, status=status, appeal=replace(appeal, outcome=str(event.outcome)))


# ---- derived rows ------------------------------------------------------------------------


def derived_status(status: str, valid_until: date | None, renewal_pending: bool, on: date) -> str:
    """Status as a reader sees it on `on`, from the recorded inputs: `domain.status`'s
    `status_on` of its `lapses_on` (as `CaseState.status_on`)."""
    return status_on(status, lapses_on(status, valid_until, renewal_pending), on)


def status_row(digest: ClusterDigest, rules: Rules) -> StatusRow:
    finals = [a for a in digest.assessments if a.final_score is not None]
    last_final = max(finals, key=lambda a: a.year) if finals else None
    upcoming = next_deadline(deadline_rows(digest, rules))
    return StatusRow(
        cluster_id=digest.cluster_id,
        name=digest.name,
        programme=digest.programme,
        province_code=digest.province_code,
        city_code=digest.city_code,
        county_code=digest.county_code,
        leading_industry=digest.leading_industry,
        operating_unit=digest.operating_unit,
        status=digest.status,
        applied_on=digest.applied_on,
        certified_on=digest.certified_on,
        valid_until=digest.valid_until,
        renewal_pending=digest.renewal_pending,
        lapses_on=lapses_on(digest.status, digest.valid_until, digest.renewal_pending),
        last_report_year=max(digest.reports) if digest.reports else None,
        last_final_score=last_final.final_score if last_final else None,
        next_due_on=upcoming.due_on if upcoming else None,
        next_due_kind=upcoming.kind if upcoming else None,
        version=digest.version,
        position=digest.position,
    )


def _deadline_order(row: DeadlineRow) -> tuple[date, int, str]:
    return (row.due_on, _KIND_ORDER[DeadlineKind(row.kind)], row.subject)


def next_deadline(rows: list[DeadlineRow]) -> DeadlineRow | None:
    """The case's next deadline (the board's `next_due_*`): the first one due."""
    return min(rows, key=_deadline_order) if rows else None


def funding_rows(digest: ClusterDigest, rules: Rules) -> list[FundingRow]:
    rows = []
    for funding in digest.funding:
        paid = funding.paid_fen
        fixed = funding.entitlement_fen is not None
        rows.append(
            FundingRow(
                cluster_id=digest.cluster_id,
                funding_year=funding.funding_year,
                name=digest.name,
                programme=digest.programme,
                city_code=digest.city_code,
                county_code=digest.county_code,
                budget_year=(funding.approved_on or funding.plan_submitted_on).year,
                plan_submitted_on=funding.plan_submitted_on,
                requested_fen=funding.requested_fen,
                district_passed=funding.district_passed,
                entitled_fen=(
                    funding.entitlement_fen if fixed else _estimated_entitlement(
                        digest, funding, rules
                    )
                ),
                entitlement_fixed=fixed,
                approved_fen=funding.approved_fen,
                approved_on=funding.approved_on,
                notice_ends_on=funding.notice_ends_on,
                notice_provisional=funding.notice_provisional,
                paid_fen=paid,
                remaining_fen=remaining_fen(funding.approved_fen, paid),
                payments=funding.payments,
                rulebook_version=funding.rulebook_version,
                position=digest.position,
            )
        )
    return rows


def _estimated_entitlement(
    digest: ClusterDigest, funding: FundingDigest, rules: Rules
) -> int | None:
    """What the rulebook in force when the plan was submitted grants (`domain.readings.
    entitlement`); None while the rulebook cannot say (no final score of the assessment it
    depends on yet, no such funding year, a score outside its scale)."""
    try:
        version = governing_version(
            rules.rulebook, rules.programmes.get(digest.programme), funding.plan_submitted_on
        )
        return entitlement(version, funding.funding_year, digest.assessments)
    except (NotFound, InvalidInput):
        return None


def deadline_rows(digest: ClusterDigest, rules: Rules) -> list[DeadlineRow]:
    """Every open obligation of the case, with its due date."""
    due: list[tuple[DeadlineKind, str, date, bool]] = []
    status = digest.status
    if status == Status.UNDER_NOTICE and digest.notice_ends_on is not None:
        due.append(
            (DeadlineKind.CERTIFICATION_NOTICE, "", digest.notice_ends_on,
             digest.notice_provisional)
        )
    if status == Status.CERTIFIED:
        report_year = _first_unfiled_year(digest)
        if report_year is not None:
            due.append(
                (DeadlineKind.ANNUAL_REPORT, str(report_year),
                 annual_report_due(digest, report_year, rules), False)
            )
        if digest.valid_until is not None and not digest.renewal_pending:
            due.append((DeadlineKind.RENEWAL, "", digest.valid_until, False))
        due.extend(
            (DeadlineKind.SUBSIDY_NOTICE, f"subsidy:{funding.funding_year}",
             funding.notice_ends_on, funding.notice_provisional)
            for funding in digest.funding
            if funding.notice_ends_on is not None and funding.paid_fen < funding.approved_fen
        )
    revocation, appeal = digest.revocation, digest.appeal
    if status == Status.REVOKED and revocation is not None:
        if appeal is None and revocation.appeal_deadline is not None:
            due.append(
                (DeadlineKind.APPEAL_WINDOW, "", revocation.appeal_deadline,
                 revocation.appeal_deadline_provisional)
            )
        if appeal is not None and appeal.outcome is None:
            due.append(
                (DeadlineKind.APPEAL_REPLY, "", appeal.reply_due, appeal.reply_due_provisional)
            )
    rows = [
        DeadlineRow(
            cluster_id=digest.cluster_id, kind=str(kind), subject=subject, name=digest.name,
            programme=digest.programme, city_code=digest.city_code,
            county_code=digest.county_code, due_on=due_on, provisional=provisional,
            position=digest.position,
        )
        for kind, subject, due_on, provisional in due
    ]
    return sorted(rows, key=_deadline_order)


def _first_unfiled_year(digest: ClusterDigest) -> int | None:
    """The earliest year owing a report: reports are owed from the certification year on
    (FJ Art. 15, XM Art. 9). Later unfiled years appear once this one is filed."""
    if digest.certified_on is None:
        return None
    year = digest.certified_on.year
    filed = set(digest.reports)
    while year in filed:
        year += 1
    return year


def annual_report_due(digest: ClusterDigest, year: int, rules: Rules) -> date:
    """Due date of the case's report on `year` (`domain.readings.annual_report_due` under the
    version `domain.readings.annual_report_rulebook` picks)."""
    version = annual_report_rulebook(
        rules.rulebook, rules.programmes.get(digest.programme), year, digest.rulebook_version
    )
    return report_due_under(version, year)


def is_overdue(row: DeadlineRow, on: date) -> bool:
    """Overdue on `on`: the due date itself is still in time (`domain.readings.in_time`)."""
    return not in_time(row.due_on, on)


# ---- codec for the digests the views store -------------------------------------------------

_DIGEST_ENCODER = msgspec.json.Encoder(decimal_format="string")
_DIGEST_DECODER = msgspec.json.Decoder(ClusterDigest)


def encode_digest(digest: ClusterDigest) -> str:
    return _DIGEST_ENCODER.encode(digest).decode()


def decode_digest(raw: str | bytes) -> ClusterDigest:
    return _DIGEST_DECODER.decode(raw)


# ---- partial decoding: only what the folds read --------------------------------------------

# The fields of an event the folds above read; for a nested Struct, the fields read in it.
# (A fold that starts reading another field must name it here: a field left out is absent from
# the partial event, and the fold fails loudly with AttributeError rather than misread it.)
_NESTED_FIELDS: dict[str, tuple[str, ...]] = {
    "meta": ("effective_date",),
    "dossier": ("name", "programme", "county_code", "leading_industry", "operating_unit"),
    "notice": ("ends_on", "provisional"),
}
_FLAT_FIELDS = frozenset({
    "rulebook_version", "valid_until", "year", "stage", "score", "failure_grounds",
    "funding_year", "requested_fen", "passed", "amount_fen", "entitlement_fen",
    "voucher_number", "kind", "new_value", "received_on", "appeal_deadline",
    "appeal_deadline_provisional", "reply_due", "reply_due_provisional", "outcome",
})
_ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version"})


def _partial_struct(owner: str, struct: type[msgspec.Struct], names: tuple[str, ...]) -> Any:
    """A Struct with only `names` of `struct`, each with its type and default."""
    hints = typing.get_type_hints(struct)
    info = {f.name: f for f in msgspec.structs.fields(struct)}
    fields: list[Any] = []
    for name in names:
        field = info[name]
        if field.required:
            fields.append((name, hints[name]))
        elif field.default is not msgspec.NODEFAULT:
            fields.append((name, hints[name], field.default))
        else:
            fields.append((name, hints[name], msgspec.field(default_factory=field.default_factory)))
    return msgspec.defstruct(f"{owner}_{struct.__name__}", fields, kw_only=True)


def _partial_type(owner: str, hint: Any, names: tuple[str, ...]) -> Any:
    """`hint` (a Struct, or an optional one) narrowed to `names`."""
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return _partial_struct(owner, hint, names)
    args = typing.get_args(hint)
    structs = [a for a in args if isinstance(a, type) and issubclass(a, msgspec.Struct)]
    if len(structs) == 1 and set(args) == {structs[0], type(None)}:
        return _partial_struct(owner, structs[0], names) | None
    raise TypeError(f"{owner}: cannot narrow {hint!r}")


class PartialDecoder(NamedTuple):
    decoder: msgspec.json.Decoder[Any]
    event_class: type[Any]


@cache
def partial_event_decoder(topic: str) -> PartialDecoder | None:
    """A decoder of the stored state of a Cluster event into a partial event that `fold`
    accepts in place of the full one: the same attributes the folds read (typed and validated
    as the full decoding does), and `originator_id` / `originator_version` to be set by the
    caller. None for a topic no fold handles (the caller decodes it in full)."""
    cls = resolve_topic(topic)
    if cls not in _FOLDS and cls is not Cluster.Applied:
        return None
    owner = cls.__qualname__.replace(".", "_")
    fields: list[Any] = []
    for name, hint in typing.get_type_hints(cls).items():
        if name in _ENVELOPE_FIELDS or typing.get_origin(hint) is typing.ClassVar:
            continue
        if name in _NESTED_FIELDS:
            fields.append((name, _partial_type(f"{owner}_{name}", hint, _NESTED_FIELDS[name])))
        elif name in _FLAT_FIELDS:
            fields.append((name, hint))
    fields += [("originator_id", Any, None), ("originator_version", int, 0)]
    partial = msgspec.defstruct(f"Partial{owner}", fields, kw_only=True)
    _TOPICS[partial] = topic
    if cls is Cluster.Applied:
        _APPLIED.add(partial)
    else:
        _HANDLERS[partial] = _FOLDS[cls]
    return PartialDecoder(msgspec.json.Decoder(partial), cls)
