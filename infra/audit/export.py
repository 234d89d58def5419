"""Stream the event log out as NDJSON (`infra.audit.format`), in constant memory.

Rows are read in windows of positions (keyset ranges over the notification id, which is indexed
in both the events table and `ledger_chain`), each window a FULL JOIN of events and chain
entries, so that an event without a chain entry and a chain entry without its event both show.
Nothing of the log is held beyond one window; lines are written as they are made.

The same line-making code serves the CLI (`write_export`, psycopg) and the HTTP stream
(`stream_export`, asyncpg).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Any
from uuid import UUID

import msgspec
from psycopg import Cursor
from psycopg.rows import tuple_row

from infra.audit.format import (
    FORMAT,
    Anchor,
    CheckpointLine,
    EndLine,
    Header,
    MissingLine,
    encode_line,
)
from infra.chain import GENESIS
from infra.prefetch import prefetched
from infra.progress import Progress

EVENTS_TABLE = "clusterledger_events"  # eventsourcing's table of the ClusterLedger application
WINDOW = 5000  # positions per query


class ExportRange(msgspec.Struct, frozen=True, kw_only=True):
    after: int
    to: int
    anchor: Anchor


class ExportStats(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    checkpoints: int
    last_position: int | None
    last_hash: str | None


# ---- SQL (psycopg uses %s, asyncpg $n: the templates take both) ------------------------------

_WINDOW_SQL = (
    "SELECT coalesce(e.notification_id, c.notification_id) AS position,"
    " e.originator_id::text, e.originator_version, e.topic, e.state, c.hash"
    " FROM (SELECT notification_id, originator_id, originator_version, topic, state"
    "       FROM clusterledger_events WHERE notification_id > {0} AND notification_id <= {1}) e"
    " FULL JOIN (SELECT notification_id, hash FROM ledger_chain"
    "            WHERE notification_id > {0} AND notification_id <= {1}) c"
    " ON c.notification_id = e.notification_id ORDER BY 1"
)
_CHECKPOINTS_SQL = (
    "SELECT position, hash, created_at, signature, key_fingerprint FROM audit_checkpoints"
    " WHERE position > {0} AND position <= {1} ORDER BY position"
)
_NEXT_SQL = (
    "SELECT least((SELECT min(notification_id) FROM clusterledger_events"
    " WHERE notification_id > {0}),"
    " (SELECT min(notification_id) FROM ledger_chain WHERE notification_id > {0}),"
    " (SELECT min(position) FROM audit_checkpoints WHERE position > {0})) AS next"
)
_HEAD_SQL = (
    "SELECT greatest((SELECT max(notification_id) FROM clusterledger_events),"
    " (SELECT max(notification_id) FROM ledger_chain)) AS head"
)
_LIMIT_SQL = (
    "SELECT max(notification_id) AS last FROM (SELECT notification_id FROM clusterledger_events"
    " WHERE notification_id > {0} ORDER BY notification_id LIMIT {1}) AS page"
)
_ANCHOR_SQL = (
    "SELECT notification_id, hash FROM ledger_chain WHERE notification_id <= {0}"
    " ORDER BY notification_id DESC LIMIT 1"
)


def _pg(sql: str) -> str:
    return sql.replace("{0}", "%(a)s").replace("{1}", "%(b)s")


def _apg(sql: str) -> str:
    return sql.replace("{0}", "$1").replace("{1}", "$2")


# ---- line making (pure) ------------------------------------------------------------------------


def _null() -> msgspec.Raw:
    return msgspec.Raw(b"null")


class _Meta(msgspec.Struct):
    effective_date: msgspec.Raw = msgspec.field(default_factory=_null)
    actor: msgspec.Raw = msgspec.field(default_factory=_null)
    document_number: msgspec.Raw = msgspec.field(default_factory=_null)


class _Envelope(msgspec.Struct):
    """The parts of a stored state the line repeats; the rest is skipped (and validated)."""

    timestamp: msgspec.Raw = msgspec.field(default_factory=_null)
    meta: _Meta | None = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_NULL = _null()


_encode = msgspec.json.encode


@lru_cache(maxsize=4096)
def _topic_fields(topic: str) -> bytes:
    event_type = topic.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
    return b',"type":' + _encode(event_type) + b',"topic":' + _encode(topic)


def event_line(
    position: int, originator_id: UUID | str, version: int, topic: str, state: bytes,
    chain_hash: bytes | None,
) -> bytes:
    """One event line (`infra.audit.format.EventLine`), assembled from parts that are each
    valid JSON: the copied fields are the payload's own bytes, the payload is the stored state."""
    envelope: _Envelope | None = None
    # Embed verbatim only what round-trips byte for byte: one JSON object on one line.
    if state[:1] == b"{" and state[-1:] == b"}" and b"\n" not in state and b"\r" not in state:
        try:
            envelope = _ENVELOPE.decode(state)
        except (msgspec.DecodeError, msgspec.ValidationError):
            envelope = None
    parts: list[Any] = [
        b'{"kind":"event","position":%d,"cluster_id":"%s","version":%d'
        % (position, str(originator_id).encode("ascii"), version),
        _topic_fields(topic),
    ]
    meta = envelope.meta if envelope is not None else None
    if envelope is not None and meta is not None:
        parts += [
            b',"recorded_at":', envelope.timestamp, b',"effective_date":', meta.effective_date,
            b',"actor":', meta.actor, b',"document_number":', meta.document_number,
        ]
    elif envelope is not None:
        parts += [
            b',"recorded_at":', envelope.timestamp,
            b',"effective_date":null,"actor":null,"document_number":null',
        ]
    else:
        parts.append(
            b',"recorded_at":null,"effective_date":null,"actor":null,"document_number":null'
        )
    parts.append(
        b',"hash":"%s"' % chain_hash.hex().encode("ascii") if chain_hash is not None
        else b',"hash":null'
    )
    if envelope is not None:
        parts += [b',"payload":', state, b"}\n"]
    else:
        parts += [b',"payload_b64":"', base64.b64encode(state), b'"}\n']
    return b"".join(parts)


