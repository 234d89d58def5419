"""Rebuild a view from the whole log into shadow tables, then swap them in atomically.

1. Shadow tables `<prefix>_rebuild*` are created like the live ones; reads keep answering from
   the live tables throughout.
2. The log up to its current head is folded in memory (`projections.folds.fold_log`) and the
   shadow is written in one transaction together with its tracking position (the head).
3. Swap, in one transaction holding the view's writer lock: events the live view processed
   beyond the head meanwhile are folded into the shadow too, then the live tables are renamed
   away and the shadow renamed in (rows and tracking position together). A projector running
   elsewhere carries on with the new tables from their position; events it had not reached yet
   but the shadow already holds are recognised by position and not applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import UUID

import msgspec
import psycopg
from eventsourcing.persistence import Mapper, Notification, StoredEvent, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from domain.errors import ConfigError
from infra.database import ConnectionInfo
from infra.prefetch import prefetched
from projections.bitemporal import BitemporalView
from projections.folds import (
    IGNORED_EVENTS,
    ClusterDigest,
    Rules,
    fold,
    partial_event_decoder,
)
from projections.positions import EVENTS_TABLE
from projections.projection import PROJECTIONS, load_rules
from projections.runner import LedgerFeed, runner_env
from projections.schema import (
    REBUILD_SUFFIX,
    VIEWS,
    ViewSpec,
    create_copy,
    drop_copy,
    swap_in,
    tracking_table,
)
from projections.views import APPLICATION_NAME, LedgerView

_BATCH = 1000
_WINDOW = 5000  # positions per query of a rebuild's scan
_REBUILD_LOCK_OFFSET = 1000  # session lock "a rebuild of this view is running"


class RebuildReport(msgspec.Struct, frozen=True, kw_only=True):
    view: str
    position: int | None  # the swapped-in view's tracking position
    clusters: int
    events_folded: int
    caught_up: int  # events the live projector had processed meanwhile, folded at the swap


def open_view(conn: ConnectionInfo, name: str, prefix: str | None = None) -> LedgerView:
    """A view object over the live tables of `name` (or over a copy under `prefix`).

    The caller closes it (`view.datastore.close()`).
    """
    spec = view_spec(name)
    factory = PostgresFactory(Environment(prefix or spec.prefix, runner_env(conn)))
    view: LedgerView = factory.tracking_recorder(PROJECTIONS[name].view_class)
    return view


def view_spec(name: str) -> ViewSpec:
    spec = VIEWS.get(name)
    if spec is None:
        raise ConfigError(
            "unknown_view", f"no view named {name!r}; views: {', '.join(VIEWS)}", view=name
        )
    return spec


def notifications(
    feed: LedgerFeed, after: int, up_to: int, batch: int = _BATCH
) -> Iterator[Notification]:
    """Stored events with positions in (after, up_to], in log order."""
    start = after
    while start < up_to:
        page = feed.recorder.select_notifications(
            start=start, limit=batch, stop=up_to, inclusive_of_start=False
        )
        if not page:
            return
        yield from page
        start = page[-1].id


def rebuild(
    conn: ConnectionInfo,
    name: str,
    *,
    rules: Rules | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    spec = view_spec(name)
    rules = rules if rules is not None else load_rules()
    shadow_prefix = spec.prefix + REBUILD_SUFFIX
    with psycopg.connect(conn.url, autocommit=True) as guard:
        locked = guard.execute(
            "SELECT pg_try_advisory_lock(%s)", (spec.lock_key + _REBUILD_LOCK_OFFSET,)
        ).fetchone()
        if not locked or not locked[0]:
            raise ConfigError(
                "rebuild_running", f"a rebuild of the {name} view is already running", view=name
            )
        with guard.transaction():
            create_copy(guard.cursor(), spec, shadow_prefix)
        feed = LedgerFeed(runner_env(conn))
        shadow = open_view(conn, name, shadow_prefix)
        try:
            report = _build_and_swap(feed, shadow, name, rules, on_progress)
        except BaseException:
            with guard.transaction():
                drop_copy(guard.cursor(), spec, shadow_prefix)
            raise
        finally:
            shadow.datastore.close()
            feed.close()
    return report


def _build_and_swap(
    feed: LedgerFeed, shadow: LedgerView, name: str, rules: Rules,
    on_progress: Callable[[int], None] | None,
) -> RebuildReport:
    spec = view_spec(name)
    head = feed.recorder.max_notification_id() or 0
    if isinstance(shadow, BitemporalView):  # folded case by case, from the domain's own fold
        clusters, folded = shadow.build_from_log(head, rules, on_progress)
    else:
        clusters, folded = _build_from_digests(feed, shadow, head, rules, on_progress)
    # Planner statistics for the new tables before they go live: without them the first
    # reads plan blind (a bitmap scan and a sort instead of walking the sort index).
    with shadow.datastore.transaction(commit=True) as curs:
        for table in spec.tables(shadow.prefix):
            curs.execute(SQL("ANALYZE {}").format(Identifier(table)))
    caught_up = 0
    with shadow.datastore.transaction(commit=True) as curs:
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (spec.lock_key,))
        curs.execute(
            SQL("SELECT max(notification_id) AS n FROM {} WHERE application_name = %s").format(
                Identifier(tracking_table(spec.prefix))
            ),
            (APPLICATION_NAME,),
        )
        row = curs.fetchone()
        live = row["n"] if row and row["n"] is not None else 0
        position = head
        if live > head:
            for notification in notifications(feed, head, live):
                event = feed.mapper.to_domain_event(notification)
                if not isinstance(event, IGNORED_EVENTS):
                    shadow.apply(curs, event, notification.id, rules)
                caught_up += 1
            shadow._insert_tracking(curs, Tracking(APPLICATION_NAME, live))
            position = live
        swap_in(curs, spec, shadow.prefix)
    return RebuildReport(
        view=name, position=position or None, clusters=clusters, events_folded=folded,
        caught_up=caught_up,
    )


def _build_from_digests(
    feed: LedgerFeed, shadow: LedgerView, head: int, rules: Rules,
    on_progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Fold the log up to `head` into digests in memory, then write the shadow's rows and its
    tracking position in one transaction. Returns (clusters, events folded)."""
    digests: dict[int, ClusterDigest] = {}
    folded = 0
    for rows in _read_log(shadow.datastore, EVENTS_TABLE, head):
        _fold_rows(rows, feed.mapper, rules, digests)
        folded += len(rows)
        if on_progress is not None:
            on_progress(folded)
    with shadow.datastore.transaction(commit=True) as curs:
        shadow.write_all(curs, digests.values(), rules)
        if head:
            shadow._insert_tracking(curs, Tracking(APPLICATION_NAME, head))
    return len(digests), folded


