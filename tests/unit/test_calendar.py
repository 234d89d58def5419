"""Working-day calendar: the DOMAIN.md examples, provisional years, and administrator overrides."""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import DayOverride, Deadline, WorkingDayCalendar
from domain.errors import InvalidInput

NEW_YEAR_2027 = DayOverride(day=date(2027, 1, 1), working=False, note="元旦")


@pytest.fixture
def cal() -> WorkingDayCalendar:
    return WorkingDayCalendar()


# --- the official schedule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 28), True),  # Sunday, make-up working day (调休)
        (date(2025, 10, 11), True),  # Saturday, make-up working day
        (date(2025, 10, 1), False),  # National Day
        (date(2025, 10, 8), False),  # last day of the Golden Week
        (date(2025, 10, 9), True),  # ordinary Thursday
        (date(2025, 10, 12), False),  # ordinary Sunday
    ],
)
def test_is_working_day_follows_state_council_schedule_with_make_up_days(
    cal: WorkingDayCalendar, day: date, working: bool
) -> None:
    assert cal.is_working_day(day) is working


def test_unknown_year_falls_back_to_monday_to_friday(cal: WorkingDayCalendar) -> None:
    assert cal.is_working_day(date(2027, 1, 1))  # a Friday; surely 元旦, but the data lacks 2027
    assert not cal.is_working_day(date(2027, 1, 2))  # a Saturday


@pytest.mark.parametrize(
    ("year", "known"), [(2003, False), (2004, True), (2026, True), (2027, False)]
)
def test_knows_year_matches_packaged_schedule_range(
    cal: WorkingDayCalendar, year: int, known: bool
) -> None:
    assert cal.knows_year(year) is known


def test_knows_year_when_administrator_declares_it_official() -> None:
    assert WorkingDayCalendar(official_years=[2027]).knows_year(2027)


# --- working-day periods -----------------------------------------------------------------------


def test_appeal_period_of_15_working_days_from_revocation_on_2025_09_26_ends_2025_10_23(
    cal: WorkingDayCalendar,
) -> None:
    assert cal.add_working_days(date(2025, 9, 26), 15) == Deadline(
        due=date(2025, 10, 23), provisional=False
    )


def test_miit_public_notice_counting_publication_day_2023_09_28_ends_2023_10_10(
    cal: WorkingDayCalendar,
) -> None:
    # Counted: Sep 28, Oct 7 (Sat, 调休), Oct 8 (Sun, 调休), Oct 9, Oct 10.
    deadline = cal.add_working_days(date(2023, 9, 28), 5, count_trigger_day=True)

    assert deadline == Deadline(due=date(2023, 10, 10), provisional=False)


def test_counting_trigger_day_skips_it_when_it_is_not_a_working_day(
    cal: WorkingDayCalendar,
) -> None:
    deadline = cal.add_working_days(date(2023, 10, 1), 1, count_trigger_day=True)

    assert deadline.due == date(2023, 10, 7)  # first working day after the National Day break


def test_reply_period_of_30_working_days_within_a_known_year(cal: WorkingDayCalendar) -> None:
    assert cal.add_working_days(date(2025, 10, 23), 30) == Deadline(
        due=date(2025, 12, 4), provisional=False
    )


def test_reply_period_reaching_unknown_year_is_provisional_and_lists_it(
    cal: WorkingDayCalendar,
) -> None:
    # Guessed with 2027-01-01 as a working day, which it will almost certainly not be.
    assert cal.add_working_days(date(2026, 12, 10), 30) == Deadline(
        due=date(2027, 1, 21), provisional=True, unknown_years=(2027,)
    )


def test_period_spanning_several_unknown_years_lists_them_sorted(
    cal: WorkingDayCalendar,
) -> None:
    deadline = cal.add_working_days(date(2027, 12, 20), 30)

    assert deadline.unknown_years == (2027, 2028)


def test_official_schedule_entered_by_administrator_makes_deadline_final_and_moves_it() -> None:
    cal = WorkingDayCalendar(overrides=[NEW_YEAR_2027], official_years=[2027])

    assert cal.add_working_days(date(2026, 12, 10), 30) == Deadline(
        due=date(2027, 1, 22), provisional=False
    )


