"""The bitemporal board view: every case's board row on both time axes, in PostgreSQL.

`proj_bitemporal` holds rows (`projections.board_timeline.VersionedRow`): the board state of a
case for effective dates [valid_from, valid_to) as recorded during [recorded_from,
recorded_to); an open end is stored as `schema.OPEN_DATE` / `OPEN_INSTANT` (9999-12-31). The
board on date D as known at T is the one row per case with valid_from <= D < valid_to and
recorded_from <= T < recorded_to (`projections.queries`, with the live board's filters,
sorting and keyset pages). `proj_bitemporal_cases` keeps, per case, the aggregate after its
last event (encoded as a ledger snapshot), the latest effective date, the last recording time
and every event's head: what the next event is folded onto.

Like the other views it is an eventsourcing tracking recorder: the rows of a batch of events
and the batch's position are written in ONE transaction under the view's advisory lock, and
events at or below the position are passed over, so each event counts exactly once and a
killed projector resumes where it stopped. A back-dated event reads the case's earlier
events from the log (the same database, inside the same transaction).

A rebuild folds the log case by case (`build_from_log`): each case's rows depend only on its
own events, so the rows are the ones event-by-event processing leaves.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import JSONTranscoder, Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from domain.cluster import Cluster
from domain.history import LoggedEvent
from infra.codec import MsgspecMapper, decode_event
from infra.prefetch import prefetched
from projections.board_timeline import (
    JSON_COLUMNS,
    BoardState,
    CaseLog,
    CaseTrack,
    DeadlineState,
    FundingState,
    RowChanges,
    VersionedRow,
    advance,
    supersede,
)
from projections.folds import IGNORED_EVENTS, Rules, UnhandledEvent, topic_of
from projections.schema import BITEMPORAL, OPEN_DATE, OPEN_INSTANT, OPEN_INSTANT_SQL
from projections.views import APPLICATION_NAME, LedgerView

EVENTS_TABLE = APPLICATION_NAME.lower() + "_events"
SNAPSHOTS_TABLE = APPLICATION_NAME.lower() + "_snapshots"
CLUSTER_TOPICS = "domain.cluster:Cluster.%"
SNAPSHOT_TOPIC = get_topic(Cluster.Snapshot)
_REBUILD_CASES = 500  # cases per transaction of a rebuild

STATE_COLUMNS: tuple[str, ...] = BoardState.__struct_fields__
ROW_COLUMNS: tuple[str, ...] = (
    "cluster_id", "valid_from", "valid_to", "recorded_from", "recorded_to", *STATE_COLUMNS,
    "version", "position",
)
CASE_COLUMNS = (
    "cluster_id", "version", "max_effective", "recorded_at", "position", "heads", "state",
    "amounts",
)
_JSON = msgspec.json.Encoder()


def _json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=lambda v: _JSON.encode(v).decode())


def _column_value(state: BoardState, column: str) -> Any:
    value = getattr(state, column)
    return _json(value) if column in JSON_COLUMNS else value


def _row_values(row: VersionedRow) -> list[Any]:
    state = row.state
    return [
        row.cluster_id, row.valid_from, OPEN_DATE if row.valid_to is None else row.valid_to,
        row.recorded_from, OPEN_INSTANT if row.recorded_to is None else row.recorded_to,
        *(_column_value(state, c) for c in STATE_COLUMNS), row.version, row.position,
    ]


def _track_values(mapper: MsgspecMapper, cluster_id: UUID, track: CaseTrack, position: int
                  ) -> list[Any]:
    return [
        cluster_id, track.version, track.max_effective, track.recorded_at, position,
        track.heads, encode_track(mapper, track), _json(track.amounts),
    ]


_STATE_TYPES: dict[str, Any] = {
    "funding": tuple[FundingState, ...], "deadlines": tuple[DeadlineState, ...],
}


def state_from_record(record: Mapping[str, Any]) -> BoardState:
    """A row's `BoardState` from its columns as psycopg reads them (jsonb as Python values)."""
    return BoardState(**{
        c: msgspec.convert(record[c], _STATE_TYPES[c]) if c in JSON_COLUMNS else record[c]
        for c in STATE_COLUMNS
    })


