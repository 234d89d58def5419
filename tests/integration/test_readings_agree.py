"""The fold and the domain's readings agree on real cases built through the real application.

Each case goes through `ClusterLedger` commands into PostgreSQL; the projector folds the log
into the views. The view rows (and the board's SQL over them) must then say what
`domain.status` and `domain.readings` say of the aggregate, and what the commands recorded:
the status on the last valid day and the day after, the annual report's due date, the
entitlement of a funding year (band minimum exactly, failed assessment, no final score yet),
and what remains of an approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest

from domain.case import CaseState
from domain.commands import Command
from domain.errors import RuleViolation
from domain.facts import AnnualFigures, Ground, ScoreStage
from domain.readings import (
    annual_report_due,
    annual_report_rulebook,
    entitlement,
    payment_fits,
    remaining_fen,
)
from domain.rulebook import Programme
from domain.status import EXPIRED, status_on
from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from projections.folds import DeadlineRow, FundingRow, StatusRow
from projections.positions import wait_for_position
from projections.queries import status_filter_sql, status_on_sql
from projections.rebuild import open_view
from projections.runner import Projector
from projections.views import LedgerView
from tests.factories import (
    JINJIANG,
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

YEAR_TWO_AT_80 = 60_000_000  # XM Art. 13: 600,000 yuan for a first assessment of 80 (含)


def _plan_year_two(ledger: ClusterLedger, cid: UUID, version: int, amount: int) -> int:
    ledger.issue(
        Command.SUBMIT_FUND_USE_PLAN,
        cid,
        meta("operating_unit", SIMING, date(2026, 4, 13)),
        version,
        funding_year=2,
        lines=plan_lines(amount),
    )
    ledger.issue(
        Command.REVIEW_FUND_USE_PLAN,
        cid,
        meta("county", SIMING, date(2026, 4, 14)),
        version + 1,
        funding_year=2,
        passed=True,
    )
    return version + 2


def _approve_year_two(ledger: ClusterLedger, cid: UUID, version: int, amount: int) -> None:
    ledger.issue(
        Command.APPROVE_SUBSIDY,
        cid,
        meta("city", XIAMEN, date(2026, 4, 15), user_id="city-approver"),
        version,
        funding_year=2,
        amount_fen=amount,
    )


def _fj_certified(ledger: ClusterLedger) -> UUID:
    return certified_fj(ledger, fj_dossier("晋江市（读数）产业集群"))


def _fj_renewal_pending(ledger: ClusterLedger) -> UUID:
    cid = certified_fj(ledger, fj_dossier("晋江市（读数复核中）产业集群"))
    ledger.issue(Command.REQUEST_RENEWAL, cid, meta("county", JINJIANG, date(2026, 5, 1)), 4)
    return cid


def _xm_band_minimum(ledger: ClusterLedger) -> UUID:
    """First assessment exactly 80; year 2 approved at its entitlement and partly paid."""
    cid = certified_xm(ledger, xm_dossier("厦门市思明区（读数八十分）产业集群"))
    v = fund_year_one(ledger, cid, 3)
    v = score_year(ledger, cid, v, 2025, Decimal(80))
    v = _plan_year_two(ledger, cid, v, YEAR_TWO_AT_80)
    _approve_year_two(ledger, cid, v, YEAR_TWO_AT_80)
    ledger.issue(
        Command.PAY_SUBSIDY,
        cid,
        meta("city", XIAMEN, date(2026, 5, 20), user_id="city-treasurer"),
        v + 1,
        funding_year=2,
        amount_fen=20_000_000,
        voucher=f"XM-2026-{cid.hex[:8]}-R",
    )
    return cid


def _xm_failed(ledger: ClusterLedger) -> UUID:
    """First assessment 92 with a failure ground; year 2 planned, not approved."""
    cid = certified_xm(ledger, xm_dossier("厦门市思明区（读数未通过）产业集群"))
    v = fund_year_one(ledger, cid, 3)
    ledger.issue(Command.SCORE, cid, meta("county", SIMING, date(2026, 2, 10)), v, year=2025,
                 stage=ScoreStage.DISTRICT_INITIAL, score=Decimal(92),
                 failure_grounds=(Ground.MAJOR_INCIDENT,))
    ledger.issue(
        Command.SCORE,
        cid,
        meta("city", XIAMEN, date(2026, 3, 10), user_id="city-assessor"),
        v + 1,
        year=2025,
        stage=ScoreStage.CITY_FINAL,
        score=Decimal(92),
        failure_grounds=(Ground.MAJOR_INCIDENT,),
    )
    _plan_year_two(ledger, cid, v + 2, 10_000_000)
    return cid


def _xm_no_final_score(ledger: ClusterLedger) -> UUID:
    """Only the district's initial score of the first assessment; year 2 planned."""
    cid = certified_xm(ledger, xm_dossier("厦门市思明区（读数待终评）产业集群"))
    v = fund_year_one(ledger, cid, 3)
    ledger.issue(Command.SCORE, cid, meta("county", SIMING, date(2026, 2, 10)), v, year=2025,
                 stage=ScoreStage.DISTRICT_INITIAL, score=Decimal(85))
    _plan_year_two(ledger, cid, v + 1, 10_000_000)
    return cid


