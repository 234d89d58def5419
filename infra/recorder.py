"""Application recorder that extends eventsourcing's PostgreSQL recorder, in the same transaction
that inserts the events, with:

- the audit hash chain (`ledger_chain`): eventsourcing holds an EXCLUSIVE lock on the events table
  while it inserts, so writers are serialised and the chain cannot fork;
- idempotency keys (`idempotency_keys`): a retried command that raced past the API's check fails
  here on the primary key, and no event of it is committed.

Work that can fail in Python (hashing stored events) is done in the `_insert_events` hook, before
the insert: errors raised there roll the transaction back. After the insert only SQL runs, whose
failures abort the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from infra.chain import GENESIS, entry_hash, event_digest

IDEMPOTENCY_KWARG = "idempotency"
_DIGESTS_KWARG = "_event_digests"


class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What a first successful request stores, to answer its retries identically."""

    key: str
    user_id: str
    fingerprint: str  # sha256 of method, path and body
    status_code: int
    response: dict[str, Any]


class LedgerRecorder(PostgresApplicationRecorder):
    def _insert_events(
        self,
        curs: Cursor[DictRow],  # noqa: ARG002 - the hook's signature; no SQL runs here
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(_DIGESTS_KWARG, [])
        kwargs[_DIGESTS_KWARG][:] = [
            event_digest(e.originator_id, e.originator_version, e.topic, e.state)  # type: ignore[arg-type]
            for e in stored_events
        ]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # A shared list lets the pre-insert hook hand its digests to the post-insert step.
        kwargs[_DIGESTS_KWARG] = []
        ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        return ids

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if not ids:
            return ids
        digests: list[bytes] = kwargs[_DIGESTS_KWARG]
        curs.execute(
            "SELECT hash FROM ledger_chain ORDER BY notification_id DESC LIMIT 1", prepare=True
        )
        row = curs.fetchone()
        previous = bytes(row["hash"]) if row else GENESIS
        links = []
        for position, digest in zip(ids, digests, strict=True):
            previous = entry_hash(previous, position, digest)
            links.append((position, previous))
        curs.executemany("INSERT INTO ledger_chain (notification_id, hash) VALUES (%s, %s)", links)
        record: IdempotencyRecord | None = kwargs.get(IDEMPOTENCY_KWARG)
        if record is not None:
            curs.execute(
                "INSERT INTO idempotency_keys "
                "(user_id, key, fingerprint, status_code, response, notification_id) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    record.user_id,
                    record.key,
                    record.fingerprint,
                    record.status_code,
                    Jsonb(record.response),
                    ids[-1],
                ),
            )
        return ids
