"""The projector tells transient failures from deterministic ones: it retries a lost
connection with backoff and resumes from its position by itself, and still stops, loudly, on
a failure that would happen again (a value the database refuses to store).

Each test projects into its own copy of the status view's tables (the live views are left
alone); failures are real ones, from the session's PostgreSQL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest
from structlog.testing import capture_logs

from domain.commands import Command
from infra.application import ClusterLedger
from infra.database import ConnectionInfo, DatabaseLimits
from projections.projection import PROJECTIONS, LedgerProjection
from projections.rebuild import open_view
from projections.runner import Backoff, Projector, ViewGroup
from projections.schema import VIEWS, create_copy, drop_copy
from tests.factories import fj_dossier, meta


@pytest.fixture
def status_copy(migrated: ConnectionInfo) -> Iterator[type[LedgerProjection[Any]]]:
    spec = VIEWS["status"]
    prefix = f"{spec.prefix}_r{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        create_copy(curs, spec, prefix)
    yield type("RetryStatus", (PROJECTIONS["status"],), {"name": prefix})
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        drop_copy(curs, spec, prefix)


@pytest.fixture
def head(ledger: ClusterLedger) -> int:
    """At least one event in the log, and where the log ends."""
    county = "350582"
    ledger.issue(
        Command.APPLY,
        None,
        meta("county", county, date(2025, 3, 3)),
        None,
        dossier=fj_dossier(f"重试{uuid.uuid4().hex[:4]}", county),
    )
    position = ledger.recorder.max_notification_id()
    assert position is not None
    return position


def _dropping_connections(times: int) -> type[ViewGroup]:
    """A group whose first `times` batches lose their connection: the server terminates the
    session (SQLSTATE 57P01, what a server shutting down sends), as a database restart
    does."""

    class Dropping(ViewGroup):
        drops = 0

        def process_batch(self, batch: Any) -> None:
            if type(self).drops < times:
                type(self).drops += 1
                with self.datastore.transaction(commit=False) as curs:
                    curs.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            super().process_batch(batch)

    return Dropping


class StoringNul(ViewGroup):
    """A group that tries to store a value PostgreSQL refuses (a NUL byte in text)."""

    def process_batch(self, batch: Any) -> None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT %s::text", ("a\x00b",))
        super().process_batch(batch)


def _position(conn: ConnectionInfo, projection: type[LedgerProjection[Any]]) -> int | None:
    view = open_view(conn, "status", projection.name)
    try:
        position: int | None = view.position()
        return position
    finally:
        view.datastore.close()


def _projector(
    conn: ConnectionInfo,
    projection: type[LedgerProjection[Any]],
    group: type[ViewGroup],
    backoff: Backoff,
) -> Projector:
    return Projector(
        conn, ["status"], projections={"status": projection}, group_class=group,
        limits=DatabaseLimits(), backoff=backoff,
    )


def test_a_lost_connection_is_retried_with_backoff_and_the_view_resumes(
    migrated: ConnectionInfo, status_copy: type[LedgerProjection[Any]], head: int
) -> None:
    group = _dropping_connections(times=2)
    with _projector(migrated, status_copy, group, Backoff(first=0.2, cap=1.0)) as projector:
        seen = set()
        deadline = time.monotonic() + 30
        while (_position(migrated, status_copy) or 0) < head:
            status = projector.status()
            if status.state == "retrying":
                seen.add((status.attempts, status.error))
            assert not projector.failed.is_set(), projector.failures()
            assert time.monotonic() < deadline, projector.status()
            time.sleep(0.02)
        projector.wait(head, timeout=10)
        assert projector.status().state == "running"
        assert not projector.failures()
    assert group.drops == 2
    assert seen, "the projector was never seen retrying"
    assert all("terminating connection" in (error or "") for _, error in seen), seen


def test_a_value_the_database_refuses_stops_the_projector(
    migrated: ConnectionInfo, status_copy: type[LedgerProjection[Any]], head: int
) -> None:
    projector = _projector(migrated, status_copy, StoringNul, Backoff(first=0.2, cap=1.0))
    with capture_logs() as logs:
        projector.start()
        try:
            assert projector.failed.wait(30)
            status = projector.status()
        finally:
            projector.stop()
    failed = [entry for entry in logs if entry["event"] == "projection_failed"]
    assert len(failed) == 1
    assert set(failed[0]["positions"]) == {status_copy.name}  # read before the runner closed
    assert not [entry for entry in logs if entry["event"] == "projection_retrying"]
    assert status.state == "stopped"
    assert "NUL" in (status.error or ""), status
    failures = projector.failures()
    assert len(failures) == 1
    assert "DataError" in failures[0].error
    assert (_position(migrated, status_copy) or 0) < head


def test_while_retrying_the_status_says_when_the_next_attempt_is(
    migrated: ConnectionInfo, status_copy: type[LedgerProjection[Any]], head: int
) -> None:
    group = _dropping_connections(times=1_000_000)
    projector = _projector(migrated, status_copy, group, Backoff(first=30, cap=30))
    projector.start()
    try:
        deadline = time.monotonic() + 30
        while (status := projector.status()).state != "retrying":
            assert time.monotonic() < deadline, status
            time.sleep(0.02)
        assert status.attempts == 1
        assert status.since is not None
        assert status.retry_in is not None
        assert 0 < status.retry_in <= 30
        assert "AdminShutdown" in (status.error or "") or "terminating" in (status.error or "")
        assert not projector.failed.is_set()
    finally:
        started = time.monotonic()
        projector.stop()
        # Generous bound: stop() wakes the supervisor out of its 30 s wait at once.
        assert time.monotonic() - started < 10
    assert not projector.failures()


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first=0.5, cap=30.0)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
