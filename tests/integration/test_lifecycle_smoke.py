from __future__ import annotations

from datetime import date

from domain.case import Status
from infra.application import ClusterLedger
from tests.factories import FJ_PROVINCE, certified_fj, meta


def test_fj_certification_reaches_certified_with_three_year_validity(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger)
    case = ledger.get_cluster(cid).case
    assert case.status == Status.CERTIFIED
    assert case.valid_until == date(2026, 5, 22)


def test_revocation_records_appeal_deadline_in_working_days(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger)
    ledger.revoke(
        cid,
        meta("province", FJ_PROVINCE, date(2025, 9, 24), user_id="prov-c",
             document_number="闽工信〔2025〕77号", comment="重大安全事故"),
        4, ground="major_incident", received_on=date(2025, 9, 26),
    )
    revocation = ledger.get_cluster(cid).case.revocation
    assert revocation is not None
    assert revocation.appeal_deadline == date(2025, 10, 23)