_Row = tuple[int, UUID, int, str, bytes]


def _fold_rows(
    rows: list[_Row], mapper: Mapper[UUID], rules: Rules, digests: dict[int, ClusterDigest]
) -> None:
    """Fold stored events `(position, originator id, version, topic, state)` into `digests`.

    A Cluster event is decoded partially (only what the folds read, `partial_event_decoder`);
    anything else in full with the application's mapper, as the live projector does: the
    voucher index's events are passed over, and an unknown event stops the fold (`fold`)."""
    # Keyed by the id's integer: uuid.UUID hashes and compares in Python, an int in C.
    get = digests.get
    for position, originator_id, version, topic, state in rows:
        partial = partial_event_decoder(topic)
        if partial is not None:
            event = partial.decoder.decode(state)
            event.originator_id = originator_id
            event.originator_version = version
        else:
            event = mapper.to_domain_event(
                StoredEvent(
                    originator_id=originator_id, originator_version=version, topic=topic,
                    state=state,
                )
            )
            if isinstance(event, IGNORED_EVENTS):
                continue
        key = originator_id.int
        digests[key] = fold(get(key), event, position, rules)


def _read_log(datastore: PostgresDatastore, table: str, up_to: int) -> Iterator[list[_Row]]:
    """Pages of stored events with positions in (0, up_to], in log order.

    A thread reads the next page while the caller folds this one (`infra.prefetch`; waiting on
    the database releases the GIL); pages come as tuples with binary columns, one query per
    page."""
    return prefetched(_log_pages(datastore, table, up_to), name="rebuild-reader")


def _log_pages(datastore: PostgresDatastore, table: str, up_to: int) -> Iterator[list[_Row]]:
    # Windows of positions, not LIMIT pages: a LIMIT over a range lets the planner sort the
    # whole rest of the log when the table's statistics are stale.
    query = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id"
    ).format(Identifier(table))
    following = SQL("SELECT min(notification_id) FROM {} WHERE notification_id > %s").format(
        Identifier(table)
    )
    with datastore.get_connection() as conn, conn.transaction():
        cursor = conn.cursor(row_factory=tuple_row, binary=True)
        after = 0
        while after < up_to:
            until = min(after + _WINDOW, up_to)
            rows: list[_Row] = cursor.execute(query, (after, until)).fetchall()
            if rows:
                yield rows
            after = until
            if not rows:  # a run of unused positions: jump to the next used one
                found = cursor.execute(following, (after,)).fetchone()
                if found is None or found[0] is None:
                    break
                after = max(after, found[0] - 1)
