"""The state of one case at a date, on both time axes, and what changed between two dates.

Pure: the caller loads the case's events (decoded domain events, with their log positions) and
passes them in; nothing here reads a clock or a database.

Two time axes (DOMAIN.md: every event records when it was recorded and when it takes effect):

- valid time — `meta.effective_date`, the date on the decision document;
- transaction time — the event's `timestamp`, when the ledger recorded it (UTC).

`as_of=D` applies the events whose effective date is on or before D, as the record stands now.
`known_at=T` applies only the events recorded at or before T: the record as it stood at T.
Both together answer "what did the reviewers know at T about the case on D".

Order. The events that pass the filters are applied in recording order (originator version),
never re-sorted by effective date, because:

- each applier was written for, and validated against, the state its command saw, which is the
  state built by the earlier-recorded events; re-sorting would run appliers in an order no
  command ever saw (a payment applied before the approval it pays, for instance);
- a correction supersedes the earlier record by being recorded later, whatever its effective
  date: a score corrected in June with effect from March must win over the March score for any
  `as_of` after March, and it does, because it is applied after it;
- events sharing one effective date (most decisions of one day) keep a total, stable order.

So a late correction (e.g. `Scored` with `correction=True`, effective on the original date but
recorded weeks later) gives the corrected value for `as_of` dates after its effective date when
known now, and the original value with a `known_at` before it was recorded.

Filtering can leave an event whose predecessor was filtered out (a plan approval effective before
the plan it approves, because dates were entered out of order). Its applier then has nothing to
act on; it is reported as excluded ("inapplicable") instead of failing the whole reconstruction.
Appliers raise before they mutate anything in that situation (they look the funding year or the
objection up first), so the state stays consistent.

A reconstruction may start from a saved state (`Prefix`: the aggregate after the first `n`
events, e.g. from a snapshot) when all of those `n` events pass the filters
(`replayable_prefix`): filtering then removes none of them, so folding them again would give
exactly that state. The events before the prefix are still listed in `used`, from their
`EventRef`s alone.

Replay calls each event's own applier (`event.apply(aggregate)`, the `@event` method body),
bypassing eventsourcing's `mutate`, whose version-sequence check would refuse a filtered subset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec

from domain.case import CaseState
from domain.cluster import Cluster


class Exclusion(StrEnum):
    RECORDED_LATER = "recorded_after_known_at"
    EFFECTIVE_LATER = "effective_after_as_of"
    CASE_NOT_OPEN = "case_not_open"  # the application itself is excluded
    INAPPLICABLE = "inapplicable"  # an event it depends on is excluded


class LoggedEvent(msgspec.Struct, frozen=True):
    """A decoded domain event of one cluster and where it lies in the log (None if unknown)."""

    event: Any
    position: int | None = None


class EventRef(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One event's head. Not tracked by the garbage collector (`gc=False`): its fields are
    atoms that cannot form a cycle, and a process that keeps many heads (the API's head cache)
    would otherwise have every full collection walk them."""

    version: int
    position: int | None
    type: str
    effective_date: date
    recorded_at: datetime


class ExcludedEvent(EventRef, frozen=True, kw_only=True, gc=False):
    reason: Exclusion