CASES = {
    "fj_certified": _fj_certified,
    "fj_renewal_pending": _fj_renewal_pending,
    "xm_band_minimum": _xm_band_minimum,
    "xm_failed": _xm_failed,
    "xm_no_final_score": _xm_no_final_score,
}


@pytest.fixture(scope="module")
def cases(ledger: ClusterLedger, migrated: ConnectionInfo) -> Iterator[dict[str, UUID]]:
    with Projector(migrated) as projector:
        ids = {name: build(ledger) for name, build in CASES.items()}
        head = ledger.recorder.max_notification_id()
        assert head is not None
        assert wait_for_position(migrated.url, head, timeout=30)
        assert not projector.failures()
        yield ids


@pytest.fixture(scope="module")
def views(migrated: ConnectionInfo) -> Iterator[dict[str, LedgerView]]:
    opened = {name: open_view(migrated, name) for name in ("status", "funding", "deadlines")}
    yield opened
    for view in opened.values():
        view.datastore.close()


def _status_row(views: dict[str, LedgerView], cid: UUID) -> StatusRow:
    (row,) = [r for r in views["status"].rows() if r.cluster_id == cid]
    assert isinstance(row, StatusRow)
    return row


def _funding_row(views: dict[str, LedgerView], cid: UUID, year: int) -> FundingRow:
    (row,) = [r for r in views["funding"].rows()
              if r.cluster_id == cid and r.funding_year == year]
    assert isinstance(row, FundingRow)
    return row


def _case(ledger: ClusterLedger, cid: UUID) -> CaseState:
    return ledger.get_cluster(cid).case


def _board_sql(migrated: ConnectionInfo, cid: UUID, on: date) -> tuple[str, list[str]]:
    """The status the board's SQL reads on `on`, and the statuses whose filter selects it."""
    with psycopg.connect(migrated.url) as pg:
        row = pg.execute(
            f"SELECT {status_on_sql('%(on)s::date')} FROM proj_status "  # noqa: S608
            "WHERE cluster_id = %(id)s", {"on": on, "id": cid},
        ).fetchone()
        assert row is not None
        selected = []
        for status in ("certified", EXPIRED, "revoked"):
            clause = status_filter_sql("%(on)s::date", status, f"'{status}'")
            if pg.execute(
                f"SELECT 1 FROM proj_status WHERE cluster_id = %(id)s AND {clause}",  # noqa: S608
                {"on": on, "id": cid},
            ).fetchone():
                selected.append(status)
    return str(row[0]), selected


# ---- status on a date ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fj_certified", "fj_renewal_pending"])
def test_the_board_reads_the_status_the_aggregate_reads_on_both_sides_of_the_validity_end(
    name: str, cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger,
    migrated: ConnectionInfo,
) -> None:
    cid = cases[name]
    case, row = _case(ledger, cid), _status_row(views, cid)
    assert case.valid_until is not None
    assert row.lapses_on == case.lapses_on
    for day in (case.valid_until, case.valid_until + timedelta(days=1)):
        expected = case.status_on(day)
        assert status_on(row.status, row.lapses_on, day) == expected
        assert _board_sql(migrated, cid, day) == (expected, [expected])


def test_a_certification_read_on_its_last_valid_day_and_the_next(
    cases: dict[str, UUID], ledger: ClusterLedger, migrated: ConnectionInfo,
) -> None:
    cid = cases["fj_certified"]
    valid_until = _case(ledger, cid).valid_until
    assert valid_until == date(2026, 5, 22)  # FJ Art. 14: three years from 2023-05-22
    assert _board_sql(migrated, cid, valid_until)[0] == "certified"
    assert _board_sql(migrated, cid, valid_until + timedelta(days=1))[0] == EXPIRED
    pending = cases["fj_renewal_pending"]
    assert _board_sql(migrated, pending, valid_until + timedelta(days=1))[0] == "certified"


# ---- annual report due date ------------------------------------------------------------------


