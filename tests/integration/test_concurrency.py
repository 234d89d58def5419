"""Optimistic concurrency against the real PostgreSQL event store."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from domain.commands import Command
from domain.errors import DomainError, VersionConflict
from domain.facts import AnnualFigures
from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from infra.recorder import SnapshotRecorder
from tests.factories import QUANZHOU, certified_fj, meta


def test_a_command_on_a_stale_version_is_refused(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger)
    with pytest.raises(VersionConflict) as refused:
        ledger.issue(
            Command.FILE_ANNUAL_REPORT,
            cid,
            meta("city", QUANZHOU, date(2024, 3, 1)),
            3,
            year=2023,
            figures=AnnualFigures(),
        )
    assert refused.value.code == "stale_version"
    assert ledger.get_cluster(cid).version == 4


def test_of_two_concurrent_writers_exactly_one_wins(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def file_report(year: int) -> None:
        barrier.wait()
        try:
            ledger.issue(
                Command.FILE_ANNUAL_REPORT, cid,
                meta("city", QUANZHOU, date(2025, 3, 1)),
                4,
                year=year,
                figures=AnnualFigures(total_output_yuan=5_000_000_000),
            )
            outcomes.append("saved")
        except DomainError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=file_report, args=(y,)) for y in (2023, 2024)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) in (["concurrent_update", "saved"], ["saved", "stale_version"])
    cluster = ledger.get_cluster(cid)
    assert cluster.version == 5
    assert len(cluster.case.reports) == 1


def test_snapshots_are_taken_and_reload_the_same_state(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger)
    version = 4
    for year in range(2023, 2023 + 1):
        ledger.issue(
            Command.FILE_ANNUAL_REPORT, cid,
            meta("city", QUANZHOU, date(2026, 3, 1)),
            version,
            year=year,
            figures=AnnualFigures(),
        )
        version += 1
    ledger.take_snapshot(cid)
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(cid))
    assert snapshots[-1].originator_version == version
    from_snapshot = ledger.repository.get(cid)
    replayed = None
    for stored in ledger.events.get(cid):  # every event from the start, no snapshot
        replayed = stored.mutate(replayed)
    assert replayed is not None
    assert from_snapshot.case == replayed.case


def test_a_snapshot_taken_on_save_holds_what_the_stored_events_replay(
    ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    """Snapshots due on save are taken from the case the command just saved (not read back
    from the store); each must equal the state the stored events replay to at its version."""
    app = ClusterLedger(migrated.eventsourcing_env(), ledger.services, snapshot_interval=2,
                        cache_size=10)
    try:
        cid = certified_fj(app)
        version = app.get_cluster(cid).version
        for year in (2023, 2024, 2025):
            app.issue(
                Command.FILE_ANNUAL_REPORT,
                cid,
                meta("city", QUANZHOU, date(2026, 3, 1)),
                version,
                year=year,
                figures=AnnualFigures(total_output_yuan=1_000_000 * year),
            )
            version += 1
        assert app.snapshots is not None
        assert isinstance(app.snapshots.recorder, SnapshotRecorder)  # binary state parameter
        snapshots = list(app.snapshots.get(cid))
        assert [s.originator_version for s in snapshots] == list(range(2, version + 1, 2))
        for snapshot in snapshots:
            replayed = None
            for stored in app.events.get(cid, lte=snapshot.originator_version):
                replayed = stored.mutate(replayed)
            restored = snapshot.mutate(None)
            assert replayed is not None
            assert restored.version == replayed.version == snapshot.originator_version
            assert restored.case == replayed.case
            assert {k: v for k, v in vars(restored).items() if k != "_pending_events"} == {
                k: v for k, v in vars(replayed).items() if k != "_pending_events"
            }
    finally:
        app.close()
