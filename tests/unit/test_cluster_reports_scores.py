"""Cluster aggregate: annual reports (FJ Art. 15 by March 30; XM Art. 9 by April 30) and the XM
annual assessment, district initial score then city final score, 0–100 (XM Art. 10, 13).
Pure: no database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.case import Status
from domain.cluster import Cluster
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import Ground, ScoreStage
from tests.factories import SIMING, XIAMEN, meta
from tests.unit.cluster_steps import (
    FJ_CERTIFIED_ON,
    file_report,
    fj_certified,
    fj_recommended,
    fj_revoked,
    last_event,
    profile_of,
    refused,
    score,
    xm_certified,
    xm_recommended,
    xm_rules,
)

INITIAL, FINAL = ScoreStage.DISTRICT_INITIAL, ScoreStage.CITY_FINAL
FJ_DUE_2023 = date(2024, 3, 30)  # FJ Art. 15: by March 30 for the previous year
XM_DUE_2025 = date(2026, 4, 30)  # XM Art. 9: by April 30 for the previous year


def initial_scored(value: str = "78.5") -> Cluster:
    cluster = xm_certified()
    score(cluster, 2025, INITIAL, value)
    return cluster


# ---- annual reports -------------------------------------------------------------------------


def test_annual_report_filed_on_the_due_day_is_on_time() -> None:
    cluster = fj_certified()
    file_report(cluster, 2023, FJ_DUE_2023)
    report = cluster.case.reports[2023]
    assert (report.filed_on, report.due_on, report.late) == (FJ_DUE_2023, FJ_DUE_2023, False)


def test_annual_report_filed_the_day_after_the_due_day_is_recorded_late() -> None:
    cluster = fj_certified()
    file_report(cluster, 2023, FJ_DUE_2023 + timedelta(days=1))
    assert cluster.case.reports[2023].late is True


def test_annual_report_due_date_follows_the_programme() -> None:
    cluster = xm_certified()
    file_report(cluster, 2025, XM_DUE_2025)
    event = last_event(cluster)
    assert isinstance(event, Cluster.AnnualReportFiled)
    assert (event.due_on, event.late, event.rulebook_version) == (XM_DUE_2025, False, "XM-2024")


def test_annual_report_refuses_a_year_already_filed() -> None:
    cluster = fj_certified()
    file_report(cluster, 2023, date(2024, 3, 1))
    error = refused(cluster, RuleViolation, "annual_report_already_filed",
                    lambda: file_report(cluster, 2023, date(2024, 3, 2)))
    assert error.details["year"] == 2023


def test_annual_report_accepts_the_next_year_after_one_was_filed() -> None:
    cluster = fj_certified()
    file_report(cluster, 2023, date(2024, 3, 1))
    file_report(cluster, 2024, date(2025, 3, 1))
    assert sorted(cluster.case.reports) == [2023, 2024]


def test_annual_report_refuses_a_year_before_certification() -> None:
    cluster = fj_certified()
    refused(cluster, RuleViolation, "annual_report_before_certification",
            lambda: file_report(cluster, FJ_CERTIFIED_ON.year - 1, date(2024, 3, 1)))


def test_annual_report_accepts_the_year_of_certification() -> None:
    cluster = fj_certified()
    file_report(cluster, FJ_CERTIFIED_ON.year, date(2024, 1, 2))
    assert FJ_CERTIFIED_ON.year in cluster.case.reports


def test_annual_report_refuses_the_current_year() -> None:
    cluster = fj_certified()
    refused(cluster, RuleViolation, "annual_report_year_not_over",
            lambda: file_report(cluster, 2024, date(2024, 12, 31)))


def test_annual_report_accepts_a_year_from_the_first_day_after_it() -> None:
    cluster = fj_certified()
    file_report(cluster, 2024, date(2025, 1, 1))
    assert 2024 in cluster.case.reports


def test_annual_report_refuses_a_case_not_yet_certified() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "wrong_state",
            lambda: file_report(cluster, 2023, date(2024, 3, 1), due_on=FJ_DUE_2023))


def test_annual_report_refuses_a_revoked_case() -> None:
    cluster = fj_revoked()
    refused(cluster, WrongState, "wrong_state",
            lambda: file_report(cluster, 2025, date(2026, 3, 1)))


# ---- scores: who scores, in which order ----------------------------------------------------


def test_district_initial_score_opens_the_first_assessment() -> None:
    cluster = initial_scored("78.5")
    assessment = cluster.case.assessments[2025]
    assert (assessment.number, assessment.initial_score) == (1, Decimal("78.5"))
    assert assessment.final_score is None


def test_city_final_score_completes_the_assessment() -> None:
    cluster = initial_scored("78.5")
    score(cluster, 2025, FINAL, "81")
    assessment = cluster.case.assessments[2025]
    assert assessment.final_score == Decimal(81)


def test_scored_event_records_stage_score_and_rulebook_version() -> None:
    cluster = initial_scored("78.5")
    event = last_event(cluster)
    assert isinstance(event, Cluster.Scored)
    assert (event.stage, event.score, event.rulebook_version) == (
        INITIAL, Decimal("78.5"), "XM-2024"
    )


def test_initial_score_refuses_a_city_user() -> None:
    cluster = xm_certified()
    who = meta("city", XIAMEN, date(2026, 2, 10))
    rules = xm_rules()
    refused(cluster, RuleViolation, "initial_score_by_district",
            lambda: cluster.score(who, 2025, INITIAL, Decimal(80), (),
                                  (rules.score_min, rules.score_max), rules.id,
                                      profile=profile_of(cluster),
                                      first_assessed_year=rules.assessment_first_year))


def test_final_score_refuses_a_district_user() -> None:
    cluster = initial_scored()
    who = meta("county", SIMING, date(2026, 3, 10), user_id="district-reviewer-2")
    rules = xm_rules()
    refused(cluster, RuleViolation, "final_score_by_city",
            lambda: cluster.score(who, 2025, FINAL, Decimal(80), (),
                                  (rules.score_min, rules.score_max), rules.id,
                                      profile=profile_of(cluster),
                                      first_assessed_year=rules.assessment_first_year))


def test_final_score_refuses_before_the_district_scored() -> None:
    cluster = xm_certified()
    refused(cluster, WrongState, "initial_score_missing",
            lambda: score(cluster, 2025, FINAL, "80"))


def test_final_score_refuses_the_user_who_gave_the_initial_score() -> None:
    cluster = xm_certified()
    score(cluster, 2025, INITIAL, "80", user_id="same-person")
    refused(cluster, RuleViolation, "four_eyes",
            lambda: score(cluster, 2025, FINAL, "80", user_id="same-person"))


def test_initial_score_refuses_a_second_initial_score() -> None:
    cluster = initial_scored()
    refused(cluster, RuleViolation, "score_already_recorded",
            lambda: score(cluster, 2025, INITIAL, "90"))


def test_final_score_refuses_a_second_final_score() -> None:
    cluster = initial_scored()
    score(cluster, 2025, FINAL, "80")
    refused(cluster, RuleViolation, "score_already_recorded",
            lambda: score(cluster, 2025, FINAL, "90"))


def test_score_refuses_a_case_not_yet_certified() -> None:
    cluster = xm_recommended()
    refused(cluster, WrongState, "wrong_state", lambda: score(cluster, 2025, INITIAL, "80"))


def test_score_refuses_a_revoked_case() -> None:
    cluster = fj_revoked()
    refused(cluster, WrongState, "wrong_state", lambda: score(cluster, 2025, INITIAL, "80"))


def test_second_year_scored_is_the_second_assessment() -> None:
    cluster = initial_scored()
    score(cluster, 2025, FINAL, "80")
    score(cluster, 2026, INITIAL, "70")
    assert cluster.case.assessments[2026].number == 2


# ---- scores: range and precision (XM Art. 13: 满分100分) ---------------------------------


@pytest.mark.parametrize("value", ["0", "100", "0.00", "59.99", "99.99"])
def test_score_accepts_values_within_zero_to_one_hundred(value: str) -> None:
    cluster = xm_certified()
    score(cluster, 2025, INITIAL, value)
    assert cluster.case.assessments[2025].initial_score == Decimal(value)


@pytest.mark.parametrize("value", ["-0.01", "100.01", "-1", "101"])
def test_score_refuses_values_outside_zero_to_one_hundred(value: str) -> None:
    cluster = xm_certified()
    error = refused(cluster, InvalidInput, "score_out_of_range",
                    lambda: score(cluster, 2025, INITIAL, value))
    assert error.details["score"] == value


def test_final_score_refuses_values_outside_the_range_too() -> None:
    cluster = initial_scored()
    refused(cluster, InvalidInput, "score_out_of_range",
            lambda: score(cluster, 2025, FINAL, "100.01"))


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_score_refuses_values_that_are_not_finite_numbers(value: str) -> None:
    cluster = xm_certified()
    refused(cluster, InvalidInput, "score_out_of_range",
            lambda: score(cluster, 2025, INITIAL, value))


@pytest.mark.parametrize("value", ["79.999", "80.001", "80.000"])
def test_score_refuses_three_decimals(value: str) -> None:
    cluster = xm_certified()
    refused(cluster, InvalidInput, "score_precision",
            lambda: score(cluster, 2025, INITIAL, value))


def test_score_accepts_two_decimals() -> None:
    cluster = xm_certified()
    score(cluster, 2025, INITIAL, "79.99")
    assert cluster.case.assessments[2025].initial_score == Decimal("79.99")


# ---- failure grounds and corrections --------------------------------------------------------


def test_score_with_a_failure_ground_fails_the_assessment_whatever_the_score() -> None:
    cluster = initial_scored("95")
    score(cluster, 2025, FINAL, "95", failure_grounds=(Ground.ANNUAL_REPORT_MISSING,))
    assessment = cluster.case.assessments[2025]
    assert assessment.failed
    assert assessment.failure_grounds == ("annual_report_missing",)


def test_score_without_failure_grounds_passes_the_assessment() -> None:
    cluster = initial_scored("55")
    score(cluster, 2025, FINAL, "55")
    assert not cluster.case.assessments[2025].failed


def test_correction_replaces_the_final_score_and_counts_the_correction() -> None:
    cluster = initial_scored()
    score(cluster, 2025, FINAL, "69.5")
    score(cluster, 2025, FINAL, "70", correction=True, comment="复核计分错误更正")
    assessment = cluster.case.assessments[2025]
    assert (assessment.final_score, assessment.corrections) == (Decimal(70), 1)


def test_correction_of_the_initial_score_is_accepted_with_a_reason() -> None:
    cluster = initial_scored("60")
    score(cluster, 2025, INITIAL, "65", correction=True, comment="漏计知识产权增量")
    assert cluster.case.assessments[2025].initial_score == Decimal(65)


def test_correction_refuses_without_a_reason() -> None:
    cluster = initial_scored()
    score(cluster, 2025, FINAL, "69.5")
    refused(cluster, InvalidInput, "reason_required",
            lambda: score(cluster, 2025, FINAL, "70", correction=True))


def test_correction_refuses_when_there_is_no_score_to_correct() -> None:
    cluster = xm_certified()
    refused(cluster, WrongState, "nothing_to_correct",
            lambda: score(cluster, 2025, INITIAL, "70", correction=True, comment="更正"))


def test_correction_of_a_final_score_refuses_when_only_the_initial_exists() -> None:
    cluster = initial_scored()
    refused(cluster, WrongState, "nothing_to_correct",
            lambda: score(cluster, 2025, FINAL, "70", correction=True, comment="更正"))


# ---- the assessed year ------------------------------------------------------------------------


def test_score_refuses_a_year_before_certification() -> None:
    cluster = xm_certified()  # certified 2025-01-20
    refused(cluster, RuleViolation, "assessment_before_certification",
            lambda: score(cluster, 2024, INITIAL, "80", on=date(2025, 2, 10)))


def test_score_refuses_a_year_that_is_not_over() -> None:
    cluster = xm_certified()
    refused(cluster, RuleViolation, "assessment_year_not_over",
            lambda: score(cluster, 2025, INITIAL, "80", on=date(2025, 12, 31)))


def test_score_accepts_a_year_from_the_first_day_after_it() -> None:
    cluster = xm_certified()
    score(cluster, 2025, INITIAL, "80", on=date(2026, 1, 1))
    assert cluster.case.status == Status.CERTIFIED
