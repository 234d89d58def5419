"""`domain.readings`: each derived reading the command and the fold share, boundaries on both
sides (the due day and the day after, a band's minimum and just below, no final score, a failed
assessment, paying exactly what remains and one fen more)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from msgspec.structs import replace

from domain.calendar import WorkingDayCalendar
from domain.case import Assessment
from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.money import yuan_to_fen
from domain.readings import (
    annual_report_due,
    annual_report_rulebook,
    appeal_route,
    entitlement,
    entitlement_required,
    in_time,
    payment_fits,
    period_end,
    remaining_fen,
)
from domain.rulebook import PeriodRule, Programme, Rulebook, RulebookVersion, parse_rulebook_version
from infra.rules import load_programmes

RULES = Path(__file__).resolve().parents[2] / "domain" / "rules"


def load(name: str) -> RulebookVersion:
    return parse_rulebook_version((RULES / name).read_bytes(), source_name=name)


XM, FJ = load("xm-2024.toml"), load("fj-2022.toml")
NATIONAL_2022, NATIONAL_2024 = load("national-2022.toml"), load("national-2024.toml")
RULEBOOK = Rulebook((FJ, XM, NATIONAL_2022, NATIONAL_2024))
XM_PROFILE = load_programmes().get(Programme.XM)


def assessed(number: int, final: str | None, *grounds: str, initial: str = "75") -> Assessment:
    return Assessment(
        year=2024 + number, number=number, initial_score=Decimal(initial),
        final_score=None if final is None else Decimal(final), failure_grounds=grounds,
    )


# ---- annual report ---------------------------------------------------------------------------


def test_the_report_is_due_on_the_rulebooks_month_and_day_of_the_following_year() -> None:
    assert annual_report_due(FJ, 2025) == date(2026, 3, 30)  # FJ Art. 15
    assert annual_report_due(XM, 2025) == date(2026, 4, 30)  # XM Art. 9
    assert annual_report_due(NATIONAL_2024, 2025) == date(2026, 3, 31)


def test_a_report_filed_on_the_due_day_is_in_time_and_the_day_after_is_late() -> None:
    due = annual_report_due(XM, 2025)
    assert in_time(due, due)
    assert in_time(due, due - timedelta(days=1))
    assert not in_time(due, due + timedelta(days=1))


def test_the_version_in_force_when_the_year_is_over_sets_the_deadline() -> None:
    # MIIT moved the deadline from April 30 to March 31 from 2024 (national-2024.toml).
    # Before Xiamen's rules, MIIT's measures govern a national cluster in Xiamen.
    for_2022 = annual_report_rulebook(RULEBOOK, XM_PROFILE, 2022, "NATIONAL-2022")
    for_2023 = annual_report_rulebook(RULEBOOK, XM_PROFILE, 2023, "NATIONAL-2022")
    assert for_2022.id == "NATIONAL-2022"
    assert annual_report_due(for_2022, 2022) == date(2023, 4, 30)
    assert for_2023.id == "NATIONAL-2024"
    assert annual_report_due(for_2023, 2023) == date(2024, 3, 31)


def test_xiamens_layer_sets_the_deadline_from_the_first_year_over_after_it() -> None:
    # XM-2024 took effect on 2024-11-25: the report on 2024 falls due under it (April 30).
    version = annual_report_rulebook(RULEBOOK, XM_PROFILE, 2024, "NATIONAL-2022")
    assert version.id == "XM-2024"
    assert annual_report_due(version, 2024) == date(2025, 4, 30)


# ---- entitlement -----------------------------------------------------------------------------


def test_year_one_entitles_to_its_lump_sum_without_any_assessment() -> None:
    assert entitlement(XM, 1, ()) == yuan_to_fen(1_000_000)
    assert entitlement(XM, 1, [assessed(1, "10", "major_incident")]) == yuan_to_fen(1_000_000)


@pytest.mark.parametrize(
    ("score", "yuan"),
    [("80", 600_000), ("79.99", 400_000), ("70", 400_000), ("69.99", 200_000),
     ("60", 200_000), ("59.99", 0), ("100", 600_000), ("0", 0)],
)
def test_year_two_follows_the_first_assessments_band_minimum_included(
    score: str, yuan: int,
) -> None:
    assert entitlement(XM, 2, [assessed(1, score)]) == yuan_to_fen(yuan)


@pytest.mark.parametrize(("score", "yuan"), [("80", 400_000), ("79.99", 300_000),
                                             ("70", 300_000), ("60", 200_000), ("59.99", 0)])
def test_year_three_follows_the_second_assessment(score: str, yuan: int) -> None:
    assessments = [assessed(1, "95"), assessed(2, score)]
    assert entitlement(XM, 3, assessments) == yuan_to_fen(yuan)


def test_without_a_final_score_the_entitlement_is_not_yet_known() -> None:
    assert entitlement(XM, 2, ()) is None
    assert entitlement(XM, 2, [assessed(1, None)]) is None  # the district's score only
    assert entitlement(XM, 3, [assessed(1, "95")]) is None  # year 3 waits for the 2nd


def test_failure_grounds_without_a_final_score_do_not_decide_yet() -> None:
    assert entitlement(XM, 2, [assessed(1, None, "major_incident")]) is None


def test_a_failed_assessment_entitles_to_nothing_whatever_its_score() -> None:
    assert entitlement(XM, 2, [assessed(1, "95", "major_incident")]) == 0
    assert entitlement(XM, 3, [assessed(1, "95"), assessed(2, "80", "false_application")]) == 0


def test_a_year_the_rulebook_does_not_fund_is_refused() -> None:
    with pytest.raises(NotFound) as fj:
        entitlement(FJ, 1, ())
    assert fj.value.code == "no_subsidy_for_year"
    with pytest.raises(NotFound) as fourth:
        entitlement(XM, 4, [assessed(1, "90"), assessed(2, "90"), assessed(3, "90")])
    assert fourth.value.code == "no_subsidy_for_year"


def test_a_final_score_outside_the_scale_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        entitlement(XM, 2, [assessed(1, "100.01")])
    assert error.value.code == "score_out_of_range"


def test_a_command_needing_the_amount_is_refused_until_the_final_score() -> None:
    with pytest.raises(RuleViolation) as error:
        entitlement_required(XM, 2, [assessed(1, None)])
    assert error.value.code == "score_required"
    assert error.value.details == {"funding_year": 2, "by_assessment": 1}


def test_a_command_needing_the_amount_gets_what_the_reading_gives() -> None:
    assert entitlement_required(XM, 1, ()) == yuan_to_fen(1_000_000)
    assert entitlement_required(XM, 2, [assessed(1, "70")]) == yuan_to_fen(400_000)
    assert entitlement_required(XM, 2, [assessed(1, "90", "major_incident")]) == 0


# ---- payments --------------------------------------------------------------------------------


def test_what_remains_is_the_approval_less_what_was_paid() -> None:
    assert remaining_fen(40_000_000, 15_000_000) == 25_000_000
    assert remaining_fen(40_000_000, 40_000_000) == 0


def test_paying_exactly_what_remains_fits_and_one_fen_more_does_not() -> None:
    assert payment_fits(40_000_000, 15_000_000, 25_000_000)
    assert not payment_fits(40_000_000, 15_000_000, 25_000_001)
    assert not payment_fits(0, 0, 1)


# ---- appeals and periods ---------------------------------------------------------------------


def test_fj_revocations_have_an_appeal_route_with_both_periods() -> None:
    route = appeal_route(FJ)
    assert route is not None
    assert (route.rulebook_version, route.period.days, route.reply.days) == ("FJ-2022", 15, 30)


def test_xm_sets_no_appeal_route() -> None:
    assert appeal_route(XM) is None


def test_a_version_with_only_one_of_the_two_periods_has_no_route() -> None:
    assert appeal_route(replace(FJ, appeal_reply=None)) is None
    assert appeal_route(replace(FJ, appeal_period=None)) is None


def test_the_appeal_window_counts_working_days_from_the_day_after_receipt() -> None:
    # DOMAIN.md: received Fri 2025-09-26, appealable until 2025-10-23 (make-up working days
    # Sun 09-28 and Sat 10-11; the National Day holiday 10-01..10-08 not counted).
    route = appeal_route(FJ)
    assert route is not None
    window = period_end(WorkingDayCalendar(), date(2025, 9, 26), route.period)
    assert (window.due, window.provisional) == (date(2025, 10, 23), False)
    assert in_time(window.due, date(2025, 10, 23))
    assert not in_time(window.due, date(2025, 10, 24))


def test_a_period_that_counts_its_trigger_day_ends_a_day_earlier() -> None:
    calendar = WorkingDayCalendar()
    rule = PeriodRule(days=5, working_days=True, count_trigger_day=True)
    later = replace(rule, count_trigger_day=False)
    # Mon 2025-06-09: Mon..Fri counted from the day itself, Tue..Mon from the next day.
    assert period_end(calendar, date(2025, 6, 9), rule).due == date(2025, 6, 13)
    assert period_end(calendar, date(2025, 6, 9), later).due == date(2025, 6, 16)


def test_a_calendar_day_period_ending_on_a_rest_day_moves_to_the_next_working_day() -> None:
    rule = PeriodRule(days=5, working_days=False)
    # From Mon 2025-06-09: the 5th day is Sat 06-14; the next working day is Mon 06-16.
    assert period_end(WorkingDayCalendar(), date(2025, 6, 9), rule).due == date(2025, 6, 16)
