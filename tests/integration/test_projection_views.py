"""Each view equals what the aggregates say, for both programmes' lifecycles.

Expected rows are computed here from each aggregate's `CaseState` (loaded through the
application), never with the projection's fold code; positions come from the event table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from domain.case import CaseState, Status
from domain.commands import Command
from domain.facts import AnnualFigures, AppealOutcome, ChangeKind, Ground
from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from projections.folds import DeadlineRow, FundingRow, StatusRow, UnhandledEvent
from projections.positions import read_positions, wait_for_position
from projections.projection import StatusProjection
from projections.rebuild import open_view
from projections.runner import Projector
from projections.views import LedgerView, StatusView
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    QUANZHOU,
    SIMING,
    XIAMEN,
    certified_fj,
    certified_xm,
    fj_dossier,
    fund_year_one,
    meta,
    plan_lines,
    score_year,
    xm_dossier,
)


def report_due(programme: str, year: int) -> tuple[int, int]:
    """(month, day) the report on `year` is due: FJ Art. 15; a national cluster in Xiamen under
    MIIT's measures until Xiamen's rules (2024-11-25; April 30, then March 31 from 2024), and
    under XM Art. 9 (April 30) from the first year over after them."""
    if programme == "FJ":
        return (3, 30)
    if year >= 2024:
        return (4, 30)
    return (3, 31) if year == 2023 else (4, 30)
KIND_ORDER = ["annual_report", "renewal", "certification_notice", "appeal_window",
              "appeal_reply", "subsidy_notice"]


# ---- lifecycles --------------------------------------------------------------------------


def _under_notice(ledger: ClusterLedger) -> UUID:
    cid = ledger.issue(
        Command.APPLY,
        None,
        meta("county", JINJIANG, date(2025, 3, 3)),
        None,
        dossier=fj_dossier("晋江市（公示中）产业集群"),
    ).cluster_id
    ledger.issue(
        Command.RECOMMEND, cid, meta("city", QUANZHOU, date(2025, 4, 1)), 1, onsite_verified=True
    )
    ledger.issue(
        Command.SHORTLIST, cid, meta("province", FJ_PROVINCE, date(2025, 5, 6), user_id="prov-a"), 2
    )
    return cid


def _renewal_pending(ledger: ClusterLedger) -> UUID:
    cid = certified_fj(ledger, fj_dossier("晋江市（复核中）产业集群"))
    ledger.issue(
        Command.FILE_ANNUAL_REPORT,
        cid,
        meta("county", JINJIANG, date(2024, 3, 15)),
        4,
        year=2023,
        figures=AnnualFigures(total_output_yuan=5_000_000_000),
    )
    ledger.issue(Command.REQUEST_RENEWAL, cid, meta("county", JINJIANG, date(2026, 5, 30)), 5)
    return cid


def _revoke(ledger: ClusterLedger, cid: UUID, version: int, on: date, received: date) -> None:
    ledger.issue(
        Command.REVOKE, cid,
        meta("province", FJ_PROVINCE, on, user_id="prov-c",
             document_number="闽工信〔2025〕77号", comment="重大安全事故"),
        version, ground=Ground.MAJOR_INCIDENT, received_on=received,
    )


def _revoked_no_appeal(ledger: ClusterLedger) -> UUID:
    cid = certified_fj(ledger, fj_dossier("晋江市（已撤销）产业集群"))
    _revoke(ledger, cid, 4, date(2025, 9, 24), date(2025, 9, 26))
    return cid


def _appealed_provisional(ledger: ClusterLedger) -> UUID:
    """Revoked and appealed late in 2028: the reply date runs into a year the calendar guesses."""
    cid = certified_fj(ledger, fj_dossier("晋江市（申诉中）产业集群"))
    _revoke(ledger, cid, 4, date(2028, 11, 1), date(2028, 11, 3))
    ledger.issue(
        Command.APPEAL, cid, meta("county", JINJIANG, date(2028, 11, 10), comment="不服撤销"), 5
    )
    return cid


def _overturned(ledger: ClusterLedger) -> UUID:
    cid = certified_fj(ledger, fj_dossier("晋江市（申诉成功）产业集群"))
    _revoke(ledger, cid, 4, date(2025, 9, 24), date(2025, 9, 26))
    ledger.issue(
        Command.APPEAL, cid, meta("county", JINJIANG, date(2025, 10, 9), comment="不服撤销"), 5
    )
    ledger.issue(
        Command.DECIDE_APPEAL,
        cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2025, 11, 20),
            user_id="prov-d",
            comment="复核：撤销依据不足",
        ),
        6,
        outcome=AppealOutcome.OVERTURNED,
    )
    return cid


def _not_recommended(ledger: ClusterLedger) -> UUID:
    cid = ledger.issue(
        Command.APPLY,
        None,
        meta("county", JINJIANG, date(2025, 3, 3)),
        None,
        dossier=fj_dossier("晋江市（未推荐）产业集群"),
    ).cluster_id
    ledger.issue(
        Command.DECLINE, cid, meta("city", QUANZHOU, date(2025, 4, 1), comment="产值不达标"), 1
    )
    return cid


def _xm_partly_paid(ledger: ClusterLedger) -> UUID:
    """Year 1 paid; 2025 assessed at 79.99; year 2 approved at 400,000 yuan and half paid;
    the operating unit changed."""
    cid = certified_xm(ledger, xm_dossier("厦门市思明区（资金）产业集群"))
    v = fund_year_one(ledger, cid, 3)
    ledger.issue(
        Command.FILE_ANNUAL_REPORT,
        cid,
        meta("operating_unit", SIMING, date(2026, 4, 20)),
        v,
        year=2025,
        figures=AnnualFigures(total_output_yuan=15_000_000_000),
    )
    v = score_year(ledger, cid, v + 1, 2025, Decimal("79.99"))
    ledger.issue(
        Command.SUBMIT_FUND_USE_PLAN,
        cid,
        meta("operating_unit", SIMING, date(2026, 4, 13)),
        v,
        funding_year=2,
        lines=plan_lines(40_000_000),
    )
    ledger.issue(
        Command.REVIEW_FUND_USE_PLAN,
        cid,
        meta("county", SIMING, date(2026, 4, 14)),
        v + 1,
        funding_year=2,
        passed=True,
    )
    ledger.issue(
        Command.APPROVE_SUBSIDY,
        cid,
        meta("city", XIAMEN, date(2026, 4, 15), user_id="city-approver"),
        v + 2,
        funding_year=2,
        amount_fen=40_000_000,
    )
    ledger.issue(
        Command.PAY_SUBSIDY,
        cid,
        meta("city", XIAMEN, date(2026, 5, 20), user_id="city-treasurer"),
        v + 3,
        funding_year=2,
        amount_fen=15_000_000,
        voucher=f"XM-2026-{cid.hex[:8]}-2a",
    )
    ledger.issue(
        Command.REPORT_MAJOR_CHANGE,
        cid,
        meta("county", SIMING, date(2026, 6, 1), comment="原运营单位注销"),
        v + 4,
        kind=ChangeKind.OPERATING_UNIT,
        new_value="厦门市思明区产业服务中心",
    )
    return cid


def _xm_plan_awaiting_review(ledger: ClusterLedger) -> UUID:
    """Year 2 planned after an 85-point assessment, not yet approved: the rulebook's figure."""
    cid = certified_xm(ledger, xm_dossier("厦门市思明区（待审）产业集群"))
    v = fund_year_one(ledger, cid, 3)
    v = score_year(ledger, cid, v, 2025, Decimal(85))
    ledger.issue(
        Command.SUBMIT_FUND_USE_PLAN,
        cid,
        meta("operating_unit", SIMING, date(2026, 4, 13)),
        v,
        funding_year=2,
        lines=plan_lines(60_000_000),
    )
    return cid


