"""Cluster aggregate: the XM city subsidy (XM Art. 13–15): fund-use plan, district initial
review, city approval with a 5-working-day notice, disbursement against a voucher. Money in fen.
Pure: no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.case import Notice
from domain.cluster import Cluster, subsidy_subject
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import PlanLine, ScoreStage
from tests.factories import SIMING, meta
from tests.unit.cluster_steps import (
    CITY_APPROVER,
    PLAN_REVIEWED_ON,
    SUBSIDY_APPROVED_ON,
    SUBSIDY_NOTICE_ENDS,
    SUBSIDY_PAID_ON,
    YEAR_ONE_FEN,
    approve,
    fj_revoked,
    last_event,
    pay,
    refused,
    review_plan,
    revoke,
    score,
    submit_plan,
    subsidy_notice,
    xm_approved,
    xm_certified,
    xm_city,
    xm_paid,
    xm_plan_reviewed,
    xm_plan_submitted,
    xm_recommended,
    xm_rules,
)

VOUCHER = "XM-2025-0001"


def line(category: str = "brand_building", amount_fen: int = 1) -> PlanLine:
    return PlanLine(category=category, amount_fen=amount_fen, description="品牌推广")


def object_to_subsidy(cluster: Cluster, on: date = SUBSIDY_APPROVED_ON) -> int:
    return cluster.raise_objection(xm_city(on, user_id="city-notice"), subsidy_subject(1),
                                   "运营单位存在违规")


def approve_with(cluster: Cluster, amount_fen: int, entitlement_fen: int,
                 user_id: str = CITY_APPROVER) -> None:
    cluster.approve_subsidy(
        xm_city(SUBSIDY_APPROVED_ON, user_id=user_id), 1, amount_fen, entitlement_fen,
        subsidy_notice(), xm_rules().id,
    )


def paid_for_year_two(final_score: str) -> Cluster:
    """Year 1 paid; the 1st assessment's final score recorded; the year-2 plan reviewed."""
    cluster = xm_paid()
    score(cluster, 2025, ScoreStage.DISTRICT_INITIAL, final_score)
    score(cluster, 2025, ScoreStage.CITY_FINAL, final_score)
    submit_plan(cluster, 2, 60_000_000, on=date(2026, 3, 20))
    review_plan(cluster, 2, on=date(2026, 3, 25))
    return cluster


# ---- fund-use plan --------------------------------------------------------------------------


def test_submit_fund_use_plan_records_the_requested_total() -> None:
    cluster = xm_plan_submitted()
    funding = cluster.case.funding[1]
    assert funding.requested_fen == YEAR_ONE_FEN
    assert sum(line.amount_fen for line in funding.plan_lines) == YEAR_ONE_FEN


def test_submit_fund_use_plan_refuses_a_case_not_yet_certified() -> None:
    cluster = xm_recommended()
    refused(cluster, WrongState, "wrong_state", lambda: submit_plan(cluster))


def test_submit_fund_use_plan_refuses_a_revoked_case() -> None:
    cluster = fj_revoked()
    refused(cluster, WrongState, "wrong_state", lambda: submit_plan(cluster))


@pytest.mark.parametrize("funding_year", [0, 4])
def test_submit_fund_use_plan_refuses_a_year_outside_one_to_three(funding_year: int) -> None:
    cluster = xm_certified()
    refused(cluster, InvalidInput, "funding_year_out_of_range",
            lambda: submit_plan(cluster, funding_year))


def test_submit_fund_use_plan_refuses_year_two_before_year_one() -> None:
    cluster = xm_certified()
    refused(cluster, RuleViolation, "funding_year_out_of_order",
            lambda: submit_plan(cluster, 2, 60_000_000))


def test_submit_fund_use_plan_refuses_a_second_plan_under_review() -> None:
    cluster = xm_plan_submitted()
    refused(cluster, RuleViolation, "fund_use_plan_already_submitted",
            lambda: submit_plan(cluster))


def test_submit_fund_use_plan_refuses_a_second_plan_once_approved() -> None:
    cluster = xm_approved()
    refused(cluster, RuleViolation, "fund_use_plan_already_submitted",
            lambda: submit_plan(cluster))


def test_submit_fund_use_plan_accepts_a_new_plan_after_the_district_refused_one() -> None:
    cluster = xm_plan_submitted()
    review_plan(cluster, passed=False)
    submit_plan(cluster, total_fen=90_000_000, on=date(2025, 2, 25))
    funding = cluster.case.funding[1]
    assert (funding.requested_fen, funding.district_passed) == (90_000_000, None)


def test_submit_fund_use_plan_refuses_a_plan_without_lines() -> None:
    cluster = xm_certified()
    refused(cluster, InvalidInput, "plan_lines_required", lambda: submit_plan(cluster, lines=()))


