"""The applicant withdraws its application before certification is decided (FJ Art. 10:
申报自愿; XM Art. 5: 遵循自愿原则)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.cluster import Cluster
from domain.errors import InvalidInput, WrongState
from domain.status import FINAL_STATUSES, Status
from tests.unit.cluster_steps import (
    fj_applied,
    fj_certified,
    fj_county,
    fj_recommended,
    fj_under_notice,
    refused,
    xm_applied,
    xm_district,
)

REASON = "企业调整发展规划，主动撤回申报"


@pytest.mark.parametrize("build", [fj_applied, fj_recommended, fj_under_notice],
                         ids=["applied", "recommended", "under_notice"])
def test_an_application_is_withdrawn_before_the_decision(build: object) -> None:
    cluster: Cluster = build()  # type: ignore[operator]
    before = cluster.case.status
    cluster.withdraw(fj_county(date(2023, 5, 10), comment=REASON))
    assert cluster.case.status == Status.WITHDRAWN
    assert Status.WITHDRAWN in FINAL_STATUSES
    event = cluster.pending_events[-1]
    assert isinstance(event, Cluster.Withdrawn)
    assert event.status_before == str(before)
    assert event.meta.comment == REASON


def test_an_xm_application_is_withdrawn_by_its_district() -> None:
    cluster = xm_applied()
    cluster.withdraw(xm_district(date(2024, 12, 9), comment=REASON))
    assert cluster.case.status == Status.WITHDRAWN


def test_a_withdrawal_needs_a_reason() -> None:
    cluster = fj_applied()
    refused(cluster, InvalidInput, "reason_required",
            lambda: cluster.withdraw(fj_county(date(2023, 3, 10))))


def test_a_certified_case_cannot_be_withdrawn() -> None:
    cluster = fj_certified()
    refused(cluster, WrongState, "wrong_state",
            lambda: cluster.withdraw(fj_county(date(2023, 6, 1), comment=REASON)))


def test_a_withdrawn_case_cannot_be_withdrawn_again() -> None:
    cluster = fj_applied()
    cluster.withdraw(fj_county(date(2023, 3, 10), comment=REASON))
    refused(cluster, WrongState, "wrong_state",
            lambda: cluster.withdraw(fj_county(date(2023, 3, 11), comment=REASON)))


def test_a_withdrawal_cannot_be_dated_before_the_application() -> None:
    cluster = fj_applied()
    refused(cluster, InvalidInput, "effective_date_before_application",
            lambda: cluster.withdraw(fj_county(date(2023, 2, 1), comment=REASON)))