LIFECYCLES = {
    "under_notice": _under_notice,
    "renewal_pending": _renewal_pending,
    "revoked_no_appeal": _revoked_no_appeal,
    "appealed_provisional": _appealed_provisional,
    "overturned": _overturned,
    "not_recommended": _not_recommended,
    "xm_partly_paid": _xm_partly_paid,
    "xm_plan_awaiting_review": _xm_plan_awaiting_review,
}


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def projector(migrated: ConnectionInfo) -> Iterator[Projector]:
    with Projector(migrated) as running:
        yield running


@pytest.fixture(scope="module")
def cases(ledger: ClusterLedger, projector: Projector, migrated: ConnectionInfo) -> dict[str, UUID]:
    ids = {name: build(ledger) for name, build in LIFECYCLES.items()}
    head = ledger.recorder.max_notification_id()
    assert head is not None
    assert wait_for_position(migrated.url, head, timeout=30)
    assert not projector.failures()
    return ids


@pytest.fixture(scope="module")
def views(migrated: ConnectionInfo) -> Iterator[dict[str, LedgerView]]:
    opened = {name: open_view(migrated, name) for name in ("status", "funding", "deadlines")}
    yield opened
    for view in opened.values():
        view.datastore.close()


# ---- independent expectations ------------------------------------------------------------