def test_submit_fund_use_plan_refuses_a_category_outside_article_14() -> None:
    cluster = xm_certified()
    refused(cluster, InvalidInput, "unknown_fund_use_category",
            lambda: submit_plan(cluster, lines=(line("office_renovation", 100),)))


@pytest.mark.parametrize("category", xm_rules().fund_use_categories)
def test_submit_fund_use_plan_accepts_each_article_14_category(category: str) -> None:
    cluster = xm_certified()
    submit_plan(cluster, lines=(line(category, 100),))
    assert cluster.case.funding[1].requested_fen == 100


@pytest.mark.parametrize("amount_fen", [0, -1])
def test_submit_fund_use_plan_refuses_a_line_that_is_not_positive(amount_fen: int) -> None:
    cluster = xm_certified()
    refused(cluster, InvalidInput, "amount_not_positive",
            lambda: submit_plan(cluster, lines=(line(amount_fen=100), line(amount_fen=amount_fen))))


# ---- district initial review ---------------------------------------------------------------


def test_review_fund_use_plan_records_the_district_reviewer() -> None:
    cluster = xm_plan_reviewed()
    funding = cluster.case.funding[1]
    assert (funding.district_passed, funding.district_reviewed_by) == (True, "county-350203")


def test_review_fund_use_plan_refuses_a_year_without_plan() -> None:
    cluster = xm_certified()
    refused(cluster, WrongState, "no_fund_use_plan", lambda: review_plan(cluster))


def test_review_fund_use_plan_refuses_a_second_review() -> None:
    cluster = xm_plan_reviewed()
    refused(cluster, WrongState, "fund_use_plan_already_reviewed", lambda: review_plan(cluster))


def test_review_fund_use_plan_refusal_needs_a_reason() -> None:
    cluster = xm_plan_submitted()
    reviewer = meta("county", SIMING, PLAN_REVIEWED_ON)
    refused(cluster, InvalidInput, "reason_required",
            lambda: cluster.review_fund_use_plan(reviewer, 1, passed=False))


def test_review_fund_use_plan_pass_needs_no_reason() -> None:
    cluster = xm_plan_submitted()
    cluster.review_fund_use_plan(meta("county", SIMING, PLAN_REVIEWED_ON), 1, passed=True)
    assert cluster.case.funding[1].district_passed is True


# ---- city approval ---------------------------------------------------------------------------


def test_approve_subsidy_records_amount_entitlement_and_notice() -> None:
    cluster = xm_approved()
    funding = cluster.case.funding[1]
    assert (funding.approved_fen, funding.entitlement_fen) == (YEAR_ONE_FEN, YEAR_ONE_FEN)
    assert funding.notice == Notice(starts_on=SUBSIDY_APPROVED_ON, ends_on=SUBSIDY_NOTICE_ENDS)
    assert funding.rulebook_version == "XM-2024"


def test_approve_subsidy_refuses_a_year_without_plan() -> None:
    cluster = xm_certified()
    refused(cluster, WrongState, "no_fund_use_plan", lambda: approve(cluster))


def test_approve_subsidy_refuses_before_the_district_review() -> None:
    cluster = xm_plan_submitted()
    refused(cluster, WrongState, "district_review_pending", lambda: approve(cluster))


def test_approve_subsidy_refuses_a_plan_the_district_refused() -> None:
    cluster = xm_plan_submitted()
    review_plan(cluster, passed=False)
    refused(cluster, WrongState, "district_review_pending", lambda: approve(cluster))


def test_approve_subsidy_refuses_a_second_approval() -> None:
    cluster = xm_approved()
    refused(cluster, WrongState, "subsidy_already_approved", lambda: approve(cluster))


@pytest.mark.parametrize("amount_fen", [0, -100])
def test_approve_subsidy_refuses_an_amount_that_is_not_positive(amount_fen: int) -> None:
    cluster = xm_plan_reviewed()
    refused(cluster, InvalidInput, "amount_not_positive",
            lambda: approve_with(cluster, amount_fen, YEAR_ONE_FEN))


def test_approve_subsidy_accepts_exactly_the_entitlement() -> None:
    cluster = xm_plan_reviewed()
    approve_with(cluster, YEAR_ONE_FEN, YEAR_ONE_FEN)
    assert cluster.case.funding[1].approved_fen == YEAR_ONE_FEN


def test_approve_subsidy_refuses_one_fen_above_the_entitlement() -> None:
    cluster = xm_certified()  # the plan asks for more, so only the entitlement can refuse
    submit_plan(cluster, total_fen=YEAR_ONE_FEN + 1)
    review_plan(cluster)
    error = refused(cluster, RuleViolation, "approval_exceeds_entitlement",
                    lambda: approve_with(cluster, YEAR_ONE_FEN + 1, YEAR_ONE_FEN))
    assert error.details == {"entitlement_fen": YEAR_ONE_FEN, "amount_fen": YEAR_ONE_FEN + 1}


