"""The FJ lifecycle end to end through the ClusterLedger application and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from domain.case import Status
from domain.commands import Command
from domain.errors import RuleViolation
from domain.facts import AnnualFigures, AppealOutcome, ChangeKind, Ground
from infra.application import ClusterLedger
from tests.factories import FJ_PROVINCE, JINJIANG, QUANZHOU, fj_dossier, meta


def test_fj_case_from_application_to_appeal_overturned(ledger: ClusterLedger) -> None:
    dossier = fj_dossier("晋江市运动鞋原辅材料产业集群（全流程）")
    cid = ledger.issue(
        Command.APPLY, None, meta("county", JINJIANG, date(2023, 3, 1)), None, dossier=dossier
    ).cluster_id
    ledger.issue(
        Command.RECOMMEND, cid, meta("city", QUANZHOU, date(2023, 4, 3)), 1, onsite_verified=True
    )
    ledger.issue(
        Command.SHORTLIST, cid, meta("province", FJ_PROVINCE, date(2023, 5, 4), user_id="prov-a"), 2
    )
    notice = ledger.get_cluster(cid).case.notice
    assert notice is not None
    assert notice.ends_on == date(
        2023, 5, 9
    )  # 5 working days counting 4 May; 6 May was a make-up day

    ledger.issue(
        Command.RAISE_OBJECTION, cid,
        meta("province", FJ_PROVINCE, date(2023, 5, 8), user_id="prov-a"),
        3,
        subject="certification",
        summary="群众来信反映产值数据重复统计",
    )
    with pytest.raises(RuleViolation) as blocked:
        ledger.issue(
            Command.CERTIFY, cid,
            meta(
                "province",
                FJ_PROVINCE,
                date(2023, 5, 22),
                user_id="prov-b",
                document_number="闽工信函〔2023〕1号",
            ),
            4,
        )
    assert blocked.value.code == "objection_open"
    ledger.issue(
        Command.RESOLVE_OBJECTION, cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2023, 5, 15),
            user_id="prov-a",
            comment="经核实，数据无重复统计",
        ),
        4,
        number=1,
        upheld=False,
    )
    ledger.issue(
        Command.CERTIFY, cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2023, 5, 22),
            user_id="prov-b",
            document_number="闽工信函〔2023〕1号",
        ),
        5,
    )
    case = ledger.get_cluster(cid).case
    assert (case.status, case.certified_on, case.valid_until) == (
        Status.CERTIFIED,
        date(2023, 5, 22),
        date(2026, 5, 22),
    )

    ledger.issue(
        Command.FILE_ANNUAL_REPORT, cid,
        meta("city", QUANZHOU, date(2024, 3, 29)),
        6,
        year=2023,
        figures=AnnualFigures(total_output_yuan=5_300_000_000),
    )
    ledger.issue(
        Command.FILE_ANNUAL_REPORT, cid,
        meta("city", QUANZHOU, date(2025, 4, 2)),
        7,
        year=2024,
        figures=AnnualFigures(total_output_yuan=5_600_000_000),
    )
    reports = ledger.get_cluster(cid).case.reports
    assert (reports[2023].late, reports[2024].late) == (False, True)  # due 30 March
    ledger.issue(
        Command.REPORT_MAJOR_CHANGE, cid,
        meta("county", JINJIANG, date(2025, 6, 1)),
        8,
        kind=ChangeKind.LEADING_INDUSTRY,
        new_value="运动鞋服新材料",
    )

    ledger.issue(
        Command.REVOKE, cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2025, 9, 24),
            user_id="prov-c",
            document_number="闽工信〔2025〕77号",
            comment="未及时报送年度信息表",
        ),
        9,
        ground=Ground.ANNUAL_REPORT_MISSING,
        received_on=date(2025, 9, 26),
    )
    ledger.issue(
        Command.APPEAL, cid, meta("county", JINJIANG, date(2025, 10, 23), comment="已按时报送"), 10
    )
    appeal = ledger.get_cluster(cid).case.appeal
    assert appeal is not None
    assert appeal.reply_due == date(2025, 12, 4)  # 30 working days counted from 24 October
    ledger.issue(
        Command.DECIDE_APPEAL, cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2025, 11, 20),
            user_id="prov-d",
            comment="复核：撤销依据不足",
        ),
        11,
        outcome=AppealOutcome.OVERTURNED,
    )
    case = ledger.get_cluster(cid).case
    assert case.status == Status.CERTIFIED
    assert case.valid_until == date(2026, 5, 22)  # original validity
    assert case.dossier.leading_industry == "运动鞋服新材料"


def test_fj_renewal_passes_and_extends_validity_by_three_years(ledger: ClusterLedger) -> None:
    from tests.factories import certified_fj

    cid = certified_fj(ledger)
    ledger.issue(Command.REQUEST_RENEWAL, cid, meta("county", JINJIANG, date(2026, 5, 30)), 4)
    assert ledger.get_cluster(cid).case.status_on(date(2026, 6, 1)) == "certified"
    ledger.issue(
        Command.DECIDE_RENEWAL, cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2026, 7, 1),
            user_id="prov-r",
            document_number="闽工信〔2026〕5号",
        ),
        5,
        passed=True,
        plan_targets_met=True,
    )
    assert ledger.get_cluster(cid).case.valid_until == date(2029, 5, 22)


def test_fj_expired_case_can_be_revoked_on_ground_one(ledger: ClusterLedger) -> None:
    from tests.factories import certified_fj

    cid = certified_fj(ledger)
    assert ledger.get_cluster(cid).case.status_on(date(2026, 5, 23)) == "expired"
    ledger.issue(
        Command.REVOKE, cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2026, 6, 1),
            user_id="prov-c",
            document_number="闽工信〔2026〕8号",
            comment="有效期满未申请复核",
        ),
        4,
        ground=Ground.EXPIRED_WITHOUT_RENEWAL,
        received_on=date(2026, 6, 3),
    )
    assert ledger.get_cluster(cid).case.status == Status.REVOKED