def encode_track(mapper: MsgspecMapper, track: CaseTrack) -> bytes:
    """The aggregate as the ledger snapshots it (`Cluster.Snapshot`, the codec's JSON)."""
    snapshot = Cluster.Snapshot.take(track.aggregate)
    return bytes(mapper.to_stored_event(snapshot).state)


def decode_track(cluster_id: UUID, record: Any) -> CaseTrack:
    snapshot = decode_event(cluster_id, record["version"], SNAPSHOT_TOPIC, bytes(record["state"]))
    return CaseTrack(
        aggregate=snapshot.mutate(None), max_effective=record["max_effective"],
        recorded_at=record["recorded_at"], version=record["version"],
        heads=bytes(record["heads"]), amounts=dict(record["amounts"]),
    )


class _StoredLog:
    """A case's earlier events and saved states, read from the ledger's tables inside the
    view's transaction (a back-dated event needs them)."""

    def __init__(self, view: BitemporalView, curs: Cursor[DictRow], cluster_id: UUID,
                 version: int) -> None:
        self.view, self.curs, self.cluster_id, self.version = view, curs, cluster_id, version

    def events_after(self, version: int) -> Sequence[LoggedEvent]:
        return self.view._read_earlier(self.curs, self.cluster_id, version, self.version)

    def aggregate_at_most(self, version: int) -> tuple[int, Any]:
        """The latest of the ledger's own snapshots at or below `version`: the aggregate as
        the commands left it (the ledger's loads start from the same)."""
        return self.view._read_snapshot(self.curs, self.cluster_id, version)


_CHECKPOINT_EVERY = 32  # a case's aggregate is kept in memory at every 32nd version
_RECENT_CASES = 1000  # cases the projector keeps in memory (track, recent events, states)
_RECENT_STATES = 2  # saved states kept per case in memory: the latest two


class _Recent:
    """A case as the projector last left it: its track, and its latest events (decoded) with
    a saved state every 32 versions, so that a back-dated event, which usually reaches back a
    few events, is folded without reading the log."""

    def __init__(self, track: CaseTrack, logged: LoggedEvent) -> None:
        self.track = track
        self.events: list[LoggedEvent] = [logged]
        self.first = track.version  # version of events[0]
        self.saved: dict[int, Any] = {}

    def add(self, track: CaseTrack, logged: LoggedEvent) -> None:
        self.track = track
        self.events.append(logged)
        if track.version % _CHECKPOINT_EVERY == 0:
            self.saved[track.version] = copy.deepcopy(track.aggregate)
            if len(self.saved) > _RECENT_STATES:
                del self.saved[min(self.saved)]
            # events up to the oldest saved state are in it
            oldest = min(self.saved)
            self.events = self.events[oldest - self.first + 1:]
            self.first = oldest + 1


class RecentCases:
    """The projector's memory of recently folded cases (LRU). An entry is used only for the
    event that follows it (version check), and the whole memory is dropped when a batch fails:
    its aggregates may have moved on with events that were not committed."""

    def __init__(self, size: int = _RECENT_CASES) -> None:
        self.size = size
        self.cases: OrderedDict[UUID, _Recent] = OrderedDict()

    def before(self, cluster_id: UUID, version: int) -> _Recent | None:
        """The case as left just before event `version`, if remembered."""
        recent = self.cases.get(cluster_id)
        if recent is None or recent.track.version != version - 1:
            return None
        self.cases.move_to_end(cluster_id)
        return recent

    def note(self, track: CaseTrack, logged: LoggedEvent) -> None:
        cluster_id: UUID = logged.event.originator_id
        recent = self.cases.get(cluster_id)
        if recent is not None and recent.track.version == track.version - 1:
            recent.add(track, logged)
            self.cases.move_to_end(cluster_id)
            return
        self.cases[cluster_id] = _Recent(track, logged)
        self.cases.move_to_end(cluster_id)
        while len(self.cases) > self.size:
            self.cases.popitem(last=False)

    def clear(self) -> None:
        self.cases.clear()