def test_approve_subsidy_refuses_more_than_the_plan_requested() -> None:
    cluster = xm_certified()
    submit_plan(cluster, total_fen=80_000_000)
    review_plan(cluster)
    refused(cluster, RuleViolation, "approval_exceeds_plan",
            lambda: approve_with(cluster, 80_000_001, YEAR_ONE_FEN))


def test_approve_subsidy_accepts_less_than_the_entitlement() -> None:
    cluster = xm_certified()
    submit_plan(cluster, total_fen=80_000_000)
    review_plan(cluster)
    approve_with(cluster, 80_000_000, YEAR_ONE_FEN)
    assert cluster.case.funding[1].approved_fen == 80_000_000


def test_approve_subsidy_refuses_the_user_who_reviewed_the_plan() -> None:
    cluster = xm_plan_submitted()
    review_plan(cluster, user_id="same-person")
    refused(cluster, RuleViolation, "four_eyes",
            lambda: approve_with(cluster, YEAR_ONE_FEN, YEAR_ONE_FEN, user_id="same-person"))


def test_approve_subsidy_refuses_a_revoked_case() -> None:
    cluster = xm_plan_reviewed()
    revoke(cluster, on=date(2025, 2, 24), received_on=date(2025, 2, 24))
    refused(cluster, WrongState, "wrong_state", lambda: approve(cluster))


def test_approve_year_two_refuses_more_than_the_band_of_the_first_final_score() -> None:
    cluster = paid_for_year_two("79.99")  # XM Art. 13: 70 (incl.) to 80 -> 400,000 yuan
    refused(cluster, RuleViolation, "approval_exceeds_entitlement",
            lambda: approve(cluster, 2, 40_000_001, on=date(2026, 4, 1)))


def test_approve_year_two_accepts_the_full_band_of_the_first_final_score() -> None:
    cluster = paid_for_year_two("80")  # XM Art. 13: 80 (incl.) and above -> 600,000 yuan
    approve(cluster, 2, 60_000_000, on=date(2026, 4, 1))
    assert cluster.case.funding[2].approved_fen == 60_000_000


# ---- payment ---------------------------------------------------------------------------------


def test_pay_subsidy_records_amount_voucher_and_date() -> None:
    cluster = xm_paid()
    funding = cluster.case.funding[1]
    assert (funding.paid_fen, funding.vouchers, funding.paid_on) == (
        YEAR_ONE_FEN, (VOUCHER,), (SUBSIDY_PAID_ON,)
    )
    event = last_event(cluster)
    assert isinstance(event, Cluster.SubsidyPaid)
    assert event.voucher_number == VOUCHER


def test_pay_subsidy_refuses_a_year_without_plan() -> None:
    cluster = xm_certified()
    refused(cluster, WrongState, "no_fund_use_plan", lambda: pay(cluster, 1, VOUCHER))


def test_pay_subsidy_refuses_a_year_not_approved() -> None:
    cluster = xm_plan_reviewed()
    refused(cluster, WrongState, "subsidy_not_approved", lambda: pay(cluster, 1, VOUCHER))


def test_pay_subsidy_refuses_on_the_last_day_of_the_notice() -> None:
    cluster = xm_approved()
    refused(cluster, RuleViolation, "notice_not_over",
            lambda: pay(cluster, YEAR_ONE_FEN, VOUCHER, on=SUBSIDY_NOTICE_ENDS))


def test_pay_subsidy_accepts_the_day_after_the_notice_ends() -> None:
    cluster = xm_approved()
    pay(cluster, YEAR_ONE_FEN, VOUCHER, on=SUBSIDY_NOTICE_ENDS + timedelta(days=1))
    assert cluster.case.funding[1].paid_fen == YEAR_ONE_FEN


def test_pay_subsidy_refuses_while_an_objection_to_the_list_is_open() -> None:
    cluster = xm_approved()
    object_to_subsidy(cluster)
    refused(cluster, RuleViolation, "objection_open", lambda: pay(cluster, YEAR_ONE_FEN, VOUCHER))


def test_pay_subsidy_refuses_after_an_objection_was_upheld() -> None:
    cluster = xm_approved()
    number = object_to_subsidy(cluster)
    cluster.resolve_objection(xm_city(SUBSIDY_NOTICE_ENDS, comment="异议成立"), number,
                              upheld=True)
    refused(cluster, RuleViolation, "objection_upheld",
            lambda: pay(cluster, YEAR_ONE_FEN, VOUCHER))