def checkpoint_line(row: Sequence[Any]) -> bytes:
    """A checkpoint row: (position, hash, created_at, signature, key_fingerprint)."""
    position, chain_hash, created_at, signature, fingerprint = row
    return encode_line(
        CheckpointLine(
            position=position,
            hash=bytes(chain_hash).hex(),
            created_at=created_at,
            signature=base64.b64encode(bytes(signature)).decode("ascii"),
            key_fingerprint=fingerprint,
        )
    )


class _LineMaker:
    """Turns windows of rows into lines, keeping the count and the last chain entry.

    Rows are positional (psycopg tuples or asyncpg records): the window query's columns are
    (position, originator_id, originator_version, topic, state, hash)."""

    def __init__(self) -> None:
        self.events = 0
        self.checkpoints = 0
        self.last_position: int | None = None
        self.last_hash: bytes | None = None

    def window(self, rows: Sequence[Sequence[Any]], checkpoints: Sequence[Sequence[Any]]) -> bytes:
        lines: list[bytes] = []
        pending = iter(checkpoints)
        checkpoint = next(pending, None)
        events = 0
        chain_hash: bytes | None = None
        for position, originator_id, version, topic, state, stored_hash in rows:
            while checkpoint is not None and checkpoint[0] < position:
                lines.append(checkpoint_line(checkpoint))
                self.checkpoints += 1
                checkpoint = next(pending, None)
            chain_hash = bytes(stored_hash) if stored_hash is not None else None
            if topic is None:
                assert chain_hash is not None  # FULL JOIN: one side is present  # noqa: S101
                lines.append(encode_line(MissingLine(position=position, hash=chain_hash.hex())))
            else:
                lines.append(
                    event_line(
                        position, _uuid_text(originator_id), version, topic, bytes(state),
                        chain_hash,
                    )
                )
                events += 1
            if chain_hash is not None:
                self.last_hash = chain_hash
            while checkpoint is not None and checkpoint[0] == position:
                lines.append(checkpoint_line(checkpoint))
                self.checkpoints += 1
                checkpoint = next(pending, None)
        if rows:
            self.last_position = rows[-1][0]
        self.events += events
        for rest in (checkpoint, *pending):
            if rest is not None:
                lines.append(checkpoint_line(rest))
                self.checkpoints += 1
        return b"".join(lines)

    def end(self) -> bytes:
        return encode_line(
            EndLine(
                events=self.events,
                last_position=self.last_position,
                last_hash=self.last_hash.hex() if self.last_hash is not None else None,
            )
        )

    def stats(self) -> ExportStats:
        return ExportStats(
            events=self.events, checkpoints=self.checkpoints, last_position=self.last_position,
            last_hash=self.last_hash.hex() if self.last_hash is not None else None,
        )


def _uuid_text(value: Any) -> str:
    """The id as the window query gives it (text), in UUID's canonical form."""
    return value if type(value) is str else str(UUID(str(value)))


def header_line(
    export_range: ExportRange, public_pem: str | None, fingerprint: str | None,
    exported_at: datetime | None = None,
) -> bytes:
    return encode_line(
        Header(
            format=FORMAT,
            exported_at=exported_at or datetime.now(UTC),
            after=export_range.after,
            to=export_range.to,
            anchor=export_range.anchor,
            public_key=public_pem,
            public_key_fingerprint=fingerprint,
        )
    )


# ---- psycopg (CLI) -----------------------------------------------------------------------------