class _RecentLog:
    """A case's earlier events and saved states from the projector's memory where it holds
    them, else from the ledger's tables."""

    def __init__(self, recent: _Recent | None, stored: _StoredLog) -> None:
        self.recent, self.stored = recent, stored

    def events_after(self, version: int) -> Sequence[LoggedEvent]:
        recent = self.recent
        if recent is not None and recent.first <= version + 1:
            return [
                logged for logged in recent.events
                if version < logged.event.originator_version < self.stored.version
            ]
        return self.stored.events_after(version)

    def aggregate_at_most(self, version: int) -> tuple[int, Any]:
        recent = self.recent
        usable = [k for k in recent.saved if k <= version] if recent is not None else []
        if recent is not None and usable:
            saved = max(usable)
            return saved, copy.deepcopy(recent.saved[saved])
        return self.stored.aggregate_at_most(version)


class _MemoryLog:
    """A case whose events are all in hand (a rebuild): saved states every 32 versions."""

    def __init__(self, logged: list[LoggedEvent]) -> None:
        self.logged = logged
        self.saved: dict[int, Any] = {}
        self.version = 0

    def at(self, _cluster_id: UUID, version: int) -> _MemoryLog:
        """This log as seen by event `version` of its case."""
        self.version = version
        return self

    def keep(self, track: CaseTrack) -> None:
        if track.version % _CHECKPOINT_EVERY == 0:
            self.saved[track.version] = copy.deepcopy(track.aggregate)

    def events_after(self, version: int) -> Sequence[LoggedEvent]:
        return self.logged[version : self.version - 1]

    def aggregate_at_most(self, version: int) -> tuple[int, Any]:
        saved = version - version % _CHECKPOINT_EVERY
        if saved in self.saved:
            return saved, copy.deepcopy(self.saved[saved])
        return 0, None


class _Fold:
    """Folds events of several cases into their open rows, collecting the writes."""

    def __init__(
        self, rules: Rules, tracks: dict[UUID, CaseTrack | None],
        current: dict[UUID, list[VersionedRow]],
        log_of: Callable[[UUID, int], CaseLog],
        keep: Callable[[CaseTrack], None] | None = None,
        note: Callable[[CaseTrack, LoggedEvent], None] | None = None,
    ) -> None:
        self.rules = rules
        self.tracks = tracks
        self.current = current
        self.log_of = log_of
        self.keep = keep
        self.note = note
        self.changes = RowChanges()
        self.positions: dict[UUID, int] = {}

    def take(self, event: Any, position: int) -> None:
        cluster_id: UUID = event.originator_id
        track = self.tracks.get(cluster_id)
        version = event.originator_version
        try:
            track, start, segments = advance(
                track, event, self.rules, self.log_of(cluster_id, version)
            )
        except ValueError as exc:
            raise UnhandledEvent(
                f"{topic_of(event)} of {cluster_id} v{version} at position {position}: {exc}"
            ) from exc
        self.tracks[cluster_id] = track
        if self.keep is not None:
            self.keep(track)
        if self.note is not None:
            self.note(track, LoggedEvent(event, position))
        self.positions[cluster_id] = position
        self.current[cluster_id] = supersede(
            self.current.get(cluster_id, []), start, segments, cluster_id=cluster_id,
            recorded_at=track.recorded_at, version=version, position=position,
            changes=self.changes,
        )


