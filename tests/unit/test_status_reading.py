"""`domain.status`: the day a certification lapses and the status it reads on a date, with the
last valid day and the day after on both sides."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.status import EXPIRED, FINAL_STATUSES, STATUSES_READ, Status, lapses_on, status_on

VALID_UNTIL = date(2026, 5, 22)
DAY_AFTER = VALID_UNTIL + timedelta(days=1)


def test_a_certification_lapses_the_day_after_its_last_valid_day() -> None:
    assert lapses_on(Status.CERTIFIED, VALID_UNTIL, renewal_pending=False) == DAY_AFTER


def test_a_pending_renewal_keeps_a_certification_from_lapsing() -> None:
    assert lapses_on(Status.CERTIFIED, VALID_UNTIL, renewal_pending=True) is None


@pytest.mark.parametrize("status", [s for s in Status if s != Status.CERTIFIED])
def test_only_a_certified_case_lapses(status: Status) -> None:
    assert lapses_on(status, VALID_UNTIL, renewal_pending=False) is None


def test_a_certified_case_without_a_validity_end_never_lapses() -> None:
    assert lapses_on(Status.CERTIFIED, None, renewal_pending=False) is None


def test_a_validity_to_the_last_representable_day_never_lapses() -> None:
    assert lapses_on(Status.CERTIFIED, date.max, renewal_pending=False) is None


def test_the_last_valid_day_still_reads_certified() -> None:
    lapses = lapses_on(Status.CERTIFIED, VALID_UNTIL, renewal_pending=False)
    assert status_on(Status.CERTIFIED, lapses, VALID_UNTIL) == "certified"


def test_the_day_after_the_last_valid_day_reads_expired() -> None:
    lapses = lapses_on(Status.CERTIFIED, VALID_UNTIL, renewal_pending=False)
    assert status_on(Status.CERTIFIED, lapses, DAY_AFTER) == EXPIRED == "expired"
    assert status_on(Status.CERTIFIED, lapses, date(2030, 1, 1)) == EXPIRED


def test_without_a_lapse_date_the_recorded_status_is_read_on_any_day() -> None:
    for status in Status:
        assert status_on(status, None, date(2099, 1, 1)) == str(status)


def test_final_statuses_are_the_three_that_end_a_case_before_certification() -> None:
    assert {Status.NOT_RECOMMENDED, Status.REJECTED, Status.WITHDRAWN} == FINAL_STATUSES


def test_a_reader_can_see_every_recorded_status_and_expired() -> None:
    assert {*(str(s) for s in Status), "expired"} == STATUSES_READ
    assert EXPIRED not in {str(s) for s in Status}  # read, never recorded
