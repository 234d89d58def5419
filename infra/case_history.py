"""Load one case's history for a reconstruction at a date, starting from a snapshot when it can.

A case with a long history (a thousand events) would otherwise be decoded and folded in full
for every look-up. Here every event is read, but only its head (type, version, position,
effective date, recording time) is decoded, which is what the answer lists; the state is then
rebuilt from the latest snapshot whose events all pass the filters (`domain.history`'s
`replayable_prefix`), and only the events after it are decoded in full and folded.

The snapshots are the ones the ledger takes every `snapshot_interval` events to load cases for
commands. A reconstruction from a snapshot gives the same answer as a full fold (a test checks
this for every date in a long case's history); `full=True` skips the snapshot, for a reviewer
who wants to see the fold from the first event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.persistence import Mapper, StoredEvent

from domain.cluster import Cluster
from domain.errors import NotFound
from domain.history import CaseAtDate, EventRef, Prefix, case_at_refs, replayable_prefix
from infra.audit.export import EVENTS_TABLE

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


def event_type(topic: str) -> str:
    """`domain.cluster:Cluster.Scored` -> `Scored`."""
    return topic.rsplit(".", 1)[-1]


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


async def fetch_events(conn: asyncpg.Connection, cluster_id: UUID) -> list[StoredRow]:
    rows = await conn.fetch(
        f"SELECT notification_id, originator_version, topic, state FROM {EVENTS_TABLE}"  # noqa: S608
        " WHERE originator_id = $1 AND topic LIKE $2 ORDER BY originator_version",
        cluster_id,
        CLUSTER_TOPICS,
    )
    return [StoredRow(r[0], r[1], r[2], bytes(r[3])) for r in rows]


async def fetch_snapshot(
    conn: asyncpg.Connection, cluster_id: UUID, at_most: int
) -> StoredRow | None:
    row = await conn.fetchrow(
        f"SELECT originator_version, topic, state FROM {SNAPSHOTS_TABLE}"  # noqa: S608
        " WHERE originator_id = $1 AND originator_version <= $2"
        " ORDER BY originator_version DESC LIMIT 1",
        cluster_id,
        at_most,
    )
    return None if row is None else StoredRow(0, row[0], row[1], bytes(row[2]))


def stored_event(cluster_id: UUID, row: StoredRow) -> StoredEvent:
    return StoredEvent(
        originator_id=cluster_id, originator_version=row.version, topic=row.topic, state=row.state
    )


def _plan(
    rows: Sequence[StoredRow], as_of: date | None, known_at: datetime | None
) -> tuple[list[EventRef], int]:
    refs = refs_of(rows)
    return refs, replayable_prefix(refs, as_of, known_at)


def _fold(
    mapper: Mapper[Any],
    cluster_id: UUID,
    rows: Sequence[StoredRow],
    refs: Sequence[EventRef],
    snapshot: StoredRow | None,
    authorise: Callable[[str], None],
    *,
    today: date,
    as_of: date | None,
    known_at: datetime | None,
) -> CaseAtDate:
    first = mapper.to_domain_event(stored_event(cluster_id, rows[0]))
    if not isinstance(first, Cluster.Applied):
        raise NotFound("cluster_not_found", f"no cluster case {cluster_id}")
    authorise(first.dossier.county_code)
    prefix = None
    start = 0
    if snapshot is not None:
        saved = mapper.to_domain_event(stored_event(cluster_id, snapshot))
        if not isinstance(saved, Cluster.Snapshot):
            raise TypeError(f"not a Cluster snapshot: {snapshot.topic}")
        aggregate = saved.mutate(None)
        start = snapshot.version
        prefix = Prefix(aggregate=aggregate, refs=tuple(refs[:start]))
    by_version = {row.version: row for row in rows[start:]}

    def load(ref: EventRef) -> Any:
        if ref.version == 1:
            return first
        return mapper.to_domain_event(stored_event(cluster_id, by_version[ref.version]))

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
) -> CaseAtDate:
    """The case on `as_of` as known at `known_at`. `authorise(county_code)` raises if the
    caller may not read the case. CPU work runs through `call` (a worker thread)."""
    async with pool.acquire() as conn:
        rows = await fetch_events(conn, cluster_id)
        if not rows:
            raise NotFound("cluster_not_found", f"no cluster case {cluster_id}")
        refs, prefix_length = await call(_plan, rows, as_of, known_at)
        snapshot = None
        if not full and prefix_length > 1:
            snapshot = await fetch_snapshot(conn, cluster_id, prefix_length)
    result: CaseAtDate = await call(
        lambda: _fold(
            mapper, cluster_id, rows, refs, snapshot, authorise,
            today=today, as_of=as_of, known_at=known_at,
        )
    )
    return result
