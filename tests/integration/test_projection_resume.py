"""A projector killed mid-run resumes from its tracking position: no duplicate, no gap.

Each test projects into its own copy of a view's tables (same shape as the live ones), so the
session's live views are untouched; the copy must end up equal to the live view.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import Tracking
from psycopg.rows import DictRow

from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from projections.folds import ClusterDigest, Rules
from projections.positions import wait_for_position
from projections.projection import PROJECTIONS, LedgerProjection
from projections.rebuild import open_view
from projections.runner import Projector, ViewGroup
from projections.schema import VIEWS, create_copy, drop_copy
from tests.factories import (
    certified_fj,
    certified_xm,
    fj_dossier,
    fund_year_one,
    score_year,
    xm_dossier,
)


@pytest.fixture(scope="module")
def live_projector(migrated: ConnectionInfo) -> Iterator[Projector]:
    with Projector(migrated) as running:
        yield running


@pytest.fixture(scope="module")
def head(ledger: ClusterLedger, live_projector: Projector, migrated: ConnectionInfo) -> int:
    certified_fj(ledger, fj_dossier("晋江市（断点续投）产业集群"))
    cid = certified_xm(ledger, xm_dossier("厦门市思明区（断点续投）产业集群"))
    score_year(ledger, cid, fund_year_one(ledger, cid, 3), 2025, Decimal(66))
    position = ledger.recorder.max_notification_id()
    assert position is not None
    assert wait_for_position(migrated.url, position, timeout=30)
    return position


@pytest.fixture
def copy_prefix(request: pytest.FixtureRequest, migrated: ConnectionInfo) -> Iterator[str]:
    spec = VIEWS[request.param]
    prefix = f"{spec.prefix}_t{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        create_copy(curs, spec, prefix)
    yield prefix
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        drop_copy(curs, spec, prefix)


def _log_positions(conn: ConnectionInfo, up_to: int) -> list[int]:
    with psycopg.connect(conn.url) as pg:
        rows = pg.execute(
            "SELECT notification_id FROM clusterledger_events WHERE notification_id <= %s "
            "ORDER BY notification_id", (up_to,),
        ).fetchall()
    return [row[0] for row in rows]


def _copy_view(conn: ConnectionInfo, name: str, prefix: str) -> Any:
    return open_view(conn, name, prefix)


def _wait_copy(conn: ConnectionInfo, name: str, prefix: str, position: int) -> None:
    view = _copy_view(conn, name, prefix)
    try:
        deadline = time.monotonic() + 30
        while (view.position() or 0) < position:
            assert time.monotonic() < deadline, f"copy {prefix} stuck at {view.position()}"
            time.sleep(0.05)
    finally:
        view.datastore.close()


def _rows(conn: ConnectionInfo, name: str, prefix: str | None = None) -> list[Any]:
    view = open_view(conn, name, prefix)
    try:
        return view.rows()
    finally:
        view.datastore.close()


def _plain(name: str, prefix: str) -> type[LedgerProjection[Any]]:
    return type(f"Copy{name.title()}", (PROJECTIONS[name],), {"name": prefix})


def _crashing_between_events(after: int) -> type[ViewGroup]:
    """A runner's group that processes `after` events (committing the batch up to there),
    then fails before the next one, wherever the runner's batches happen to end."""

    class Crashing(ViewGroup):
        processed = 0

        def process_batch(self, batch: Any) -> None:
            room = after - type(self).processed
            if room > 0:
                super().process_batch(batch[:room])
                type(self).processed += min(room, len(batch))
            if len(batch) > room:
                raise RuntimeError(f"injected crash after {after} events")

    return Crashing


def _crashing_inside_transaction(name: str, prefix: str, after: int) -> type[LedgerProjection[Any]]:
    """Writes the rows of the `after`-th cluster event, then fails before its tracking row."""
    base = PROJECTIONS[name]

    class CrashingView(base.view_class):  # type: ignore[misc,name-defined]
        stores = 0

        def store(self, curs: psycopg.Cursor[DictRow], digest: ClusterDigest, rules: Rules) -> None:
            super().store(curs, digest, rules)
            type(self).stores += 1
            if type(self).stores == after:
                raise RuntimeError("injected crash between the rows and the tracking position")

    return type("Crashing", (base,), {"name": prefix, "view_class": CrashingView})


def _run_until_failure(
    conn: ConnectionInfo, name: str, projection: type[Any], group: type[ViewGroup] | None = None
) -> str:
    projector = Projector(conn, [name], projections={name: projection}, group_class=group)
    projector.start()
    try:
        assert projector.failed.wait(30)
    finally:
        projector.stop()
    failures = projector.failures()
    assert len(failures) == 1
    return failures[0].error


@pytest.mark.parametrize("copy_prefix", ["status", "funding", "bitemporal"], indirect=True)
def test_projector_killed_between_events_resumes_without_duplicate_or_gap(
    copy_prefix: str, head: int, migrated: ConnectionInfo
) -> None:
    name = copy_prefix.split("_")[1]
    positions = _log_positions(migrated, head)
    stop_after = len(positions) // 2
    error = _run_until_failure(
        migrated, name, _plain(name, copy_prefix), _crashing_between_events(stop_after)
    )
    assert "injected crash" in error
    assert _copy_view_position(migrated, name, copy_prefix) == positions[stop_after - 1]

    with Projector(migrated, [name], projections={name: _plain(name, copy_prefix)}):
        _wait_copy(migrated, name, copy_prefix, head)
    assert _rows(migrated, name, copy_prefix) == _rows(migrated, name)


