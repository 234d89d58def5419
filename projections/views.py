"""The materialised views: PostgreSQL tables written with their tracking position.

Each view is an eventsourcing `PostgresTrackingRecorder`. For every event it folds the
cluster's digest (`projections.folds`), rewrites that cluster's rows and records the event's
position, all in ONE transaction: a crash leaves either both or neither, so each event counts
exactly once. Every writer of a view first takes the view's advisory lock and re-reads the
position inside the transaction; an event at or below it is already in the view (a second
projector process, or a rebuild that overtook this one) and is not applied again.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from infra.application import ClusterLedger
from projections.folds import (
    ClusterDigest,
    DeadlineRow,
    FundingRow,
    Rules,
    StatusRow,
    deadline_rows,
    decode_digest,
    encode_digest,
    fold,
    funding_rows,
    status_row,
)
from projections.schema import DEADLINES, FUNDING, STATUS, ViewSpec

APPLICATION_NAME = ClusterLedger.name  # tracking rows name the upstream application

_JSON = msgspec.json.Encoder(decimal_format="string")


def _columns(row_type: type[msgspec.Struct]) -> tuple[str, ...]:
    return row_type.__struct_fields__


def _insert(table: str, columns: tuple[str, ...], json_columns: frozenset[str]) -> Composed:
    values = [SQL("%s::jsonb") if c in json_columns else SQL("%s") for c in columns]
    return SQL("INSERT INTO {} ({}) VALUES ({})").format(
        Identifier(table), SQL(", ").join(map(Identifier, columns)), SQL(", ").join(values)
    )


def _copy(table: str, columns: tuple[str, ...]) -> Composed:
    return SQL("COPY {} ({}) FROM STDIN").format(
        Identifier(table), SQL(", ").join(map(Identifier, columns))
    )


def _digests_query(table: Identifier) -> bytes:
    """The statement `LedgerView.load_digests` runs on the table that holds a view's digests."""
    return SQL(
        "SELECT cluster_id, digest::text AS digest FROM {} WHERE cluster_id = ANY(%s)"
    ).format(table).as_bytes()


def _params(row: msgspec.Struct, json_columns: frozenset[str]) -> list[Any]:
    return [
        _JSON.encode(getattr(row, c)).decode() if c in json_columns else getattr(row, c)
        for c in row.__struct_fields__
    ]


