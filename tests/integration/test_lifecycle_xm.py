"""The XM lifecycle end to end: MIIT certification recorded, three subsidy years, audit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.commands import Command
from domain.errors import RuleViolation
from domain.facts import AnnualFigures
from infra.application import ClusterLedger
from tests.factories import (
    SIMING,
    XIAMEN,
    certified_xm,
    fund_year_one,
    meta,
    plan_and_approve,
    score_year,
    xm_dossier,
)


def test_xm_case_runs_three_funding_years_by_score_bands(ledger: ClusterLedger) -> None:
    cid = certified_xm(ledger, xm_dossier("厦门市思明区智慧城市智能系统产业集群（全流程）"))
    v = fund_year_one(ledger, cid, 3)
    ledger.issue(
        Command.FILE_ANNUAL_REPORT, cid,
        meta("operating_unit", SIMING, date(2026, 4, 20)),
        v,
        year=2025,
        figures=AnnualFigures(total_output_yuan=15_000_000_000),
    )
    v = score_year(ledger, cid, v + 1, 2025, Decimal("79.99"))
    v = plan_and_approve(
        ledger, cid, v, funding_year=2, amount_fen=40_000_000, submitted_on=date(2026, 4, 13)
    )
    funding = ledger.get_cluster(cid).case.funding[2]
    assert funding.entitlement_fen == 40_000_000  # 70 (incl.)–80 → 400,000 yuan
    assert funding.notice is not None
    with pytest.raises(RuleViolation) as early:
        ledger.issue(
            Command.PAY_SUBSIDY, cid,
            meta("city", XIAMEN, funding.notice.ends_on, user_id="city-t"),
            v,
            funding_year=2,
            amount_fen=40_000_000,
            voucher="XM-2026-Y2",
        )
    assert early.value.code == "notice_not_over"
    ledger.issue(
        Command.PAY_SUBSIDY, cid,
        meta("city", XIAMEN, date(2026, 5, 20), user_id="city-t"),
        v,
        funding_year=2,
        amount_fen=40_000_000,
        voucher="XM-2026-Y2",
    )
    v += 1
    v = score_year(ledger, cid, v, 2026, Decimal(80))
    v = plan_and_approve(
        ledger, cid, v, funding_year=3, amount_fen=40_000_000, submitted_on=date(2027, 4, 12)
    )
    case = ledger.get_cluster(cid).case
    assert case.funding[3].entitlement_fen == 40_000_000  # year 3, ≥80 → 400,000 yuan
    assert case.funding[3].notice is not None
    assert case.funding[3].notice.provisional  # 2027's holiday schedule is not known yet

    ledger.issue(
        Command.RECORD_AUDIT_FINDING, cid,
        meta("city", XIAMEN, date(2027, 6, 1)),
        v,
        summary="招待费列支 1.2 万元",
        amount_questioned_fen=1_200_000,
    )
    ledger.issue(
        Command.CONFIRM_RECTIFICATION,
        cid,
        meta("county", SIMING, date(2027, 7, 1)),
        v + 1,
        number=1,
    )
    ledger.issue(
        Command.CONFIRM_RECTIFICATION, cid, meta("city", XIAMEN, date(2027, 7, 8)), v + 2, number=1
    )
    finding = ledger.get_cluster(cid).case.audit_findings[0]
    assert finding.rectified


def test_failed_assessment_entitles_to_nothing_whatever_the_score(ledger: ClusterLedger) -> None:
    cid = certified_xm(
        ledger, xm_dossier("厦门市海沧区集成电路设计产业集群（考核不通过）", "350205")
    )
    v = plan_and_approve(
        ledger,
        cid,
        3,
        funding_year=1,
        amount_fen=100_000_000,
        submitted_on=date(2025, 2, 10),
        reviewed_on=date(2025, 2, 20),
        approved_on=date(2025, 3, 3),
        county="350205",
        approver="ca",
    )
    ledger.issue(
        Command.SCORE, cid,
        meta("county", "350205", date(2026, 2, 10)),
        v,
        year=2025,
        stage="district_initial",
        score=Decimal(92),
        failure_grounds=("major_incident",),
    )
    ledger.issue(
        Command.SCORE, cid,
        meta("city", XIAMEN, date(2026, 3, 10), user_id="cs"),
        v + 1,
        year=2025,
        stage="city_final",
        score=Decimal(92),
        failure_grounds=("major_incident",),
    )
    v = plan_and_approve(
        ledger,
        cid,
        v + 2,
        funding_year=2,
        amount_fen=60_000_000,
        submitted_on=date(2026, 4, 1),
        reviewed_on=date(2026, 4, 8),
        county="350205",
        approve=False,
    )
    with pytest.raises(RuleViolation) as refused:
        ledger.issue(
            Command.APPROVE_SUBSIDY, cid,
            meta("city", XIAMEN, date(2026, 4, 20), user_id="ca"),
            v,
            funding_year=2,
            amount_fen=60_000_000,
        )
    assert refused.value.code == "approval_exceeds_entitlement"
    assert refused.value.details["entitlement_fen"] == 0


def test_a_voucher_is_never_paid_twice_across_clusters(ledger: ClusterLedger) -> None:
    first = certified_xm(ledger, xm_dossier("厦门市湖里区航空维修产业集群（凭证一）", "350206"))
    second = certified_xm(ledger, xm_dossier("厦门市同安区食品加工产业集群（凭证二）", "350212"))
    for cid, county in ((first, "350206"), (second, "350212")):
        plan_and_approve(
            ledger,
            cid,
            3,
            funding_year=1,
            amount_fen=100_000_000,
            submitted_on=date(2025, 2, 10),
            reviewed_on=date(2025, 2, 20),
            approved_on=date(2025, 3, 3),
            county=county,
            approver="ca",
        )
    ledger.issue(
        Command.PAY_SUBSIDY, first,
        meta("city", XIAMEN, date(2025, 3, 20), user_id="ct"),
        6,
        funding_year=1,
        amount_fen=100_000_000,
        voucher="XMCZ-2025-000123",
    )
    with pytest.raises(RuleViolation) as refused:
        ledger.issue(
            Command.PAY_SUBSIDY, second,
            meta("city", XIAMEN, date(2025, 3, 20), user_id="ct"),
            6,
            funding_year=1,
            amount_fen=100_000_000,
            voucher="XMCZ-2025-000123",
        )
    assert refused.value.code == "voucher_already_paid"
    assert ledger.get_cluster(second).case.funding[1].paid_fen == 0
