"""What changed on the board between two dates, from the bitemporal view.

Each case's timeline as known at `known_at` (now by default) is read for the dates from `from`
to `to`. A change is a date d in (from, to] on which the board shows the case otherwise than
on d - 1: the case appears (applied), its status as read on the date changes (certified,
expired, revoked, reinstated, renewal failed, ...), its validity is extended (renewed), or
the subsidy paid grows (payment). The dates checked are those where a row of the timeline
starts and the day after each validity end, where the status read on a date may turn; the
status on a date is the domain's reading (`domain.status.status_on`), so the rule is
not written here again.
"""

# SQL text here is assembled from constant table and column names; every value is bound.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec

from domain.case import Status
from domain.status import EXPIRED, status_on
from projections.queries import decode_cursor, encode_cursor, recorded_sql
from projections.schema import BITEMPORAL


class ChangeKind(StrEnum):
    APPLIED = "applied"  # the case appears on the board
    CERTIFIED = "certified"  # certified, from a status before certification
    RENEWED = "renewed"  # validity extended, or certified again after expiry
    EXPIRED = "expired"  # validity ended without a pending renewal
    REVOKED = "revoked"
    REINSTATED = "reinstated"  # certified again after a revocation (appeal overturned)
    RENEWAL_FAILED = "renewal_failed"
    STATUS = "status"  # any other change of status (recommended, rejected, ...)
    PAYMENT = "payment"  # subsidy paid (amount_fen: how much more than the day before)


_KIND_ORDER = {kind: index for index, kind in enumerate(ChangeKind)}


class BoardChange(msgspec.Struct, kw_only=True):
    cluster_id: UUID
    name: str
    programme: str
    city_code: str
    county_code: str
    leading_industry: str
    on: date  # the first date the board shows the change
    kind: str  # a ChangeKind
    status_from: str | None  # as read on the day before (None: not on the board)
    status_to: str | None  # as read on `on`
    valid_until_from: date | None
    valid_until_to: date | None
    amount_fen: int  # payment: paid on `on` (net, every funding year); else 0
    paid_fen: int  # paid in total as of `on`


class BoardChanges(msgspec.Struct, kw_only=True):
    from_date: date = msgspec.field(name="from")
    to_date: date = msgspec.field(name="to")
    known_at: datetime | None  # None: as the record stands now
    items: list[BoardChange]
    next: str | None  # pass as `cursor` for the next page; None on the last page


class ChangeFilters(msgspec.Struct, frozen=True, kw_only=True):
    kind: str | None = None
    status: str | None = None  # the status as read on the date of the change
    programme: str | None = None
    industry: str | None = None  # part of the leading industry's name
    name: str | None = None  # part of the cluster's name


class _Row(msgspec.Struct, frozen=True):
    cluster_id: UUID
    valid_from: date
    valid_to: date  # schema.OPEN_DATE: open
    name: str
    programme: str
    city_code: str
    county_code: str
    leading_industry: str
    status: str
    valid_until: date | None
    lapses_on: date | None
    paid_fen: int

    def covers(self, day: date) -> bool:
        return self.valid_from <= day < self.valid_to

    def status_on(self, day: date) -> str:
        return status_on(self.status, self.lapses_on, day)


_COLUMNS = ", ".join(_Row.__struct_fields__)


def _kind_of_status(before: str | None, after: str) -> ChangeKind:
    if before is None:
        return ChangeKind.APPLIED
    if after == Status.CERTIFIED:
        if before == Status.REVOKED:
            return ChangeKind.REINSTATED
        if before in {EXPIRED, Status.RENEWAL_FAILED}:
            return ChangeKind.RENEWED
        return ChangeKind.CERTIFIED
    by_status = {
        EXPIRED: ChangeKind.EXPIRED,
        Status.REVOKED: ChangeKind.REVOKED,
        Status.RENEWAL_FAILED: ChangeKind.RENEWAL_FAILED,
    }
    return by_status.get(after, ChangeKind.STATUS)


def _at(rows: Sequence[_Row], day: date) -> _Row | None:
    return next((row for row in rows if row.covers(day)), None)


