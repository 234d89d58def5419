"""Optimistic concurrency against the real PostgreSQL event store."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from domain.errors import DomainError, VersionConflict
from domain.facts import AnnualFigures
from infra.application import ClusterLedger
from tests.factories import QUANZHOU, certified_fj, meta


def test_a_command_on_a_stale_version_is_refused(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger)
    with pytest.raises(VersionConflict) as refused:
        ledger.file_annual_report(
            cid, meta("city", QUANZHOU, date(2024, 3, 1)), 3, year=2023, figures=AnnualFigures()
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
            ledger.file_annual_report(
                cid,
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
        ledger.file_annual_report(
            cid,
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