def _last_position(conn: ConnectionInfo, cid: UUID) -> int:
    with psycopg.connect(conn.url) as pg:
        row = pg.execute(
            "SELECT max(notification_id) FROM clusterledger_events WHERE originator_id = %s",
            (cid,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def expected_deadlines(cid: UUID, case: CaseState) -> list[tuple[Any, ...]]:
    """(kind, subject, due_on, provisional) of every open obligation, read off the case."""
    due: list[tuple[Any, ...]] = []
    if case.status == Status.UNDER_NOTICE and case.notice is not None:
        due.append(("certification_notice", "", case.notice.ends_on, case.notice.provisional))
    if case.status == Status.CERTIFIED:
        assert case.certified_on is not None
        assert case.valid_until is not None
        year = case.certified_on.year
        while year in case.reports:
            year += 1
        month, day = report_due(case.dossier.programme, year)
        due.append(("annual_report", str(year), date(year + 1, month, day), False))
        if not (case.renewal and case.renewal.passed is None):
            due.append(("renewal", "", case.valid_until, False))
        due.extend(
            ("subsidy_notice", f"subsidy:{funding.funding_year}", funding.notice.ends_on,
             funding.notice.provisional)
            for funding in case.funding.values()
            if funding.notice is not None and funding.paid_fen < funding.approved_fen
        )
    if case.status == Status.REVOKED and case.revocation is not None:
        if case.appeal is None and case.revocation.appeal_deadline is not None:
            due.append(("appeal_window", "", case.revocation.appeal_deadline,
                        case.revocation.appeal_deadline_provisional))
        if case.appeal is not None and case.appeal.outcome is None:
            due.append(("appeal_reply", "", case.appeal.reply_due,
                        case.appeal.reply_due_provisional))
    return sorted(due, key=lambda d: (d[2], KIND_ORDER.index(d[0]), d[1]))


def expected_status(
    ledger: ClusterLedger, conn: ConnectionInfo, cid: UUID
) -> dict[str, Any]:
    cluster = ledger.get_cluster(cid)
    case = cluster.case
    finals = {y: a.final_score for y, a in case.assessments.items() if a.final_score is not None}
    upcoming = expected_deadlines(cid, case)
    county = case.dossier.county_code
    renewal_pending = bool(case.renewal and case.renewal.passed is None)
    lapses = (  # the day after the last valid day, while no renewal is pending
        case.valid_until + timedelta(days=1)
        if case.status == Status.CERTIFIED and case.valid_until and not renewal_pending
        else None
    )
    return {
        "cluster_id": cid,
        "name": case.dossier.name,
        "programme": str(case.dossier.programme),
        "province_code": "350000",
        "city_code": ledger.services.regions.city_of(county).code,
        "county_code": county,
        "leading_industry": case.dossier.leading_industry,
        "operating_unit": case.dossier.operating_unit,
        "status": str(case.status),
        "applied_on": case.applied_on,
        "certified_on": case.certified_on,
        "valid_until": case.valid_until,
        "renewal_pending": renewal_pending,
        "lapses_on": lapses,
        "last_report_year": max(case.reports) if case.reports else None,
        "last_final_score": finals[max(finals)] if finals else None,
        "next_due_on": upcoming[0][2] if upcoming else None,
        "next_due_kind": upcoming[0][0] if upcoming else None,
        "version": cluster.version,
        "position": _last_position(conn, cid),
    }


def _as_dict(row: Any) -> dict[str, Any]:
    return {field: getattr(row, field) for field in row.__struct_fields__}


def _status_row(views: dict[str, LedgerView], cid: UUID) -> StatusRow:
    rows = [r for r in views["status"].rows() if r.cluster_id == cid]
    assert len(rows) == 1
    row: StatusRow = rows[0]
    return row


def _deadlines(views: dict[str, LedgerView], cid: UUID) -> list[tuple[Any, ...]]:
    rows: list[DeadlineRow] = [r for r in views["deadlines"].rows() if r.cluster_id == cid]
    ordered = sorted(rows, key=lambda r: (r.due_on, KIND_ORDER.index(r.kind), r.subject))
    return [(r.kind, r.subject, r.due_on, r.provisional) for r in ordered]


def _funding(views: dict[str, LedgerView], cid: UUID) -> dict[int, FundingRow]:
    return {r.funding_year: r for r in views["funding"].rows() if r.cluster_id == cid}


# ---- status board ------------------------------------------------------------------------


@pytest.mark.parametrize("lifecycle", list(LIFECYCLES))
def test_status_row_equals_the_aggregate(
    lifecycle: str, cases: dict[str, UUID], views: dict[str, LedgerView],
    ledger: ClusterLedger, migrated: ConnectionInfo,
) -> None:
    cid = cases[lifecycle]
    assert _as_dict(_status_row(views, cid)) == expected_status(ledger, migrated, cid)


def test_overturned_appeal_restores_certified_status_on_the_board(
    cases: dict[str, UUID], views: dict[str, LedgerView]
) -> None:
    row = _status_row(views, cases["overturned"])
    assert (row.status, row.valid_until) == ("certified", date(2026, 5, 22))


def test_major_change_updates_the_operating_unit_on_the_board(
    cases: dict[str, UUID], views: dict[str, LedgerView]
) -> None:
    assert _status_row(views, cases["xm_partly_paid"]).operating_unit == "厦门市思明区产业服务中心"


def test_every_cluster_in_the_log_has_a_status_row_equal_to_its_aggregate(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger,
    migrated: ConnectionInfo,
) -> None:
    with psycopg.connect(migrated.url) as pg:
        applied = {
            row[0] for row in pg.execute(
                "SELECT originator_id FROM clusterledger_events WHERE topic = %s",
                ("domain.cluster:Cluster.Applied",),
            )
        }
    head = ledger.recorder.max_notification_id()
    assert head is not None
    assert wait_for_position(migrated.url, head, timeout=30)
    rows = {r.cluster_id: _as_dict(r) for r in views["status"].rows()}
    assert set(rows) == applied
    for cid in applied:
        assert rows[cid] == expected_status(ledger, migrated, cid)


# ---- deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize("lifecycle", list(LIFECYCLES))
def test_deadlines_equal_the_open_obligations_of_the_aggregate(
    lifecycle: str, cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger
) -> None:
    cid = cases[lifecycle]
    assert _deadlines(views, cid) == expected_deadlines(cid, ledger.get_cluster(cid).case)


def test_public_notice_end_is_the_only_deadline_under_notice(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger
) -> None:
    notice = ledger.get_cluster(cases["under_notice"]).case.notice
    assert notice is not None
    assert _deadlines(views, cases["under_notice"]) == [
        ("certification_notice", "", notice.ends_on, notice.provisional)
    ]


def test_pending_renewal_leaves_only_the_next_annual_report(
    cases: dict[str, UUID], views: dict[str, LedgerView]
) -> None:
    assert _deadlines(views, cases["renewal_pending"]) == [
        ("annual_report", "2024", date(2025, 3, 30), False)
    ]


def test_appeal_reply_in_an_unknown_calendar_year_stays_provisional(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger
) -> None:
    appeal = ledger.get_cluster(cases["appealed_provisional"]).case.appeal
    assert appeal is not None
    assert _deadlines(views, cases["appealed_provisional"]) == [
        ("appeal_reply", "", appeal.reply_due, appeal.reply_due_provisional)
    ]


def test_appeal_window_is_open_after_revocation_without_appeal(
    cases: dict[str, UUID], views: dict[str, LedgerView]
) -> None:
    assert _deadlines(views, cases["revoked_no_appeal"]) == [
        ("appeal_window", "", date(2025, 10, 23), False)  # FJ Art. 16, 15 working days
    ]


def test_final_statuses_owe_nothing(cases: dict[str, UUID], views: dict[str, LedgerView]) -> None:
    assert _deadlines(views, cases["not_recommended"]) == []


# ---- funding ledger ----------------------------------------------------------------------


@pytest.mark.parametrize("lifecycle", ["xm_partly_paid", "xm_plan_awaiting_review"])
def test_funding_rows_equal_the_aggregate(
    lifecycle: str, cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger
) -> None:
    cid = cases[lifecycle]
    case = ledger.get_cluster(cid).case
    rows = _funding(views, cid)
    assert set(rows) == set(case.funding)
    for year, funding in case.funding.items():
        row = rows[year]
        assert (row.requested_fen, row.district_passed, row.approved_fen, row.approved_on) == (
            funding.requested_fen, funding.district_passed, funding.approved_fen,
            funding.approved_on,
        )
        assert row.paid_fen == funding.paid_fen
        assert row.remaining_fen == funding.approved_fen - funding.paid_fen
        assert tuple(p.voucher for p in row.payments) == funding.vouchers
        assert tuple(p.paid_on for p in row.payments) == funding.paid_on
        assert row.notice_ends_on == (funding.notice.ends_on if funding.notice else None)
        if funding.approved_by is not None:
            assert (row.entitled_fen, row.entitlement_fixed) == (funding.entitlement_fen, True)


def test_partly_paid_year_shows_exact_remaining_fen(
    cases: dict[str, UUID], views: dict[str, LedgerView]
) -> None:
    row = _funding(views, cases["xm_partly_paid"])[2]
    assert (row.entitled_fen, row.approved_fen, row.paid_fen, row.remaining_fen) == (
        40_000_000, 40_000_000, 15_000_000, 25_000_000
    )


def test_unapproved_plan_shows_the_rulebook_entitlement_by_score_band(
    cases: dict[str, UUID], views: dict[str, LedgerView]
) -> None:
    row = _funding(views, cases["xm_plan_awaiting_review"])[2]
    # XM Art. 13: year 2 after a first assessment of 85 (>= 80) -> 600,000 yuan
    assert (row.entitled_fen, row.entitlement_fixed, row.approved_fen) == (60_000_000, False, 0)


def test_fj_clusters_have_no_funding_rows(
    cases: dict[str, UUID], views: dict[str, LedgerView]
) -> None:
    assert _funding(views, cases["overturned"]) == {}


# ---- running -----------------------------------------------------------------------------


def test_status_reports_every_view_caught_up(
    cases: dict[str, UUID], migrated: ConnectionInfo
) -> None:
    positions = read_positions(migrated.url)
    assert [p.view for p in positions] == ["status", "funding", "deadlines", "bitemporal"]
    assert all(p.position == p.head and p.lag == 0 for p in positions)


def test_an_unknown_event_stops_the_projection_with_a_clear_error(
    migrated: ConnectionInfo,
) -> None:
    from eventsourcing.persistence import Tracking

    view = open_view(migrated, "status")
    try:
        assert isinstance(view, StatusView)
        projection = StatusProjection(view)
        with pytest.raises(UnhandledEvent, match="cannot handle builtins:object at position 7"):
            projection.process_event(object(), Tracking("ClusterLedger", 7))
    finally:
        view.datastore.close()


def test_every_event_class_of_the_cluster_has_a_fold() -> None:

    from domain.cluster import cluster_event_classes
    from projections.folds import handled_event_classes

    declared = set(cluster_event_classes().values())
    assert len(declared) >= 22
    assert declared == set(handled_event_classes())


def test_offline_fold_of_the_whole_log_gives_the_live_summary(
    cases: dict[str, UUID], ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    """What the audit verifier does with an export: fold in memory, summarise, compare."""
    from projections.folds import fold_log, funding_rows, status_row
    from projections.projection import load_rules
    from projections.queries import read_summary
    from projections.rebuild import notifications
    from projections.runner import LedgerFeed, runner_env
    from projections.summary import summarise

    head = ledger.recorder.max_notification_id()
    assert head is not None
    assert wait_for_position(migrated.url, head, timeout=30)
    rules = load_rules()
    feed = LedgerFeed(runner_env(migrated))
    try:
        events = ((n.id, feed.mapper.to_domain_event(n)) for n in notifications(feed, 0, head))
        digests = fold_log(events, rules)
    finally:
        feed.close()
    on = date(2026, 6, 1)
    offline = summarise(
        [status_row(d, rules) for d in digests.values()],
        [row for d in digests.values() for row in funding_rows(d, rules)],
        on=on,
    )
    assert offline == read_summary(migrated, on=on)
    assert sum(c.clusters for c in offline.clusters) == len(digests)


def test_partial_decoding_folds_every_event_as_the_full_decoding_does(
    cases: dict[str, UUID], ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    """`project rebuild` decodes only what the folds read: the digests must be the same."""
    from domain.cluster import Cluster
    from projections.folds import fold_log, handled_event_classes, partial_event_decoder
    from projections.projection import load_rules
    from projections.rebuild import _fold_rows, notifications
    from projections.runner import LedgerFeed, runner_env

    head = ledger.recorder.max_notification_id()
    assert head is not None
    rules = load_rules()
    feed = LedgerFeed(runner_env(migrated))
    try:
        stored = list(notifications(feed, 0, head))
        full = fold_log(((n.id, feed.mapper.to_domain_event(n)) for n in stored), rules)
        partial: dict[int, Any] = {}
        _fold_rows(
            [(n.id, UUID(str(n.originator_id)), n.originator_version, n.topic, n.state)
             for n in stored],
            feed.mapper, rules, partial,
        )
    finally:
        feed.close()
    assert {key.int: digest for key, digest in full.items()} == partial
    folded = {n.topic for n in stored if partial_event_decoder(n.topic) is not None}
    assert len(folded) >= 15  # the cases here use most event classes
    for event_class in handled_event_classes():
        assert partial_event_decoder(f"domain.cluster:{event_class.__qualname__}") is not None
    assert partial_event_decoder("domain.voucher:VoucherIndex.Registered") is None
    assert Cluster.Applied in handled_event_classes()
