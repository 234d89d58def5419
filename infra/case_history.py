"""Load one case's history for a reconstruction at a date, starting from a snapshot when it can.

A case with a long history (a thousand events) would otherwise be decoded and folded in full
for every look-up. Every event's head (type, version, position, effective date, recording time)
is needed: the answer lists them and the filters test them. The state is then rebuilt from the
latest snapshot whose events all pass the filters (`domain.history`'s `replayable_prefix`), and
only the events after it that the filters keep are read in full, decoded and folded.

Heads never change once written, so the API process keeps them (`infra.event_heads`): a look-up
of a cached case reads only the events recorded after the last cached version (other processes
append too), then, in one statement, the snapshot and the stored state of exactly the events it
folds. Without a cache, or on a miss, it reads every event in full, as it must to decode their
heads, and takes the states to fold from those rows.

The snapshots are the ones the ledger takes every `snapshot_interval` events to load cases for
commands. A reconstruction from a snapshot gives the same answer as a full fold (a test checks
this for every date in a long case's history); `full=True` skips the snapshot, for a reviewer
who wants to see the fold from the first event.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.persistence import Mapper, StoredEvent

from domain.cluster import Cluster
from domain.errors import NotFound
from domain.history import (
    CaseAtDate,
    EventRef,
    Prefix,
    case_at_refs,
    replayable_prefix,
    versions_to_load,
)
from infra.audit.export import EVENTS_TABLE
from infra.event_heads import CaseHeads, HeadCache

SNAPSHOTS_TABLE = "clusterledger_snapshots"
CLUSTER_TOPICS = "domain.cluster:Cluster.%"

Call = Callable[..., Awaitable[Any]]  # runs a synchronous function in a worker thread


class _MetaHead(msgspec.Struct):
    effective_date: date


class _Head(msgspec.Struct):
    timestamp: datetime
    meta: _MetaHead


_HEAD = msgspec.json.Decoder(_Head)


class StoredRow(msgspec.Struct, frozen=True):
    position: int
    version: int
    topic: str
    state: bytes


class FoldRead(msgspec.Struct, frozen=True, kw_only=True):
    """What to read besides the heads: the latest snapshot at or below `snapshot_at_most`
    (0: none), and the stored events above that snapshot up to `upto`, plus `extra` (the
    versions above the replayable prefix that the filters keep)."""

    snapshot_at_most: int
    upto: int
    extra: list[int]

    @property
    def needed(self) -> bool:
        return self.snapshot_at_most > 0 or self.upto > 0 or bool(self.extra)


def event_type(topic: str) -> str:
    """`domain.cluster:Cluster.Scored` -> `Scored` (interned: cached heads share one string per
    type)."""
    return sys.intern(topic.rsplit(".", 1)[-1])


def refs_of(rows: Sequence[StoredRow]) -> list[EventRef]:
    """Each stored event's reference, from its head only."""
    refs = []
    for row in rows:
        head = _HEAD.decode(row.state)
        refs.append(
            EventRef(
                version=row.version,
                position=row.position,
                type=event_type(row.topic),
                effective_date=head.meta.effective_date,
                recorded_at=head.timestamp,
            )
        )
    return refs


async def fetch_events(
    conn: asyncpg.Connection, cluster_id: UUID, after: int = 0
) -> list[StoredRow]:
    """The case's stored events above version `after`, in version order."""
    rows = await conn.fetch(
        f"SELECT notification_id, originator_version, topic, state FROM {EVENTS_TABLE}"  # noqa: S608
        " WHERE originator_id = $1 AND originator_version > $2 AND topic LIKE $3"
        " ORDER BY originator_version",
        cluster_id,
        after,
        CLUSTER_TOPICS,
    )
    return [StoredRow(r[0], r[1], r[2], bytes(r[3])) for r in rows]


# The snapshot and the events to fold in one round trip: which events depends on the snapshot
# found (those above it), so both come from one statement. `$3` bounds the index range read.
_FOLD_ROWS = (
    f"WITH snapshot AS (SELECT originator_version, topic, state FROM {SNAPSHOTS_TABLE}"  # noqa: S608
    " WHERE originator_id = $1 AND originator_version <= $2"
    " ORDER BY originator_version DESC LIMIT 1)"
    " SELECT true, originator_version, topic, state FROM snapshot"
    " UNION ALL"
    f" SELECT false, originator_version, topic, state FROM {EVENTS_TABLE}"
    " WHERE originator_id = $1"
    " AND originator_version > COALESCE((SELECT originator_version FROM snapshot), 0)"
    " AND originator_version <= $3"
    " AND (originator_version <= $4 OR originator_version = ANY($5::bigint[]))"
)