class BitemporalView(LedgerView):
    """Each case's board row on both time axes (see the module's docstring)."""

    spec = BITEMPORAL

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._mapper = MsgspecMapper(JSONTranscoder())
        self.recent = RecentCases()
        table, cases = Identifier(self.prefix), Identifier(self.prefix + "_cases")
        key = SQL("cluster_id = %s AND valid_from = %s AND recorded_from = %s")
        self._select_open = SQL(
            "SELECT {} FROM {} WHERE cluster_id = ANY(%s) AND recorded_to = {} "
            "ORDER BY cluster_id, valid_from"
        ).format(
            SQL(", ").join(map(Identifier, ROW_COLUMNS)), table, SQL(OPEN_INSTANT_SQL)
        ).as_bytes()
        self._select_tracks = SQL(
            "SELECT cluster_id, version, max_effective, recorded_at, heads, state, amounts "
            "FROM {} "
            "WHERE cluster_id = ANY(%s)"
        ).format(cases).as_bytes()
        self._close = SQL("UPDATE {} SET recorded_to = %s WHERE {}").format(
            table, key
        ).as_bytes()
        self._delete = SQL("DELETE FROM {} WHERE {}").format(table, key).as_bytes()
        self._insert = SQL("INSERT INTO {} ({}) VALUES ({})").format(
            table, SQL(", ").join(map(Identifier, ROW_COLUMNS)),
            SQL(", ").join(SQL("%s") for _ in ROW_COLUMNS),
        ).as_bytes()
        self._upsert_track = SQL(
            "INSERT INTO {} ({}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (cluster_id) "
            "DO UPDATE SET version = EXCLUDED.version, max_effective = EXCLUDED.max_effective, "
            "recorded_at = EXCLUDED.recorded_at, position = EXCLUDED.position, "
            "heads = EXCLUDED.heads, state = EXCLUDED.state, amounts = EXCLUDED.amounts"
        ).format(cases, SQL(", ").join(map(Identifier, CASE_COLUMNS))).as_bytes()
        self._earlier = SQL(
            "SELECT notification_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = %s AND originator_version > %s AND originator_version < %s "
            "AND topic LIKE %s "
            "ORDER BY originator_version"
        ).format(Identifier(EVENTS_TABLE)).as_bytes()
        self._snapshot = SQL(
            "SELECT originator_version, topic, state FROM {} WHERE originator_id = %s "
            "AND originator_version <= %s ORDER BY originator_version DESC LIMIT 1"
        ).format(Identifier(SNAPSHOTS_TABLE)).as_bytes()
        self._copy_rows = SQL("COPY {} ({}) FROM STDIN").format(
            table, SQL(", ").join(map(Identifier, ROW_COLUMNS))
        )
        self._copy_cases = SQL("COPY {} ({}) FROM STDIN").format(
            cases, SQL(", ").join(map(Identifier, CASE_COLUMNS))
        )
        self._select_rows = SQL("SELECT {} FROM {} ORDER BY cluster_id, valid_from, "
                                "recorded_from").format(
            SQL(", ").join(map(Identifier, ROW_COLUMNS)), table
        )

    # ---- writing ---------------------------------------------------------------------------

    def fold_batch(
        self, curs: Cursor[DictRow], items: Sequence[tuple[Any | None, Tracking]], rules: Rules
    ) -> None:
        """Fold several events, in log order, inside the caller's transaction (which holds
        this view's advisory lock): each case's track and open rows are read once, every
        event of the batch folded in order, the writes made once; one tracking record."""
        position = self._max_tracking_id(items[0][1].application_name, curs)
        fresh = [
            (event, tracking) for event, tracking in items
            if position is None or tracking.notification_id > position
        ]
        if not fresh:
            return
        events = [(e, t.notification_id) for e, t in fresh if e is not None]
        if events:
            try:
                self._fold_events(curs, events, rules)
            except BaseException:
                self.recent.clear()  # its aggregates may hold events now rolled back
                raise
        self._insert_tracking(curs, fresh[-1][1])

    def _fold_events(
        self, curs: Cursor[DictRow], events: list[tuple[Any, int]], rules: Rules
    ) -> None:
        first: dict[UUID, int] = {}
        for event, _ in events:
            first.setdefault(event.originator_id, event.originator_version)
        remembered = {
            cid: recent for cid, version in first.items()
            if (recent := self.recent.before(cid, version)) is not None
        }
        tracks = self._load_tracks(curs, [cid for cid in first if cid not in remembered])
        tracks.update((cid, recent.track) for cid, recent in remembered.items())

        def log_of(cluster_id: UUID, version: int) -> CaseLog:
            stored = _StoredLog(self, curs, cluster_id, version)
            return _RecentLog(self.recent.before(cluster_id, version), stored)

        def note(track: CaseTrack, logged: LoggedEvent) -> None:
            self.recent.note(track, logged)

        fold = _Fold(rules, tracks, self._load_open(curs, list(first)), log_of, note=note)
        for event, at in events:
            fold.take(event, at)
        self._write(curs, fold)

    def apply(self, curs: Cursor[DictRow], event: Any, position: int, rules: Rules) -> None:
        """One event, without a tracking record (a rebuild's catch-up writes that)."""
        cluster_id = event.originator_id
        fold = _Fold(
            rules, self._load_tracks(curs, [cluster_id]), self._load_open(curs, [cluster_id]),
            lambda cid, version: _StoredLog(self, curs, cid, version),
        )
        fold.take(event, position)
        self._write(curs, fold)

    def _load_tracks(self, curs: Cursor[DictRow], ids: list[UUID]) -> dict[UUID, CaseTrack | None]:
        tracks: dict[UUID, CaseTrack | None] = dict.fromkeys(ids)
        curs.execute(self._select_tracks, (ids,))
        for record in curs.fetchall():
            tracks[record["cluster_id"]] = decode_track(record["cluster_id"], record)
        return tracks

    def _load_open(self, curs: Cursor[DictRow], ids: list[UUID]) -> dict[UUID, list[VersionedRow]]:
        current: dict[UUID, list[VersionedRow]] = {}
        curs.execute(self._select_open, (ids,))
        for record in curs.fetchall():
            current.setdefault(record["cluster_id"], []).append(_from_record(record))
        return current

    def _read_earlier(
        self, curs: Cursor[DictRow], cluster_id: UUID, after: int, before: int
    ) -> list[LoggedEvent]:
        """The case's events after version `after` and before `before`, from the log (a
        back-dated event needs them). A cursor of its own: the caller's may hold a result it
        has not read yet."""
        with curs.connection.cursor() as own:
            own.execute(self._earlier, (cluster_id, after, before, CLUSTER_TOPICS))
            return [
                LoggedEvent(
                    decode_event(cluster_id, r["originator_version"], r["topic"],
                                 bytes(r["state"])),
                    r["notification_id"],
                )
                for r in own.fetchall()
            ]

    def _read_snapshot(
        self, curs: Cursor[DictRow], cluster_id: UUID, version: int
    ) -> tuple[int, Any]:
        with curs.connection.cursor() as own:
            own.execute(self._snapshot, (cluster_id, version))
            record = own.fetchone()
        if record is None:
            return 0, None
        snapshot = decode_event(
            cluster_id, record["originator_version"], record["topic"], bytes(record["state"])
        )
        return record["originator_version"], snapshot.mutate(None)

    def _write(self, curs: Cursor[DictRow], fold: _Fold) -> None:
        changes = fold.changes
        if changes.deleted:
            curs.executemany(
                self._delete, [(r.cluster_id, r.valid_from, r.recorded_from)
                               for r in changes.deleted],
            )
        if changes.closed:
            curs.executemany(
                self._close, [(r.recorded_to, r.cluster_id, r.valid_from, r.recorded_from)
                              for r in changes.closed],
            )
        inserts = changes.final_inserts()
        if inserts:
            curs.executemany(self._insert, [_row_values(r) for r in inserts])
        curs.executemany(
            self._upsert_track,
            [
                _track_values(self._mapper, cid, track, fold.positions[cid])
                for cid, track in fold.tracks.items()
                if track is not None and cid in fold.positions
            ],
        )

    # ---- rebuild -------------------------------------------------------------------------

    def build_from_log(
        self, head: int, rules: Rules, on_progress: Callable[[int], None] | None = None
    ) -> tuple[int, int]:
        """Fold the log up to position `head` case by case into this view's (empty, shadow)
        tables with COPY, a few hundred cases per transaction (nobody reads a shadow before
        its swap), then record the tracking position. Returns (cases, events folded)."""
        cases = folded = 0
        rows: list[list[Any]] = []
        tracks: list[list[Any]] = []
        for cluster_id, logged in _case_streams(self.datastore, head):
            log = _MemoryLog(logged)
            fold = _Fold(rules, {}, {}, log.at, log.keep)
            for item in logged:
                fold.take(item.event, item.position or 0)
            rows.extend(_row_values(row) for row in fold.changes.final_inserts())
            track = fold.tracks.get(cluster_id)
            if track is not None:
                tracks.append(
                    _track_values(self._mapper, cluster_id, track, fold.positions[cluster_id])
                )
            cases += 1
            folded += len(logged)
            if len(tracks) >= _REBUILD_CASES:
                self._copy(rows, tracks)
                rows, tracks = [], []
                if on_progress is not None:
                    on_progress(folded)
        self._copy(rows, tracks)
        with self.datastore.transaction(commit=True) as curs:
            if head:
                self._insert_tracking(curs, Tracking(APPLICATION_NAME, head))
        if on_progress is not None:
            on_progress(folded)
        return cases, folded

    def _copy(self, rows: list[list[Any]], tracks: list[list[Any]]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            with curs.copy(self._copy_rows) as copy:
                for values in rows:
                    copy.write_row(values)
            with curs.copy(self._copy_cases) as copy:
                for values in tracks:
                    copy.write_row(values)

    # ---- LedgerView's digest interface: not how this view is written -----------------------

    def store(self, curs: Cursor[DictRow], digest: Any, rules: Rules) -> None:
        raise NotImplementedError("the bitemporal view folds events, not digests")

    def write_all(self, curs: Cursor[DictRow], digests: Iterable[Any], rules: Rules) -> None:
        raise NotImplementedError("the bitemporal view is rebuilt by build_from_log")

    def rows(self) -> list[VersionedRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_rows)
            return [_from_record(r, stored=False) for r in curs.fetchall()]


def _from_record(record: Any, *, stored: bool = True) -> VersionedRow:
    return VersionedRow(
        cluster_id=record["cluster_id"], valid_from=record["valid_from"],
        valid_to=None if record["valid_to"] == OPEN_DATE else record["valid_to"],
        recorded_from=record["recorded_from"],
        recorded_to=None if record["recorded_to"] == OPEN_INSTANT else record["recorded_to"],
        state=state_from_record(record),
        version=record["version"], position=record["position"], stored=stored,
    )


_CASES_PER_READ = 200


def _case_streams(
    datastore: PostgresDatastore, head: int
) -> Iterator[tuple[UUID, list[LoggedEvent]]]:
    """Every case's events up to log position `head`, one case at a time, in version order.
    Cases are read a few hundred at a time, each read a statement of its own (no transaction
    is held open while a case is folded), by a thread that reads the next cases meanwhile."""
    for rows in prefetched(_case_pages(datastore, head), name="bitemporal-reader"):
        current: UUID | None = None
        events: list[LoggedEvent] = []
        for cluster_id, version, topic, state, position in rows:
            if cluster_id != current:
                if current is not None:
                    yield current, events
                current, events = cluster_id, []
            event = decode_event(cluster_id, version, topic, state)
            if not isinstance(event, IGNORED_EVENTS):
                events.append(LoggedEvent(event, position))
        if current is not None:
            yield current, events


def _case_pages(datastore: PostgresDatastore, head: int) -> Iterator[list[tuple[Any, ...]]]:
    events = Identifier(EVENTS_TABLE)
    with datastore.get_connection() as conn:
        cursor = conn.cursor(row_factory=tuple_row, binary=True)
        ids = [
            row[0] for row in cursor.execute(
                SQL("SELECT originator_id FROM {} WHERE originator_version = 1 "
                    "AND topic LIKE %s AND notification_id <= %s ORDER BY 1").format(events),
                (CLUSTER_TOPICS, head),
            ).fetchall()
        ]
        query = SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id FROM {} "
            "WHERE originator_id = ANY(%s) AND topic LIKE %s AND notification_id <= %s "
            "ORDER BY originator_id, originator_version"
        ).format(events)
        for start in range(0, len(ids), _CASES_PER_READ):
            chunk = ids[start:start + _CASES_PER_READ]
            yield cursor.execute(query, (chunk, CLUSTER_TOPICS, head)).fetchall()
