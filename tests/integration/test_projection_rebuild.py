"""A rebuild from the whole log equals the incrementally maintained view, and swaps atomically."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from domain.commands import Command
from domain.errors import ConfigError
from domain.facts import ChangeKind
from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from projections.positions import read_positions, wait_for_position
from projections.rebuild import open_view, rebuild
from projections.runner import Projector
from tests.factories import (
    JINJIANG,
    certified_fj,
    certified_xm,
    fj_dossier,
    fund_year_one,
    meta,
    score_year,
    xm_dossier,
)

VIEWS = ("status", "funding", "deadlines", "bitemporal")


@pytest.fixture(scope="module")
def projector(migrated: ConnectionInfo) -> Iterator[Projector]:
    with Projector(migrated) as running:
        yield running


def _settle(ledger: ClusterLedger, conn: ConnectionInfo) -> int:
    head = ledger.recorder.max_notification_id()
    assert head is not None
    assert wait_for_position(conn.url, head, timeout=30)
    return head


def _rows(conn: ConnectionInfo, name: str) -> list[Any]:
    view = open_view(conn, name)
    try:
        return view.rows()
    finally:
        view.datastore.close()


def _position(conn: ConnectionInfo, name: str) -> int | None:
    return next(p.position for p in read_positions(conn.url) if p.view == name)


@pytest.fixture(scope="module")
def populated(ledger: ClusterLedger, projector: Projector, migrated: ConnectionInfo) -> int:
    certified_fj(ledger, fj_dossier("晋江市（重建）产业集群"))
    cid = certified_xm(ledger, xm_dossier("厦门市思明区（重建）产业集群"))
    score_year(ledger, cid, fund_year_one(ledger, cid, 3), 2025, Decimal(72))
    return _settle(ledger, migrated)


@pytest.mark.parametrize("name", VIEWS)
def test_rebuild_equals_the_incremental_view(
    name: str, populated: int, migrated: ConnectionInfo
) -> None:
    before = _rows(migrated, name)
    report = rebuild(migrated, name)
    assert report.position == populated
    assert _rows(migrated, name) == before
    assert _position(migrated, name) == populated


def test_rebuild_leaves_no_shadow_tables(populated: int, migrated: ConnectionInfo) -> None:
    rebuild(migrated, "funding")
    with psycopg.connect(migrated.url) as pg:
        leftovers = pg.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'proj\\_funding\\_%' "
            "AND tablename NOT IN ('proj_funding_cases', 'proj_funding_tracking')"
        ).fetchall()
    assert leftovers == []


def test_rebuild_twice_in_a_row_swaps_cleanly(populated: int, migrated: ConnectionInfo) -> None:
    before = _rows(migrated, "deadlines")
    rebuild(migrated, "deadlines")
    rebuild(migrated, "deadlines")
    assert _rows(migrated, "deadlines") == before


def test_rebuild_folds_in_events_the_live_view_processed_meanwhile(
    populated: int, ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    written: list[int] = []

    def write_while_folding(_: int) -> None:
        if written:
            return
        certified_fj(ledger, fj_dossier("晋江市（重建期间）产业集群"))
        written.append(_settle(ledger, migrated))  # the live view has processed the new events

    report = rebuild(migrated, "status", on_progress=write_while_folding)
    assert report.caught_up >= 4  # the four events of the new case arrived after the fold
    assert report.position == written[0]
    expected_names = {r.name for r in _rows(migrated, "status")}
    assert "晋江市（重建期间）产业集群" in expected_names


def test_bitemporal_rebuild_folds_in_events_processed_meanwhile_as_a_full_fold_does(
    populated: int, ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    """The events the live view processed during the fold are applied to the shadow event by
    event at the swap (reading their cases' state and open rows from the shadow): the rows
    are the ones a rebuild from scratch leaves."""
    written: list[int] = []

    def write_while_folding(_: int) -> None:
        if written:
            return
        cid = certified_xm(ledger, xm_dossier("厦门市思明区（双时间轴重建期间）产业集群"))
        ledger.issue(  # back-dated: before the certification's date
            Command.REPORT_MAJOR_CHANGE, cid, meta("county", "350203", date(2025, 1, 10)), 3,
            kind=ChangeKind.LEADING_INDUSTRY, new_value="智慧医疗",
        )
        written.append(_settle(ledger, migrated))

    report = rebuild(migrated, "bitemporal", on_progress=write_while_folding)
    assert report.caught_up >= 4
    assert report.position == written[0]
    caught_up = _rows(migrated, "bitemporal")
    assert rebuild(migrated, "bitemporal").caught_up == 0
    assert _rows(migrated, "bitemporal") == caught_up


def test_live_projector_carries_on_after_a_swap(
    populated: int, ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    rebuild(migrated, "status")
    cid = ledger.issue(
        Command.APPLY,
        None,
        meta("county", JINJIANG, date(2025, 3, 3)),
        None,
        dossier=fj_dossier("晋江市（重建之后）产业集群"),
    ).cluster_id
    head = _settle(ledger, migrated)
    rows = {r.cluster_id: r for r in _rows(migrated, "status")}
    assert (rows[cid].status, rows[cid].position) == ("applied", head)


def _status_schema(conn: ConnectionInfo) -> tuple[list[str], list[str], list[str]]:
    """The live status table's index and extended statistics definitions (names left out),
    and the names themselves."""
    with psycopg.connect(conn.url) as pg:
        indexes = pg.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = 'proj_status'"
        ).fetchall()
        statistics = pg.execute(
            "SELECT s.stxname, pg_get_statisticsobjdef(s.oid) FROM pg_statistic_ext s "
            "JOIN pg_class c ON c.oid = s.stxrelid WHERE c.relname = 'proj_status' "
            "AND c.relnamespace = current_schema()::regnamespace"
        ).fetchall()
    unnamed = [
        *sorted(re.sub(r"INDEX \S+ ON", "INDEX ON", d) for _, d in indexes),
        *sorted(re.sub(r"STATISTICS \S+ ", "STATISTICS ", d) for _, d in statistics),
    ]
    return unnamed, [n for n, _ in indexes], [n for n, _ in statistics]


def test_rebuild_keeps_the_status_views_indexes_and_statistics(
    populated: int, migrated: ConnectionInfo
) -> None:
    live_definitions, _, _ = _status_schema(migrated)
    assert any("(county_code, 4)" in d for d in live_definitions)  # migration 103's
    assert any(d.startswith("CREATE STATISTICS") for d in live_definitions)
    rebuild(migrated, "status")
    once = _status_schema(migrated)
    rebuild(migrated, "status")
    twice = _status_schema(migrated)
    assert once[0] == twice[0] == live_definitions
    assert once[1:] == twice[1:]  # the names settle: no "_rebuild", no numbered copies
    assert not [n for names in twice[1:] for n in names if "rebuild" in n]


def test_rebuild_of_an_unknown_view_is_refused(migrated: ConnectionInfo) -> None:
    with pytest.raises(ConfigError, match="no view named 'ledger'"):
        rebuild(migrated, "ledger")