def test_override_without_declaring_year_official_stays_provisional() -> None:
    cal = WorkingDayCalendar(overrides=[NEW_YEAR_2027])

    deadline = cal.add_working_days(date(2026, 12, 10), 30)

    assert deadline == Deadline(due=date(2027, 1, 22), provisional=True, unknown_years=(2027,))


def test_override_turns_a_weekend_into_a_working_day() -> None:
    saturday = date(2025, 9, 27)
    cal = WorkingDayCalendar(overrides=[DayOverride(day=saturday, working=True)])

    assert cal.is_working_day(saturday)


def test_weekend_override_shortens_the_appeal_deadline_by_one_day() -> None:
    cal = WorkingDayCalendar(overrides=[DayOverride(day=date(2025, 9, 27), working=True)])

    assert cal.add_working_days(date(2025, 9, 26), 15).due == date(2025, 10, 22)


def test_override_turns_a_scheduled_working_day_into_a_holiday() -> None:
    make_up_sunday = date(2025, 9, 28)
    cal = WorkingDayCalendar(overrides=[DayOverride(day=make_up_sunday, working=False)])

    assert not cal.is_working_day(make_up_sunday)


def test_identical_duplicate_overrides_are_accepted() -> None:
    cal = WorkingDayCalendar(overrides=[NEW_YEAR_2027, NEW_YEAR_2027])

    assert not cal.is_working_day(date(2027, 1, 1))


def test_contradictory_overrides_for_one_day_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        WorkingDayCalendar(
            overrides=[NEW_YEAR_2027, DayOverride(day=date(2027, 1, 1), working=True)]
        )

    assert caught.value.code == "conflicting_day_override"


def test_period_of_one_working_day_is_the_next_working_day(cal: WorkingDayCalendar) -> None:
    assert cal.add_working_days(date(2025, 9, 30), 1).due == date(2025, 10, 9)


@pytest.mark.parametrize("days", [0, -1])
def test_working_day_period_shorter_than_one_day_is_invalid(
    cal: WorkingDayCalendar, days: int
) -> None:
    with pytest.raises(InvalidInput) as caught:
        cal.add_working_days(date(2025, 9, 26), days)

    assert caught.value.code == "invalid_period"


# --- calendar-day periods ----------------------------------------------------------------------


def test_calendar_day_period_starts_the_day_after_the_trigger(cal: WorkingDayCalendar) -> None:
    assert cal.add_calendar_days(date(2025, 9, 1), 10) == Deadline(
        due=date(2025, 9, 11), provisional=False
    )


def test_calendar_day_period_counting_trigger_day_ends_a_day_earlier(
    cal: WorkingDayCalendar,
) -> None:
    assert cal.add_calendar_days(date(2025, 9, 1), 10, count_trigger_day=True).due == date(
        2025, 9, 10
    )


def test_calendar_day_period_ending_on_a_holiday_moves_to_next_working_day(
    cal: WorkingDayCalendar,
) -> None:
    # Civil Code Art. 203: the nominal last day, 2025-10-01, falls in the National Day break.
    assert cal.add_calendar_days(date(2025, 9, 21), 10).due == date(2025, 10, 9)


def test_calendar_day_period_ending_in_unknown_year_is_provisional(
    cal: WorkingDayCalendar,
) -> None:
    assert cal.add_calendar_days(date(2026, 12, 22), 10) == Deadline(
        due=date(2027, 1, 1), provisional=True, unknown_years=(2027,)
    )


def test_calendar_day_period_shorter_than_one_day_is_invalid(cal: WorkingDayCalendar) -> None:
    with pytest.raises(InvalidInput) as caught:
        cal.add_calendar_days(date(2025, 9, 26), 0)

    assert caught.value.code == "invalid_period"


# --- counting elapsed working days -------------------------------------------------------------


def test_working_days_between_excludes_start_and_includes_end(cal: WorkingDayCalendar) -> None:
    assert cal.working_days_between(date(2025, 9, 26), date(2025, 10, 23)) == 15


def test_working_days_between_is_zero_when_end_is_not_after_start(
    cal: WorkingDayCalendar,
) -> None:
    assert cal.working_days_between(date(2025, 10, 23), date(2025, 10, 23)) == 0
    assert cal.working_days_between(date(2025, 10, 23), date(2025, 9, 26)) == 0