def case_changes(rows: Sequence[_Row], start: date, end: date) -> list[BoardChange]:
    """The changes of one case's timeline (its rows in date order) on dates in (start, end]."""
    days: set[date] = set()
    for row in rows:
        days.add(row.valid_from)
        if row.lapses_on is not None:
            days.add(row.lapses_on)
    changes: list[BoardChange] = []
    for day in sorted(d for d in days if start < d <= end):
        before, after = _at(rows, day - timedelta(days=1)), _at(rows, day)
        if after is None:
            continue
        yesterday = day - timedelta(days=1)
        status_from = before.status_on(yesterday) if before is not None else None
        status_to = after.status_on(day)
        kinds: list[ChangeKind] = []
        if status_from != status_to:
            kinds.append(_kind_of_status(status_from, status_to))
        elif (
            before is not None and status_to == Status.CERTIFIED
            and before.valid_until is not None and after.valid_until is not None
            and after.valid_until > before.valid_until
        ):
            kinds.append(ChangeKind.RENEWED)
        paid_before = before.paid_fen if before is not None else 0
        if after.paid_fen != paid_before:
            kinds.append(ChangeKind.PAYMENT)
        changes.extend(
            BoardChange(
                cluster_id=after.cluster_id, name=after.name, programme=after.programme,
                city_code=after.city_code, county_code=after.county_code,
                leading_industry=after.leading_industry, on=day, kind=str(kind),
                status_from=status_from, status_to=status_to,
                valid_until_from=before.valid_until if before is not None else None,
                valid_until_to=after.valid_until,
                amount_fen=after.paid_fen - paid_before if kind == ChangeKind.PAYMENT else 0,
                paid_fen=after.paid_fen,
            )
            for kind in kinds
        )
    return changes


def _keep(change: BoardChange, filters: ChangeFilters) -> bool:
    return (
        (filters.kind is None or change.kind == filters.kind)
        and (filters.status is None or change.status_to == filters.status)
        and (filters.industry is None or filters.industry in change.leading_industry)
        and (filters.name is None or filters.name in change.name)
    )


def _order(change: BoardChange) -> tuple[date, UUID, int]:
    return (change.on, change.cluster_id, _KIND_ORDER[ChangeKind(change.kind)])


async def list_changes(
    conn: Any, *, start: date, end: date, known_at: datetime | None,
    counties: Sequence[str], prefix: str | None, filters: ChangeFilters, limit: int,
    cursor: str | None,
) -> BoardChanges:
    """The board's changes on dates in (start, end] as known at `known_at` (None: now), in
    the given counties, ordered by date, cluster and kind; `limit` per page."""
    params: list[Any] = []

    def bind(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    clauses = recorded_sql(bind(known_at) if known_at is not None else None)
    clauses += [
        f"valid_from <= {bind(end)}",
        f"valid_to > {bind(start)}",
        f"county_code = ANY({bind(list(counties))}::text[])",
    ]
    if prefix:
        clauses.append(f"starts_with(county_code, {bind(prefix)})")
    if filters.programme is not None:
        clauses.append(f"programme = {bind(filters.programme)}")
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {BITEMPORAL.prefix} WHERE {' AND '.join(clauses)} "
        "ORDER BY cluster_id, valid_from",
        *params,
    )
    changes: list[BoardChange] = []
    case: list[_Row] = []
    for record in records:
        row = _Row(*record)
        if case and case[0].cluster_id != row.cluster_id:
            changes.extend(case_changes(case, start, end))
            case = []
        case.append(row)
    if case:
        changes.extend(case_changes(case, start, end))
    selected = sorted((c for c in changes if _keep(c, filters)), key=_order)
    if cursor is not None:
        on, cluster_id, kind = decode_cursor(cursor, [date.fromisoformat, UUID, ChangeKind])
        after = (on, cluster_id, _KIND_ORDER[kind])
        selected = [c for c in selected if _order(c) > after]
    page = selected[:limit]
    following = None
    if len(selected) > limit:
        last = page[-1]
        following = encode_cursor([last.on, last.cluster_id, last.kind])
    return BoardChanges(
        from_date=start, to_date=end, known_at=known_at, items=page, next=following
    )