class CaseAtDate(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID
    as_of: date | None
    known_at: datetime | None
    exists: bool  # False: the application was not yet effective / not yet recorded
    status: str | None  # as a reader sees it on `status_on` ("expired" past validity)
    status_on: date
    version: int | None  # the last version applied
    case: CaseState | None
    used: tuple[EventRef, ...]
    excluded: tuple[ExcludedEvent, ...]


class Change(msgspec.Struct, frozen=True):
    path: str  # e.g. "status", "funding.1.paid_fen", "objections[0].resolution"
    old: Any
    new: Any


class CaseDiff(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID
    from_date: date = msgspec.field(name="from")
    to_date: date = msgspec.field(name="to")
    known_at: datetime | None
    status_from: str | None
    status_to: str | None
    changes: tuple[Change, ...]
    events: tuple[EventRef, ...]  # applied at `to` but not at `from`
    withdrawn: tuple[EventRef, ...]  # applied at `from` but not at `to` (rare: inapplicable)


class Prefix(msgspec.Struct, frozen=True, kw_only=True):
    """The aggregate after the case's first `len(refs)` events (e.g. a snapshot), and those
    events' references, in version order."""

    aggregate: Any  # a Cluster at version len(refs), folded further in place by `case_at`
    refs: tuple[EventRef, ...]


def passes(ref: EventRef, as_of: date | None, known_at: datetime | None) -> bool:
    """Whether the filters keep an event (recorded by `known_at`, effective by `as_of`)."""
    return (known_at is None or ref.recorded_at <= known_at) and (
        as_of is None or ref.effective_date <= as_of
    )


def replayable_prefix(
    refs: Iterable[EventRef], as_of: date | None, known_at: datetime | None
) -> int:
    """How many of the case's first events, in version order, all pass the filters: a saved
    state at any version up to this one can start the reconstruction."""
    count = 0
    for ref in refs:
        if not passes(ref, as_of, known_at):
            break
        count += 1
    return count


def versions_to_load(
    refs: Sequence[EventRef], start: int, as_of: date | None, known_at: datetime | None
) -> list[int]:
    """The versions among `refs[start:]` that the filters keep: with a reconstruction that
    starts from the case's first `start` events (a saved state), the events `case_at_refs`
    will ask `load` for. Lets a caller read the stored state of those events and no others."""
    return [ref.version for ref in refs[start:] if passes(ref, as_of, known_at)]


def _ref(logged: LoggedEvent) -> EventRef:
    event = logged.event
    return EventRef(
        version=event.originator_version,
        position=logged.position,
        type=type(event).__name__,
        effective_date=event.meta.effective_date,
        recorded_at=event.timestamp,
    )


def _excluded(ref: EventRef, reason: Exclusion) -> ExcludedEvent:
    return ExcludedEvent(
        version=ref.version, position=ref.position, type=ref.type,
        effective_date=ref.effective_date, recorded_at=ref.recorded_at, reason=reason,
    )


def _checked_start(
    prefix: Prefix | None,
    refs: Sequence[EventRef],
    as_of: date | None,
    known_at: datetime | None,
) -> Cluster | None:
    if prefix is None or not prefix.refs:
        return None
    if replayable_prefix(prefix.refs, as_of, known_at) != len(prefix.refs):
        raise ValueError("a prefix event does not pass the filters")
    if refs and refs[0].version != len(prefix.refs) + 1:
        raise ValueError("the events do not continue the prefix")
    start: Cluster = prefix.aggregate
    return start


def case_at(
    cluster_id: UUID,
    events: Iterable[LoggedEvent],
    *,
    today: date,
    as_of: date | None = None,
    known_at: datetime | None = None,
    prefix: Prefix | None = None,
) -> CaseAtDate:
    """Fold the cluster's events into its `CaseState` as of `as_of` and/or as known at `known_at`.

    `today` only decides the date a status is read on when neither axis gives one (a
    certification past its validity reads "expired"): `as_of`, else the date of `known_at`
    (UTC), else `today`.

    With a `prefix`, `events` are the events after it; every event of the prefix must pass the
    filters (see `replayable_prefix`), else ValueError. The prefix's aggregate is folded
    further in place: give each call its own.
    """
    ordered = sorted(events, key=lambda logged: int(logged.event.originator_version))
    by_version = {int(logged.event.originator_version): logged.event for logged in ordered}
    return case_at_refs(
        cluster_id,
        [_ref(logged) for logged in ordered],
        lambda ref: by_version[ref.version],
        today=today,
        as_of=as_of,
        known_at=known_at,
        prefix=prefix,
    )


def case_at_refs(
    cluster_id: UUID,
    refs: Sequence[EventRef],
    load: Callable[[EventRef], Any],
    *,
    today: date,
    as_of: date | None = None,
    known_at: datetime | None = None,
    prefix: Prefix | None = None,
) -> CaseAtDate:
    """`case_at` over the events' references in version order; `load(ref)` gives the decoded
    event and is called only for the events the filters keep, so a caller holding only the
    stored bytes decodes no more than it folds."""
    if known_at is not None and known_at.tzinfo is None:
        raise ValueError("known_at must be timezone-aware")
    aggregate: Cluster | None = _checked_start(prefix, refs, as_of, known_at)
    used: list[EventRef] = list(prefix.refs) if prefix is not None else []
    excluded: list[ExcludedEvent] = []
    for ref in refs:
        if known_at is not None and ref.recorded_at > known_at:
            excluded.append(_excluded(ref, Exclusion.RECORDED_LATER))
            continue
        if as_of is not None and ref.effective_date > as_of:
            excluded.append(_excluded(ref, Exclusion.EFFECTIVE_LATER))
            continue
        event = load(ref)
        if aggregate is None:
            if not isinstance(event, Cluster.Applied):
                excluded.append(_excluded(ref, Exclusion.CASE_NOT_OPEN))
                continue
            aggregate = event.mutate(None)
        else:
            try:
                event.apply(aggregate)
            except (KeyError, AttributeError, TypeError, ValueError, IndexError):
                excluded.append(_excluded(ref, Exclusion.INAPPLICABLE))
                continue
        used.append(ref)
    if as_of is not None:
        status_on = as_of
    elif known_at is not None:
        status_on = known_at.astimezone(UTC).date()
    else:
        status_on = today
    case = aggregate.case if aggregate is not None else None
    return CaseAtDate(
        cluster_id=cluster_id,
        as_of=as_of,
        known_at=known_at,
        exists=case is not None,
        status=case.status_on(status_on) if case is not None else None,
        status_on=status_on,
        version=used[-1].version if used else None,
        case=case,
        used=tuple(used),
        excluded=tuple(excluded),
    )


def diff(old: CaseState | None, new: CaseState | None) -> tuple[Change, ...]:
    """Field paths whose value differs between two states, old -> new (None: absent)."""
    changes: list[Change] = []
    _walk("", _plain(old), _plain(new), changes)
    return tuple(changes)


def diff_between(before: CaseAtDate, after: CaseAtDate) -> CaseDiff:
    """What changed from one reconstruction to another (both dates on the same `known_at`)."""
    if before.as_of is None or after.as_of is None:
        raise ValueError("a diff compares two as_of dates")
    before_versions = {ref.version for ref in before.used}
    after_versions = {ref.version for ref in after.used}
    return CaseDiff(
        cluster_id=after.cluster_id,
        from_date=before.as_of,
        to_date=after.as_of,
        known_at=after.known_at,
        status_from=before.status,
        status_to=after.status,
        changes=diff(before.case, after.case),
        events=tuple(ref for ref in after.used if ref.version not in before_versions),
        withdrawn=tuple(ref for ref in before.used if ref.version not in after_versions),
    )


_ABSENT = object()


def _plain(state: CaseState | None) -> Any:
    return msgspec.to_builtins(state) if state is not None else {}


def _walk(path: str, old: Any, new: Any, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [key for key in new if key not in old]
        for key in keys:
            child = f"{path}.{key}" if path else str(key)
            _walk(child, old.get(key, _ABSENT), new.get(key, _ABSENT), out)
    elif isinstance(old, list | tuple) and isinstance(new, list | tuple):
        for index in range(max(len(old), len(new))):
            _walk(
                f"{path}[{index}]",
                old[index] if index < len(old) else _ABSENT,
                new[index] if index < len(new) else _ABSENT,
                out,
            )
    elif old != new:
        out.append(
            Change(path, None if old is _ABSENT else old, None if new is _ABSENT else new)
        )
