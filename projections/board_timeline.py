"""One case's board row on both time axes: pure, from the domain's own fold.

A case's *timeline as known at T* maps each date D (valid time) to the board row of the case
as `domain.history.case_at(as_of=D, known_at=T)` reconstructs it. It changes only at the
effective dates of the case's events, so it is a short list of intervals of D, each with one
`BoardState`. The bitemporal view keeps every timeline the case ever had, each row stamped
with the recording times between which it was the record (`recorded_from`, `recorded_to`).

When event N (effective E, recorded at T) arrives, the timeline for dates before E is
unchanged (the event is filtered out there). From E on:

- if no earlier event is effective after E (the usual order), every event passes the filter
  for any D >= E, so the state is the aggregate after all N events: the aggregate after N-1
  events (kept per case), folded one step further by eventsourcing's `mutate`, exactly as the
  ledger loads a case;
- otherwise (a back-dated event: a correction, an overturning, a decision entered late), the
  state at each effective date from E on is reconstructed by `domain.history.case_at` over
  the case's events 1..N, the same function the case-at-a-date API answers with.

The rows store the recorded status and the dates a reading on a date needs (validity end,
renewal pending); what depends on the date alone (a certification lapsing) is derived when
the row is read (`projections.queries.status_on_sql`), never written on that day.

Nothing here reads a clock or a database: the caller hands in the case's earlier events when
a back-dated event needs them.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import msgspec

from domain.case import CaseState
from domain.cluster import Cluster
from domain.history import EventRef, LoggedEvent, Prefix, case_at_refs, replayable_prefix
from projections.case_readings import digest_of
from projections.folds import Payment, Rules, deadline_rows, funding_rows, next_deadline
from projections.text import storable


class FundingState(msgspec.Struct, frozen=True, kw_only=True):
    """One funding year as the funding view shows it (`projections.folds.FundingRow` without
    the case's own columns, which the row has already)."""

    funding_year: int
    budget_year: int
    plan_submitted_on: date
    requested_fen: int
    district_passed: bool | None
    entitled_fen: int | None
    entitlement_fixed: bool
    approved_fen: int
    approved_on: date | None
    notice_ends_on: date | None
    notice_provisional: bool
    paid_fen: int
    remaining_fen: int
    payments: tuple[Payment, ...]
    rulebook_version: str | None


class DeadlineState(msgspec.Struct, frozen=True, kw_only=True):
    """One open obligation as the deadlines view shows it (`projections.folds.DeadlineRow`
    without the case's own columns). Whether it is overdue depends on the date it is read on
    alone: derived when read, never stored."""

    kind: str
    subject: str
    due_on: date
    provisional: bool


class BoardState(msgspec.Struct, frozen=True, kw_only=True):
    """What the board, the funding ledger and the deadlines show of a case on one date, from
    its state then (dates, not readings on a date: `status` is as recorded, a lapsed
    certification reads expired at query time; a deadline is overdue by comparing dates)."""

    name: str
    programme: str
    province_code: str
    city_code: str
    county_code: str
    leading_industry: str
    operating_unit: str | None
    status: str  # as recorded
    applied_on: date
    certified_on: date | None
    valid_until: date | None
    renewal_pending: bool
    lapses_on: date | None  # domain.status.lapses_on: the board's SQL reads the status by it
    last_report_year: int | None
    last_final_score: Decimal | None
    revoked_on: date | None  # effective date of the revocation on record (also if overturned)
    approved_fen: int  # subsidy approved, every funding year
    paid_fen: int  # subsidy paid, every funding year
    next_due_on: date | None  # the first of `deadlines` (as the status view's next deadline)
    next_due_kind: str | None
    funding: tuple[FundingState, ...]  # by funding year (`projections.folds.funding_rows`)
    deadlines: tuple[DeadlineState, ...]  # by due date (`projections.folds.deadline_rows`)


JSON_COLUMNS = frozenset({"funding", "deadlines"})  # stored as jsonb arrays
_FUNDING_FIELDS = FundingState.__struct_fields__
_DEADLINE_FIELDS = DeadlineState.__struct_fields__


def board_state(
    cluster_id: UUID, case: CaseState, rules: Rules, amounts: Mapping[str, int]
) -> BoardState:
    """The board's reading of one case state (the as-of reads show it; texts in their
    storable form, as every view stores them). The funding years and open obligations are
    the rows the funding and deadlines views fold (`projections.folds.funding_rows`,
    `deadline_rows`) of the digest this state gives (`projections.case_readings`);
    `amounts` are the case's payments by voucher."""
    finals = [a for a in case.assessments.values() if a.final_score is not None]
    last_final = max(finals, key=lambda a: a.year).final_score if finals else None
    digest = digest_of(cluster_id, case, rules.regions, amounts)
    deadlines = deadline_rows(digest, rules)
    upcoming = next_deadline(deadlines)
    return BoardState(  # the case's identity as the digest holds it (storable texts, places)
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
        lapses_on=case.lapses_on,
        last_report_year=max(case.reports) if case.reports else None,
        last_final_score=last_final,
        revoked_on=case.revocation.decided_on if case.revocation is not None else None,
        approved_fen=sum(f.approved_fen for f in case.funding.values()),
        paid_fen=sum(f.paid_fen for f in case.funding.values()),
        next_due_on=upcoming.due_on if upcoming is not None else None,
        next_due_kind=upcoming.kind if upcoming is not None else None,
        funding=tuple(
            FundingState(**{f: getattr(row, f) for f in _FUNDING_FIELDS})
            for row in funding_rows(digest, rules)
        ),
        deadlines=tuple(
            DeadlineState(**{f: getattr(row, f) for f in _DEADLINE_FIELDS}) for row in deadlines
        ),
    )


def paid_amounts(amounts: dict[str, int], event: Any) -> dict[str, int]:
    """The case's payments by voucher (its storable form) once `event` is folded (a new
    dict if it pays)."""
    if isinstance(event, Cluster.SubsidyPaid):
        return {**amounts, storable(event.voucher_number): event.amount_fen}
    return amounts


class CaseTrack(msgspec.Struct, kw_only=True):
    """What the view keeps per case to take the next event: the aggregate after every event
    so far (all of them known, whatever their dates), the latest effective date among them,
    when the last one was recorded, and every event's head (effective date and recording
    time, packed: what the filters of `domain.history` test)."""

    aggregate: Any  # Cluster
    max_effective: date
    recorded_at: datetime
    version: int
    heads: bytes
    amounts: dict[str, int] = msgspec.field(default_factory=dict)  # paid, by voucher


_HEAD = struct.Struct("<iq")  # effective date (ordinal), recording time (µs since the epoch)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def pack_head(effective: date, recorded_at: datetime) -> bytes:
    delta = recorded_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return _HEAD.pack(effective.toordinal(), micros)


def unpack_heads(raw: bytes) -> list[EventRef]:
    """The heads of events 1..n (type and position are not kept: no filter reads them)."""
    return [
        EventRef(
            version=index + 1, position=None, type="", effective_date=date.fromordinal(day),
            recorded_at=_EPOCH + timedelta(microseconds=micros),
        )
        for index, (day, micros) in enumerate(_HEAD.iter_unpack(raw))
    ]


Segment = tuple[date, BoardState | None]  # from this date on (to the next segment): the state


class CaseLog(Protocol):
    """A case's earlier events, for a back-dated event."""

    def events_after(self, version: int) -> Sequence[LoggedEvent]:
        """Events version+1..N-1 of the case, in version order (positions where known)."""

    def aggregate_at_most(self, version: int) -> tuple[int, Any]:
        """A saved state to start a fold from: (k, the aggregate after the case's first k
        events) with k <= `version`, a copy the caller may fold further; (0, None) if none."""


def advance(
    track: CaseTrack | None,
    event: Any,
    rules: Rules,
    log: CaseLog,
) -> tuple[CaseTrack, date, list[Segment]]:
    """Take event N of a case: the new track, and the case's timeline from the event's
    effective date on, as known once it is recorded (segments in date order; the last runs
    on without end). `log` is read only for a back-dated event."""
    effective: date = event.meta.effective_date
    cluster_id: UUID = event.originator_id
    if track is None:
        if not isinstance(event, Cluster.Applied):
            raise ValueError(f"event v{event.originator_version} of a case with no application")
        opened: Any = event.mutate(None)
        new = CaseTrack(
            aggregate=opened, max_effective=effective, recorded_at=event.timestamp,
            version=event.originator_version, heads=pack_head(effective, event.timestamp),
        )
        return new, effective, [(effective, board_state(cluster_id, opened.case, rules, {}))]
    if event.originator_version != track.version + 1:
        raise ValueError(
            f"event v{event.originator_version} does not follow the case's v{track.version}"
        )
    back_dated = effective < track.max_effective
    refs: list[EventRef] = []
    if back_dated:  # read before the aggregate moves on (a saved state may be the track's)
        refs = [*unpack_heads(track.heads), EventRef(
            version=event.originator_version, position=None, type="",
            effective_date=effective, recorded_at=event.timestamp,
        )]
    aggregate = event.mutate(track.aggregate)
    new = CaseTrack(
        aggregate=aggregate,
        max_effective=max(track.max_effective, effective),
        recorded_at=max(track.recorded_at, event.timestamp),
        version=event.originator_version,
        heads=track.heads + pack_head(effective, event.timestamp),
        amounts=paid_amounts(track.amounts, event),
    )
    if not back_dated:
        return new, effective, [
            (effective, board_state(cluster_id, aggregate.case, rules, new.amounts))
        ]
    segments = _timeline_from(
        event, effective, new.max_effective, refs, log, rules, new.amounts
    )
    # From the latest effective date on, every event passes: the state is the whole fold.
    segments.append(
        (new.max_effective, board_state(cluster_id, aggregate.case, rules, new.amounts))
    )
    return new, effective, segments


def _timeline_from(
    event: Any, start: date, end: date, refs: list[EventRef], log: CaseLog, rules: Rules,
    amounts: Mapping[str, int],
) -> list[Segment]:
    """The case's board state at `start` and at each later effective date before `end`,
    each as `domain.history.case_at(as_of=that date)` folds the case's events 1..N (`event`
    is N; `refs` their heads).

    The events up to the first one effective after `start` pass the filter for every such
    date: they are folded once, from a saved state (`log`), and the fold for each date starts
    from that prefix (`domain.history.Prefix`; a copy, but for the last). Only the events
    after the saved state are read."""
    cluster_id: UUID = event.originator_id
    dates = sorted({start, *(r.effective_date for r in refs if start < r.effective_date < end)})
    length = replayable_prefix(refs, start, None)
    saved, prefix = log.aggregate_at_most(length)
    later = [*(logged.event for logged in log.events_after(saved)), event]
    for earlier in later[: length - saved]:
        prefix = earlier.mutate(prefix)
    by_version = {e.originator_version: e for e in later}
    segments: list[Segment] = []
    for index, day in enumerate(dates):
        start_from = prefix if index == len(dates) - 1 else copy.deepcopy(prefix)
        state = case_at_refs(
            cluster_id, refs[length:], lambda ref: by_version[ref.version],
            today=day, as_of=day,
            prefix=Prefix(aggregate=start_from, refs=tuple(refs[:length])),
        ).case
        segments.append((
            day,
            board_state(cluster_id, state, rules, amounts) if state is not None else None,
        ))
    return segments


# ---- rows on both axes -----------------------------------------------------------------------


class VersionedRow(msgspec.Struct, kw_only=True):
    """One row of the bitemporal view: `state` for valid dates [valid_from, valid_to) as
    recorded during [recorded_from, recorded_to) (None: open). `version` and `position` are
    those of the event whose recording wrote the row."""

    cluster_id: UUID
    valid_from: date
    valid_to: date | None
    recorded_from: datetime
    recorded_to: datetime | None
    state: BoardState
    version: int
    position: int
    stored: bool = False  # read from the table (else written by this batch)
    dropped: bool = False  # written by this batch and superseded at its own recording time


class RowChanges(msgspec.Struct, kw_only=True):
    """What a batch does to the table: rows to insert, stored rows to close or delete."""

    inserted: list[VersionedRow] = msgspec.field(default_factory=list)
    closed: list[VersionedRow] = msgspec.field(default_factory=list)
    deleted: list[VersionedRow] = msgspec.field(default_factory=list)

    def final_inserts(self) -> list[VersionedRow]:
        return [row for row in self.inserted if not row.dropped]


Interval = tuple[date, date | None, BoardState]


def _desired(current: Sequence[VersionedRow], start: date, segments: Sequence[Segment]
             ) -> list[Interval]:
    """The whole timeline once the segments replace everything from `start` on: rows before
    `start` cut there, then the segments; equal neighbours merged."""
    pieces: list[Interval] = []
    for row in current:
        if row.valid_from < start:
            cut = row.valid_to if row.valid_to is not None and row.valid_to <= start else start
            pieces.append((row.valid_from, cut, row.state))
    for index, (begin, state) in enumerate(segments):
        until = segments[index + 1][0] if index + 1 < len(segments) else None
        if state is not None:
            pieces.append((begin, until, state))
    merged: list[Interval] = []
    for begin, end, state in pieces:
        if merged and merged[-1][1] == begin and merged[-1][2] == state:
            merged[-1] = (merged[-1][0], end, state)
        else:
            merged.append((begin, end, state))
    return merged


def _ends_before(row: VersionedRow, day: date) -> bool:
    return row.valid_to is not None and row.valid_to < day


def supersede(
    current: list[VersionedRow],
    start: date,
    segments: Sequence[Segment],
    *,
    cluster_id: UUID,
    recorded_at: datetime,
    version: int,
    position: int,
    changes: RowChanges,
) -> list[VersionedRow]:
    """The case's open rows once the timeline from `start` on is `segments`, recorded at
    `recorded_at`: rows that no longer hold are closed then (deleted if they were recorded at
    that very instant, never visible), new ones open then. Returns the new open rows (in date
    order); `changes` collects the writes."""
    # Rows ending before `start` stand as they are: only the rest (and the row just before
    # it, which a merge may extend) can change. Rows are in date order; a back-dated event
    # usually touches the last few.
    first = len(current)
    while first > 0 and not _ends_before(current[first - 1], start):
        first -= 1
    first = max(0, first - 1)
    desired = _desired(current[first:], start, segments)
    keep = {(row.valid_from, row.valid_to, row.state): row for row in current[first:]}
    opened: list[VersionedRow] = []
    for begin, end, state in desired:
        row = keep.pop((begin, end, state), None)
        if row is None:
            row = VersionedRow(
                cluster_id=cluster_id, valid_from=begin, valid_to=end,
                recorded_from=recorded_at, recorded_to=None, state=state, version=version,
                position=position,
            )
            changes.inserted.append(row)
        opened.append(row)
    opened = [*current[:first], *opened]
    for row in keep.values():  # superseded
        if row.recorded_from == recorded_at:
            if row.stored:
                changes.deleted.append(row)
            else:
                row.dropped = True
        else:
            row.recorded_to = recorded_at
            if row.stored:
                changes.closed.append(row)
    return opened