def test_the_report_deadline_on_the_board_is_the_due_date_the_command_records(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger,
    migrated: ConnectionInfo,
) -> None:
    cid = cases["fj_certified"]
    deadlines: list[DeadlineRow] = [
        r for r in views["deadlines"].rows() if r.cluster_id == cid and r.kind == "annual_report"
    ]
    (owed,) = deadlines
    year = int(owed.subject)
    case = _case(ledger, cid)
    version = annual_report_rulebook(
        ledger.services.rulebook, ledger.services.programmes.get(Programme.FJ), year,
        case.rulebook_version,
    )
    assert owed.due_on == annual_report_due(version, year) == date(year + 1, 3, 30)
    # Filed on the due day through the command: the case records the same date, in time.
    version_now = ledger.get_cluster(cid).version
    ledger.issue(
        Command.FILE_ANNUAL_REPORT,
        cid,
        meta("county", JINJIANG, owed.due_on),
        version_now,
        year=year,
        figures=AnnualFigures(total_output_yuan=5_000_000_000),
    )
    report = _case(ledger, cid).reports[year]
    assert (report.due_on, report.late) == (owed.due_on, False)
    head = ledger.recorder.max_notification_id()
    assert head is not None
    assert wait_for_position(migrated.url, head, timeout=30)


# ---- entitlement -----------------------------------------------------------------------------


def _entitlement_of(ledger: ClusterLedger, case: CaseState, funding_year: int) -> int | None:
    funding = case.funding[funding_year]
    version = ledger.services.rulebook.in_force(case.dossier.programme, funding.plan_submitted_on)
    return entitlement(version, funding_year, case.assessments.values())


def test_at_the_band_minimum_the_command_the_fold_and_the_reading_say_the_same_amount(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger,
) -> None:
    cid = cases["xm_band_minimum"]
    case = _case(ledger, cid)
    row = _funding_row(views, cid, 2)
    assert case.funding[2].entitlement_fen == YEAR_TWO_AT_80  # recorded by the command
    assert _entitlement_of(ledger, case, 2) == YEAR_TWO_AT_80
    assert (row.entitled_fen, row.entitlement_fixed) == (YEAR_TWO_AT_80, True)


def test_what_remains_on_the_board_is_what_the_command_lets_be_paid(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger,
) -> None:
    cid = cases["xm_band_minimum"]
    funding, row = _case(ledger, cid).funding[2], _funding_row(views, cid, 2)
    remaining = remaining_fen(funding.approved_fen, funding.paid_fen)
    assert row.remaining_fen == remaining == 40_000_000
    assert payment_fits(funding.approved_fen, funding.paid_fen, remaining)
    assert not payment_fits(funding.approved_fen, funding.paid_fen, remaining + 1)
    version = ledger.get_cluster(cid).version
    with pytest.raises(RuleViolation) as refused:
        ledger.issue(
            Command.PAY_SUBSIDY,
            cid,
            meta("city", XIAMEN, date(2026, 6, 1), user_id="city-treasurer"),
            version,
            funding_year=2,
            amount_fen=remaining + 1,
            voucher=f"XM-2026-{cid.hex[:8]}-over",
        )
    assert refused.value.code == "payment_exceeds_approval"
    assert refused.value.details["remaining_fen"] == row.remaining_fen


def test_a_failed_assessment_entitles_to_nothing_on_the_board_and_in_the_command(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger,
) -> None:
    cid = cases["xm_failed"]
    row = _funding_row(views, cid, 2)
    assert _entitlement_of(ledger, _case(ledger, cid), 2) == 0
    assert (row.entitled_fen, row.entitlement_fixed) == (0, False)
    version = ledger.get_cluster(cid).version
    with pytest.raises(RuleViolation) as refused:
        _approve_year_two(ledger, cid, version, 1)
    assert refused.value.code == "approval_exceeds_entitlement"
    assert refused.value.details["entitlement_fen"] == row.entitled_fen


def test_without_a_final_score_the_board_says_not_yet_known_and_the_command_refuses(
    cases: dict[str, UUID], views: dict[str, LedgerView], ledger: ClusterLedger,
) -> None:
    cid = cases["xm_no_final_score"]
    row = _funding_row(views, cid, 2)
    assert _entitlement_of(ledger, _case(ledger, cid), 2) is None
    assert (row.entitled_fen, row.entitlement_fixed) == (None, False)
    version = ledger.get_cluster(cid).version
    with pytest.raises(RuleViolation) as refused:
        _approve_year_two(ledger, cid, version, 1)
    assert refused.value.code == "score_required"