def test_pay_subsidy_accepts_once_the_objection_is_dismissed() -> None:
    cluster = xm_approved()
    number = object_to_subsidy(cluster)
    cluster.resolve_objection(xm_city(SUBSIDY_NOTICE_ENDS, comment="异议不成立"), number,
                              upheld=False)
    pay(cluster, YEAR_ONE_FEN, VOUCHER)
    assert cluster.case.funding[1].paid_fen == YEAR_ONE_FEN


def test_objection_to_the_subsidy_list_refuses_the_day_after_the_notice() -> None:
    cluster = xm_approved()
    refused(cluster, RuleViolation, "objection_outside_notice",
            lambda: object_to_subsidy(cluster, on=SUBSIDY_NOTICE_ENDS + timedelta(days=1)))


def test_objection_to_a_year_without_approval_refuses_no_notice_running() -> None:
    cluster = xm_plan_reviewed()
    refused(cluster, WrongState, "no_notice_running", lambda: object_to_subsidy(cluster))


def test_pay_subsidy_refuses_a_blank_voucher() -> None:
    cluster = xm_approved()
    refused(cluster, InvalidInput, "voucher_required", lambda: pay(cluster, YEAR_ONE_FEN, " "))


def test_pay_subsidy_refuses_a_voucher_already_paid() -> None:
    cluster = xm_approved()
    pay(cluster, 1_000, VOUCHER)
    error = refused(cluster, RuleViolation, "voucher_already_paid",
                    lambda: pay(cluster, 1_000, VOUCHER))
    assert error.details["voucher"] == VOUCHER


def test_pay_subsidy_refuses_a_voucher_paid_in_another_funding_year() -> None:
    cluster = paid_for_year_two("85")
    approve(cluster, 2, on=date(2026, 4, 1))
    refused(cluster, RuleViolation, "voucher_already_paid",
            lambda: pay(cluster, 1_000, VOUCHER, funding_year=2, on=date(2026, 4, 20)))


def test_pay_subsidy_refuses_a_voucher_already_paid_written_with_spaces() -> None:
    cluster = xm_approved()
    pay(cluster, 1_000, VOUCHER)
    refused(cluster, RuleViolation, "voucher_already_paid",
            lambda: pay(cluster, 1_000, f" {VOUCHER} "))


def test_pay_subsidy_records_the_voucher_without_surrounding_spaces() -> None:
    cluster = xm_approved()
    pay(cluster, 1_000, f" {VOUCHER}\t")
    assert cluster.case.funding[1].vouchers == (VOUCHER,)


@pytest.mark.parametrize("amount_fen", [0, -1])
def test_pay_subsidy_refuses_an_amount_that_is_not_positive(amount_fen: int) -> None:
    cluster = xm_approved()
    refused(cluster, InvalidInput, "amount_not_positive", lambda: pay(cluster, amount_fen, VOUCHER))


def test_pay_subsidy_accepts_exactly_the_remainder_of_the_approval() -> None:
    cluster = xm_approved()
    pay(cluster, 30_000_000, "XM-2025-0001")
    pay(cluster, YEAR_ONE_FEN - 30_000_000, "XM-2025-0002")
    assert cluster.case.funding[1].paid_fen == YEAR_ONE_FEN


def test_pay_subsidy_refuses_one_fen_more_than_the_remainder() -> None:
    cluster = xm_approved()
    pay(cluster, 30_000_000, "XM-2025-0001")
    remainder = YEAR_ONE_FEN - 30_000_000
    error = refused(cluster, RuleViolation, "payment_exceeds_approval",
                    lambda: pay(cluster, remainder + 1, "XM-2025-0002"))
    assert error.details == {"remaining_fen": remainder, "amount_fen": remainder + 1}


def test_pay_subsidy_refuses_one_fen_more_than_the_approval() -> None:
    cluster = xm_approved()
    refused(cluster, RuleViolation, "payment_exceeds_approval",
            lambda: pay(cluster, YEAR_ONE_FEN + 1, VOUCHER))


def test_pay_subsidy_refuses_any_payment_once_fully_paid() -> None:
    cluster = xm_paid()
    refused(cluster, RuleViolation, "payment_exceeds_approval",
            lambda: pay(cluster, 1, "XM-2025-0009"))


def test_pay_subsidy_refuses_the_user_who_approved_it() -> None:
    cluster = xm_approved()
    refused(cluster, RuleViolation, "four_eyes",
            lambda: pay(cluster, YEAR_ONE_FEN, VOUCHER, user_id=CITY_APPROVER))


def test_pay_subsidy_refuses_a_revoked_case() -> None:
    cluster = xm_approved()
    revoke(cluster, on=date(2025, 3, 10), received_on=date(2025, 3, 10))
    refused(cluster, WrongState, "wrong_state", lambda: pay(cluster, YEAR_ONE_FEN, VOUCHER))