class LedgerView(PostgresTrackingRecorder):
    """A view of the ClusterLedger log; the table prefix comes from the tracking table name."""

    spec: ClassVar[ViewSpec]
    _select_digests: bytes  # cluster_id, digest of the clusters in a list (set by each view)

    def __init__(
        self, datastore: PostgresDatastore, *, tracking_table_name: str = "", **kwargs: Any
    ) -> None:
        tracking_table_name = tracking_table_name or self.spec.prefix + "_tracking"
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.prefix = tracking_table_name.removesuffix("_tracking")

    # ---- writing ---------------------------------------------------------------------------

    def process(self, event: Any, tracking: Tracking, rules: Rules) -> None:
        """Fold one cluster event into the view and record its position, in one transaction."""
        self.process_batch([(event, tracking)], rules)

    def process_batch(self, items: Sequence[tuple[Any | None, Tracking]], rules: Rules) -> None:
        """Fold several events, in log order, in ONE transaction of this view (its advisory
        lock held): see `fold_batch`."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self.lock_statement)
            self.fold_batch(curs, items, rules)

    @property
    def lock_statement(self) -> bytes:
        return b"SELECT pg_advisory_xact_lock(%d)" % self.spec.lock_key

    def fold_batch(
        self, curs: Cursor[DictRow], items: Sequence[tuple[Any | None, Tracking]], rules: Rules
    ) -> None:
        """Fold several events, in log order, inside the caller's transaction, which holds
        this view's advisory lock: the position is read under the lock, each cluster's digest
        is read once, folded through its events, and its rows written once; one tracking
        record (the last position) is written. The rows are a function of the digest, so they
        are the ones event-by-event processing leaves. `None` stands for an event that carries
        nothing for the view (its position still counts). Events at or below the view's
        position are already in it and are passed over."""
        position = self._max_tracking_id(items[0][1].application_name, curs)
        fresh = [
            (event, tracking) for event, tracking in items
            if position is None or tracking.notification_id > position
        ]
        if not fresh:
            return
        digests: dict[UUID, ClusterDigest | None] = self.load_digests(
            curs, {event.originator_id for event, _ in fresh if event is not None}
        )
        for event, tracking in fresh:
            if event is not None:
                cluster_id = event.originator_id
                digests[cluster_id] = fold(
                    digests.get(cluster_id), event, tracking.notification_id, rules
                )
        for digest in digests.values():
            if digest is not None:
                self.store(curs, digest, rules)
        self._insert_tracking(curs, fresh[-1][1])

    def load_digests(
        self, curs: Cursor[DictRow], cluster_ids: Iterable[UUID]
    ) -> dict[UUID, ClusterDigest | None]:
        """The stored digests of these clusters, in one statement (None: not in the view)."""
        wanted = list(cluster_ids)
        found: dict[UUID, ClusterDigest | None] = dict.fromkeys(wanted)
        if wanted:
            curs.execute(self._select_digests, (wanted,))
            for row in curs.fetchall():
                found[row["cluster_id"]] = decode_digest(row["digest"])
        return found

    def acknowledge(self, tracking: Tracking, rules: Rules) -> None:
        """Record the position of an event that carries nothing for this view."""
        self.process_batch([(None, tracking)], rules)

    def apply(self, curs: Cursor[DictRow], event: Any, position: int, rules: Rules) -> None:
        digest = self.load_digest(curs, event.originator_id)
        self.store(curs, fold(digest, event, position, rules), rules)

    def position(self) -> int | None:
        position: int | None = self.max_tracking_id(APPLICATION_NAME)
        return position

    def load_digest(self, curs: Cursor[DictRow], cluster_id: UUID) -> ClusterDigest | None:
        """The cluster's digest as this view last stored it."""
        return self.load_digests(curs, (cluster_id,))[cluster_id]

    @abstractmethod
    def store(self, curs: Cursor[DictRow], digest: ClusterDigest, rules: Rules) -> None:
        """Write the cluster's digest and the rows derived from it."""

    @abstractmethod
    def write_all(
        self, curs: Cursor[DictRow], digests: Iterable[ClusterDigest], rules: Rules
    ) -> None:
        """Write the digests of clusters the view does not hold yet, and their rows, with COPY
        (a rebuild's shadow tables: the same rows as `store`, one statement per table)."""

    @abstractmethod
    def rows(self) -> list[Any]:
        """Every row of the view, in key order (for comparisons and verification)."""


class StatusView(LedgerView):
    """One row per cluster: where each case is and what is due next."""

    spec = STATUS
    _JSON_COLUMNS = frozenset({"digest"})

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        table = Identifier(self.prefix)
        columns = (*_columns(StatusRow), "digest")
        updates = SQL(", ").join(
            SQL("{0} = EXCLUDED.{0}").format(Identifier(c)) for c in columns[1:]
        )
        # Statements run per event are rendered once (a Composed renders on every execute).
        self._upsert = (
            _insert(self.prefix, columns, self._JSON_COLUMNS)
            + SQL(" ON CONFLICT (cluster_id) DO UPDATE SET {}").format(updates)
        ).as_bytes()
        self._select_digests = _digests_query(table)
        self._select_rows = SQL("SELECT {} FROM {} ORDER BY cluster_id").format(
            SQL(", ").join(map(Identifier, _columns(StatusRow))), table
        )
        self._copy = _copy(self.prefix, columns)

    def store(self, curs: Cursor[DictRow], digest: ClusterDigest, rules: Rules) -> None:
        row = status_row(digest, rules)
        curs.execute(self._upsert, [*_params(row, frozenset()), encode_digest(digest)])

    def write_all(
        self, curs: Cursor[DictRow], digests: Iterable[ClusterDigest], rules: Rules
    ) -> None:
        fields = _columns(StatusRow)
        with curs.copy(self._copy) as copy:
            for digest in digests:
                row = status_row(digest, rules)
                copy.write_row([*(getattr(row, c) for c in fields), encode_digest(digest)])

    def rows(self) -> list[StatusRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_rows)
            return [msgspec.convert(r, StatusRow) for r in curs.fetchall()]