@pytest.mark.parametrize("copy_prefix", ["funding"], indirect=True)
def test_crash_between_rows_and_tracking_leaves_neither(
    copy_prefix: str, head: int, migrated: ConnectionInfo
) -> None:
    name = copy_prefix.split("_")[1]
    # The runner folds the events waiting in one transaction per batch, writing each
    # cluster's rows once: the second write of rows fails inside the first batch's
    # transaction, wherever that batch ends.
    error = _run_until_failure(
        migrated, name, _crashing_inside_transaction(name, copy_prefix, after=2)
    )
    assert "between the rows and the tracking position" in error
    stopped_at = _copy_view_position(migrated, name, copy_prefix)
    rows = _rows(migrated, name, copy_prefix)
    if stopped_at is None:
        assert rows == []  # the rows written before the crash were rolled back with it
    else:
        assert all(getattr(r, "position", 0) <= stopped_at for r in rows)

    with Projector(migrated, [name], projections={name: _plain(name, copy_prefix)}):
        _wait_copy(migrated, name, copy_prefix, head)
    assert _rows(migrated, name, copy_prefix) == _rows(migrated, name)


@pytest.mark.parametrize("copy_prefix", ["deadlines"], indirect=True)
def test_two_projectors_on_one_view_apply_each_event_once(
    copy_prefix: str, head: int, migrated: ConnectionInfo
) -> None:
    projection = _plain("deadlines", copy_prefix)
    with Projector(migrated, ["deadlines"], projections={"deadlines": projection}) as first, \
            Projector(migrated, ["deadlines"], projections={"deadlines": projection}) as second:
        _wait_copy(migrated, "deadlines", copy_prefix, head)
    assert not first.failures()
    assert not second.failures()
    assert _rows(migrated, "deadlines", copy_prefix) == _rows(migrated, "deadlines")


def _copy_view_position(conn: ConnectionInfo, name: str, prefix: str) -> int | None:
    view = _copy_view(conn, name, prefix)
    try:
        position: int | None = view.position()
        return position
    finally:
        view.datastore.close()


def _log_events(ledger: ClusterLedger, up_to: int) -> list[tuple[Any, Tracking]]:
    notifications = ledger.recorder.select_notifications(start=1, limit=up_to, stop=up_to)
    return [
        (ledger.mapper.to_domain_event(n), Tracking(ClusterLedger.name, n.id))
        for n in notifications
    ]


@pytest.mark.parametrize(
    "copy_prefix", ["status", "funding", "deadlines", "bitemporal"], indirect=True
)
def test_a_batch_leaves_the_rows_that_event_by_event_processing_leaves(
    copy_prefix: str, head: int, migrated: ConnectionInfo, ledger: ClusterLedger
) -> None:
    name = copy_prefix.split("_")[1]
    events = _log_events(ledger, head)
    assert len({e.originator_id for e, _ in events}) > 2  # several clusters, interleaved
    one_by_one = f"{copy_prefix}b"
    spec = VIEWS[name]
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        create_copy(curs, spec, one_by_one)
    try:
        batched_view = _copy_view(migrated, name, copy_prefix)
        single_view = _copy_view(migrated, name, one_by_one)
        try:
            batched = _plain(name, copy_prefix)(batched_view)
            single = _plain(name, one_by_one)(single_view)
            # Batches of 7 cut across clusters; the second pass over the first half is a
            # replay the view must pass over (positions at or below its own).
            for start in range(0, len(events), 7):
                batched.process_batch(events[start:start + 7])
            batched.process_batch(events[: len(events) // 2])
            for event, tracking in events:
                single.process_event(event, tracking)
            assert batched_view.position() == single_view.position() == head
            assert batched_view.rows() == single_view.rows() == _rows(migrated, name)
        finally:
            batched_view.datastore.close()
            single_view.datastore.close()
    finally:
        with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
            drop_copy(curs, spec, one_by_one)


def test_one_runner_feeds_views_at_different_positions_and_two_runners_never_collide(
    head: int, migrated: ConnectionInfo, ledger: ClusterLedger
) -> None:
    """The projector's one runner folds every view in one transaction per batch. A view that
    is ahead (here each view starts at its own place: a quarter, half, a third of the way)
    passes over what it holds, and the runner starts from the lowest position; two such
    runners on the same views take the views' locks in one order, and every event counts once
    in every view."""
    suffix = uuid.uuid4().hex[:8]
    prefixes = {name: f"{VIEWS[name].prefix}_g{suffix}" for name in ("status", "funding",
                                                                    "deadlines")}
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        for name, prefix in prefixes.items():
            create_copy(curs, VIEWS[name], prefix)
    try:
        events = _log_events(ledger, head)
        for name, share in (("status", 4), ("funding", 2), ("deadlines", 3)):
            ahead = _copy_view(migrated, name, prefixes[name])
            try:
                _plain(name, prefixes[name])(ahead).process_batch(events[: len(events) // share])
                assert ahead.position() == events[len(events) // share - 1][1].notification_id
            finally:
                ahead.datastore.close()
        projections = {name: _plain(name, prefix) for name, prefix in prefixes.items()}
        with Projector(migrated, list(prefixes), projections=projections) as first, \
                Projector(migrated, list(prefixes), projections=projections) as second:
            for name, prefix in prefixes.items():
                _wait_copy(migrated, name, prefix, head)
        assert not first.failures()
        assert not second.failures()
        for name, prefix in prefixes.items():
            assert _rows(migrated, name, prefix) == _rows(migrated, name), name
    finally:
        with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
            for name, prefix in prefixes.items():
                drop_copy(curs, VIEWS[name], prefix)
