"""Cluster aggregate: the third-party special audit of fund use (XM Art. 16) and rectification
until both the city and the district confirm it (XM Art. 17). Pure: no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from domain.cluster import Cluster
from domain.errors import InvalidInput, WrongState
from tests.factories import SIMING, meta
from tests.unit.cluster_steps import last_event, refused, xm_approved, xm_city, xm_paid

AUDITED_ON = date(2028, 3, 1)


def find(
    cluster: Cluster, summary: str = "品牌建设费用超出计划", amount_fen: int = 1_250_000
) -> int:
    return cluster.record_audit_finding(
        xm_city(AUDITED_ON, user_id="city-audit-desk"), summary, amount_fen
    )


def confirm_by_city(cluster: Cluster, number: int, on: date = date(2028, 6, 1)) -> None:
    cluster.confirm_rectification(xm_city(on, user_id="city-inspector"), number)


def confirm_by_district(cluster: Cluster, number: int, on: date = date(2028, 6, 3)) -> None:
    cluster.confirm_rectification(meta("county", SIMING, on), number)


def test_record_audit_finding_numbers_findings_in_order() -> None:
    cluster = xm_paid()
    assert find(cluster) == 1
    assert find(cluster, "台账不全", 0) == 2
    assert [f.number for f in cluster.case.audit_findings] == [1, 2]


def test_record_audit_finding_records_the_amount_questioned() -> None:
    cluster = xm_paid()
    find(cluster, amount_fen=1_250_000)
    event = last_event(cluster)
    assert isinstance(event, Cluster.AuditFindingRecorded)
    assert event.amount_questioned_fen == 1_250_000
    assert cluster.case.audit_findings[0].recorded_on == AUDITED_ON


def test_record_audit_finding_refuses_a_case_with_nothing_paid() -> None:
    cluster = xm_approved()
    refused(cluster, WrongState, "nothing_paid", lambda: find(cluster))


def test_record_audit_finding_refuses_a_blank_summary() -> None:
    cluster = xm_paid()
    refused(cluster, InvalidInput, "summary_required", lambda: find(cluster, summary="  "))


def test_record_audit_finding_refuses_a_negative_amount() -> None:
    cluster = xm_paid()
    refused(cluster, InvalidInput, "amount_negative", lambda: find(cluster, amount_fen=-1))


def test_record_audit_finding_accepts_a_finding_without_amount() -> None:
    cluster = xm_paid()
    find(cluster, amount_fen=0)
    assert cluster.case.audit_findings[0].amount_questioned_fen == 0


def test_rectification_confirmed_by_the_city_alone_is_not_complete() -> None:
    cluster = xm_paid()
    number = find(cluster)
    confirm_by_city(cluster, number)
    finding = cluster.case.audit_findings[0]
    assert finding.city_confirmed_on == date(2028, 6, 1)
    assert not finding.rectified


def test_rectification_confirmed_by_the_district_alone_is_not_complete() -> None:
    cluster = xm_paid()
    number = find(cluster)
    confirm_by_district(cluster, number)
    assert not cluster.case.audit_findings[0].rectified


def test_rectification_confirmed_by_city_and_district_is_complete() -> None:
    cluster = xm_paid()
    number = find(cluster)
    confirm_by_district(cluster, number)
    confirm_by_city(cluster, number)
    assert cluster.case.audit_findings[0].rectified


def test_rectification_confirmed_event_records_the_level() -> None:
    cluster = xm_paid()
    confirm_by_district(cluster, find(cluster))
    event = last_event(cluster)
    assert isinstance(event, Cluster.RectificationConfirmed)
    assert event.level == "county"


def test_confirm_rectification_refuses_an_unknown_finding() -> None:
    cluster = xm_paid()
    find(cluster)
    refused(cluster, InvalidInput, "unknown_audit_finding", lambda: confirm_by_city(cluster, 2))


@pytest.mark.parametrize(
    "confirm", [confirm_by_city, confirm_by_district], ids=["city", "district"]
)
def test_confirm_rectification_refuses_a_second_confirmation_at_the_same_level(
    confirm: Callable[[Cluster, int], None],
) -> None:
    cluster = xm_paid()
    number = find(cluster)
    confirm(cluster, number)
    refused(cluster, WrongState, "rectification_already_confirmed",
            lambda: confirm(cluster, number))


def test_confirm_rectification_of_one_finding_leaves_the_others_open() -> None:
    cluster = xm_paid()
    first, second = find(cluster), find(cluster, "台账不全", 0)
    confirm_by_city(cluster, first)
    confirm_by_district(cluster, first)
    assert [f.rectified for f in cluster.case.audit_findings] == [True, False]
    assert second == 2