def plan_range(
    cur: Cursor[Any], after: int = 0, to: int | None = None, limit: int | None = None
) -> ExportRange:
    """Fix the range before the first line: events appended during the export are left out."""
    after = max(after, 0)
    head = cur.execute(_pg(_HEAD_SQL)).fetchone()
    last = _first(head) or 0
    if limit is not None:
        page = cur.execute(_pg(_LIMIT_SQL), {"a": after, "b": limit}).fetchone()
        last = min(last, _first(page) or after)
    if to is not None:
        last = min(last, to)
    anchor_row = cur.execute(_pg(_ANCHOR_SQL), {"a": after}).fetchone() if after else None
    return ExportRange(after=after, to=max(last, after), anchor=_anchor(anchor_row))


def _first(row: Any) -> Any:
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, Mapping) else row[0]


def _anchor(row: Any) -> Anchor:
    if row is None:
        return Anchor(position=0, hash=GENESIS.hex())
    values = list(row.values()) if isinstance(row, Mapping) else list(row)
    return Anchor(position=int(values[0]), hash=bytes(values[1]).hex())


def _windows(
    cur: Cursor[Any], export_range: ExportRange
) -> Iterator[tuple[int, list[Any], list[Any]]]:
    """(end of the window, its rows, its checkpoints), window after window."""
    window_sql, checkpoints_sql, next_sql = _pg(_WINDOW_SQL), _pg(_CHECKPOINTS_SQL), _pg(_NEXT_SQL)
    # Same connection and transaction; tuples, and bytea in binary (no hex text to parse).
    rows_cur = cur.connection.cursor(row_factory=tuple_row, binary=True)
    lo = export_range.after
    while lo < export_range.to:
        hi = min(lo + WINDOW, export_range.to)
        rows = rows_cur.execute(window_sql, {"a": lo, "b": hi}).fetchall()
        checkpoints = rows_cur.execute(checkpoints_sql, {"a": lo, "b": hi}).fetchall()
        if rows or checkpoints:
            lo = hi
        else:  # a long run of unused positions: jump to the next used one
            following = _first(cur.execute(next_sql, {"a": hi}).fetchone())
            if following is None or following > export_range.to:
                return
            lo = following - 1
        yield lo, rows, checkpoints


def export_lines(
    cur: Cursor[Any], export_range: ExportRange, public_pem: str | None = None,
    fingerprint: str | None = None, progress: Progress | None = None,
    maker: _LineMaker | None = None,
) -> Iterator[bytes]:
    """The lines of an export over a cursor with dict rows, header to end line, in chunks."""
    maker = maker or _LineMaker()
    yield header_line(export_range, public_pem, fingerprint)
    for lo, rows, checkpoints in prefetched(_windows(cur, export_range), name="export-reader"):
        yield maker.window(rows, checkpoints)
        if progress is not None:
            progress.update(lo - export_range.after)
    yield maker.end()


def write_export(
    cur: Cursor[Any], out: IO[bytes], *, after: int = 0, to: int | None = None,
    public_pem: str | None = None, fingerprint: str | None = None,
    progress: Progress | None = None,
) -> ExportStats:
    """Write an export of positions (after, to] to `out`; return what was written."""
    export_range = plan_range(cur, after, to)
    if progress is not None:
        progress.total = export_range.to - export_range.after
    maker = _LineMaker()
    for chunk in export_lines(cur, export_range, public_pem, fingerprint, progress, maker):
        out.write(chunk)
    return maker.stats()


# ---- asyncpg (HTTP) ----------------------------------------------------------------------------


async def plan_range_async(
    conn: Any, after: int = 0, to: int | None = None, limit: int | None = None
) -> ExportRange:
    after = max(after, 0)
    last = await conn.fetchval(_apg(_HEAD_SQL)) or 0
    if limit is not None:
        page_last = await conn.fetchval(_apg(_LIMIT_SQL), after, limit)
        last = min(last, page_last or after)
    if to is not None:
        last = min(last, to)
    anchor_row = await conn.fetchrow(_apg(_ANCHOR_SQL), after) if after else None
    return ExportRange(after=after, to=max(last, after), anchor=_anchor(anchor_row))


async def stream_export(
    pool: Any, export_range: ExportRange, public_pem: str | None = None,
    fingerprint: str | None = None,
) -> AsyncIterator[bytes]:
    """The same lines as `export_lines`, from an asyncpg pool; one connection per window, so a
    slow reader never holds a connection or a transaction open between chunks."""
    maker = _LineMaker()
    yield header_line(export_range, public_pem, fingerprint)
    window_sql, checkpoints_sql, next_sql = (
        _apg(_WINDOW_SQL), _apg(_CHECKPOINTS_SQL), _apg(_NEXT_SQL)
    )
    lo = export_range.after
    while lo < export_range.to:
        hi = min(lo + WINDOW, export_range.to)
        async with pool.acquire() as conn:
            rows = await conn.fetch(window_sql, lo, hi)
            checkpoints = await conn.fetch(checkpoints_sql, lo, hi)
            following = None if rows or checkpoints else await conn.fetchval(next_sql, hi)
        if rows or checkpoints:
            yield maker.window(rows, checkpoints)
            lo = hi
        elif following is None or following > export_range.to:
            break
        else:
            lo = following - 1
    yield maker.end()
