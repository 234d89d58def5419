"""Application recorder that appends events, their audit hash chain links (`ledger_chain`) and,
when given, the command's idempotency key (`idempotency_keys`) in one statement.

The statement calls `ledger_append` (migration 4), a PL/pgSQL function that takes the same
EXCLUSIVE lock on the events table as eventsourcing's own recorder, so that notification ids
commit in order and the chain cannot fork. eventsourcing's recorder holds that lock across
several round trips, each of which waits for its Python thread to get the interpreter back: on
a busy server the lock then serialises writers on Python's scheduling, not on the database.
Here the connection is in autocommit mode, so the call is its own transaction: one round trip,
the lock held only while PostgreSQL works.

Work that can fail in Python (hashing the stored events) is done before the call. A retried
command that raced past the API's idempotency check fails on the key's primary key, and a
concurrent command on the same case on the (originator_id, version) key; either way nothing of
the losing call is committed (eventsourcing's `IntegrityError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from infra.chain import event_digest

IDEMPOTENCY_KWARG = "idempotency"

# The states and digests go as binary parameters (`%b`): psycopg writes a bytea array in text
# format by escaping every byte in Python (17 ms for one 600 KB state, against 0.5 ms binary).
APPEND = (
    "SELECT ledger_append(%s::uuid[], %s::bigint[], %s::text[], %b::bytea[], %b::bytea[], "
    "%s::text, %s::text, %s::text, %s::integer, %s::jsonb) AS notification_id"
)


class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What a first successful request stores, to answer its retries identically."""

    key: str
    user_id: str
    fingerprint: str  # sha256 of method, path and body
    status_code: int
    response: dict[str, Any]


class LedgerRecorder(PostgresApplicationRecorder):
    # Retried, as eventsourcing retries its own insert, only when the connection failed; a
    # call whose commit did land is then refused by the version key, never written twice.
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        digests = [
            event_digest(e.originator_id, e.originator_version, e.topic, e.state)  # type: ignore[arg-type]
            for e in stored_events
        ]
        record: IdempotencyRecord | None = kwargs.get(IDEMPOTENCY_KWARG)
        idempotency = (
            (None,) * 5
            if record is None
            else (
                record.user_id,
                record.key,
                record.fingerprint,
                record.status_code,
                Jsonb(record.response),
            )
        )
        params = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
            digests,
            *idempotency,
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(APPEND, params, prepare=True)
            return [row["notification_id"] for row in curs.fetchall()]


class SnapshotRecorder(PostgresAggregateRecorder):
    """The snapshot table's recorder: eventsourcing's, except that snapshots are inserted with
    their state as a binary parameter. eventsourcing passes an array of a composite type, which
    psycopg writes in text format by escaping every byte in Python: a long case's snapshot
    (hundreds of KB) then held the interpreter for tens of milliseconds inside a command's
    request, stalling every other request of the process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._insert_snapshot = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %b)"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        curs.executemany(
            self._insert_snapshot,
            [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events],
        )