async def fetch_fold_rows(
    conn: asyncpg.Connection, cluster_id: UUID, read: FoldRead
) -> tuple[StoredRow | None, list[StoredRow]]:
    """The snapshot `read` asks for (None if there is none) and the stored events above it
    that `read` selects (in no particular order)."""
    rows = await conn.fetch(
        _FOLD_ROWS, cluster_id, read.snapshot_at_most,
        max(read.upto, max(read.extra, default=0)), read.upto, read.extra,
    )
    snapshot = None
    events = []
    for is_snapshot, version, topic, state in rows:
        if is_snapshot:
            snapshot = StoredRow(0, version, topic, bytes(state))
        else:
            events.append(StoredRow(0, version, topic, bytes(state)))
    return snapshot, events


def stored_event(cluster_id: UUID, row: StoredRow) -> StoredEvent:
    return StoredEvent(
        originator_id=cluster_id, originator_version=row.version, topic=row.topic, state=row.state
    )


def case_heads(
    mapper: Mapper[Any], cluster_id: UUID, known: CaseHeads | None, rows: Sequence[StoredRow]
) -> CaseHeads:
    """`known` extended by the heads of `rows` (the events after it, in version order). Without
    `known`, `rows` start at the application, whose county is read from it."""
    if known is not None:
        return CaseHeads(county_code=known.county_code, refs=known.refs + tuple(refs_of(rows)))
    first = mapper.to_domain_event(stored_event(cluster_id, rows[0])) if rows else None
    if not isinstance(first, Cluster.Applied):
        raise NotFound("cluster_not_found", f"no cluster case {cluster_id}")
    return CaseHeads(county_code=first.dossier.county_code, refs=tuple(refs_of(rows)))


def fold_read(
    refs: Sequence[EventRef],
    as_of: date | None,
    known_at: datetime | None,
    *,
    full: bool,
    stored_up_to: int,
) -> FoldRead:
    """What to read to fold `refs` on the filters: the latest snapshot within the replayable
    prefix (none with `full`), and the events the fold loads, of those up to version
    `stored_up_to` (the ones above it are in hand already)."""
    prefix_length = replayable_prefix(refs, as_of, known_at)
    extra = versions_to_load(refs, prefix_length, as_of, known_at)
    return FoldRead(
        snapshot_at_most=prefix_length if not full and prefix_length > 1 else 0,
        upto=min(prefix_length, stored_up_to),
        extra=[version for version in extra if version <= stored_up_to],
    )


def _fold(
    mapper: Mapper[Any],
    cluster_id: UUID,
    refs: tuple[EventRef, ...],
    snapshot: StoredRow | None,
    stored: Mapping[int, StoredRow],
    *,
    today: date,
    as_of: date | None,
    known_at: datetime | None,
) -> CaseAtDate:
    prefix = None
    start = 0
    if snapshot is not None:
        saved = mapper.to_domain_event(stored_event(cluster_id, snapshot))
        if not isinstance(saved, Cluster.Snapshot):
            raise TypeError(f"not a Cluster snapshot: {snapshot.topic}")
        start = snapshot.version
        prefix = Prefix(aggregate=saved.mutate(None), refs=refs[:start])

    def load(ref: EventRef) -> Any:
        return mapper.to_domain_event(stored_event(cluster_id, stored[ref.version]))

    return case_at_refs(
        cluster_id, refs[start:], load,
        today=today, as_of=as_of, known_at=known_at, prefix=prefix,
    )


async def case_at_date(
    pool: asyncpg.Pool,
    call: Call,
    mapper: Mapper[Any],
    cluster_id: UUID,
    authorise: Callable[[str], None],
    *,
    today: date,
    as_of: date | None,
    known_at: datetime | None,
    full: bool = False,
    heads: HeadCache | None = None,
) -> CaseAtDate:
    """The case on `as_of` as known at `known_at`. `authorise(county_code)` raises if the
    caller may not read the case. CPU work runs through `call` (a worker thread). `heads`, if
    given, keeps the case's event heads for the next look-up."""
    known = heads.get(cluster_id) if heads is not None else None
    stored_up_to = known.last_version if known is not None else 0
    async with pool.acquire() as conn:
        recent = await fetch_events(conn, cluster_id, stored_up_to)
        if known is None or recent:
            case: CaseHeads = await call(case_heads, mapper, cluster_id, known, recent)
            if heads is not None:
                heads.put(cluster_id, case)
        else:
            case = known
        authorise(case.county_code)
        read = fold_read(case.refs, as_of, known_at, full=full, stored_up_to=stored_up_to)
        snapshot, rows = (
            await fetch_fold_rows(conn, cluster_id, read) if read.needed else (None, [])
        )
    stored = {row.version: row for row in recent}
    stored.update((row.version, row) for row in rows)
    refs = case.refs
    result: CaseAtDate = await call(
        lambda: _fold(
            mapper, cluster_id, refs, snapshot, stored,
            today=today, as_of=as_of, known_at=known_at,
        )
    )
    return result