class _CasesView(LedgerView):
    """A view with several rows per cluster: digests live in `<prefix>_cases`."""

    row_type: ClassVar[type[msgspec.Struct]]
    order_by: ClassVar[tuple[str, ...]]
    json_columns: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        table, cases = Identifier(self.prefix), Identifier(self.prefix + "_cases")
        # Statements run per event are rendered once (a Composed renders on every execute).
        self._select_digests = _digests_query(cases)
        self._upsert_digest = SQL(
            "INSERT INTO {} (cluster_id, digest, position) VALUES (%s, %s::jsonb, %s) "
            "ON CONFLICT (cluster_id) DO UPDATE SET digest = EXCLUDED.digest, "
            "position = EXCLUDED.position"
        ).format(cases).as_bytes()
        self._delete_rows = SQL("DELETE FROM {} WHERE cluster_id = %s").format(table).as_bytes()
        self._insert_row = _insert(
            self.prefix, _columns(self.row_type), self.json_columns
        ).as_bytes()
        self._copy_digests = _copy(self.prefix + "_cases", ("cluster_id", "digest", "position"))
        self._copy_rows = _copy(self.prefix, _columns(self.row_type))
        self._select_rows = SQL("SELECT {} FROM {} ORDER BY {}").format(
            SQL(", ").join(map(Identifier, _columns(self.row_type))),
            table,
            SQL(", ").join(map(Identifier, self.order_by)),
        )

    def store(self, curs: Cursor[DictRow], digest: ClusterDigest, rules: Rules) -> None:
        curs.execute(
            self._upsert_digest, (digest.cluster_id, encode_digest(digest), digest.position)
        )
        curs.execute(self._delete_rows, (digest.cluster_id,))
        rows = self.derive(digest, rules)
        if rows:
            curs.executemany(self._insert_row, [_params(r, self.json_columns) for r in rows])

    def write_all(
        self, curs: Cursor[DictRow], digests: Iterable[ClusterDigest], rules: Rules
    ) -> None:
        digests = list(digests)
        with curs.copy(self._copy_digests) as copy:
            for digest in digests:
                copy.write_row((digest.cluster_id, encode_digest(digest), digest.position))
        with curs.copy(self._copy_rows) as copy:
            for digest in digests:
                for row in self.derive(digest, rules):
                    copy.write_row(_params(row, self.json_columns))

    @abstractmethod
    def derive(self, digest: ClusterDigest, rules: Rules) -> list[Any]:
        """The rows of this view for one cluster."""

    def rows(self) -> list[Any]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_rows)
            return [msgspec.convert(r, self.row_type) for r in curs.fetchall()]


class FundingView(_CasesView):
    """Per cluster and funding year: entitled, approved, paid (vouchers, dates), remaining."""

    spec = FUNDING
    row_type = FundingRow
    order_by = ("cluster_id", "funding_year")
    json_columns = frozenset({"payments"})

    def derive(self, digest: ClusterDigest, rules: Rules) -> list[Any]:
        return list(funding_rows(digest, rules))


class DeadlinesView(_CasesView):
    """Every open obligation of every case, with its due date."""

    spec = DEADLINES
    row_type = DeadlineRow
    order_by = ("cluster_id", "kind", "subject")

    def derive(self, digest: ClusterDigest, rules: Rules) -> list[Any]:
        return list(deadline_rows(digest, rules))


VIEW_CLASSES: dict[str, type[LedgerView]] = {
    STATUS.name: StatusView,
    FUNDING.name: FundingView,
    DEADLINES.name: DeadlinesView,
}
