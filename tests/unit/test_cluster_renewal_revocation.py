"""Cluster aggregate: major changes, renewal review (FJ Art. 14; XM Art. 8), revocation on five
grounds and the appeal against it (FJ Art. 16). Pure: no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.case import Status
from domain.cluster import Cluster
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import AppealOutcome, ChangeKind, Ground
from tests.unit.cluster_steps import (
    APPEAL_DEADLINE,
    APPEALED_ON,
    FJ_VALID_UNTIL,
    PROVINCE_REVOKER,
    REVOCATION_RECEIVED_ON,
    REVOKED_ON,
    appeal,
    appeal_decision_meta,
    appeal_meta,
    decide_renewal,
    fj_appealed,
    fj_certified,
    fj_county,
    fj_recommended,
    fj_revoked,
    fj_rules,
    last_event,
    miit_recorder,
    period_end,
    profile_of,
    province,
    refused,
    request_renewal,
    revoke,
    xm_certified,
    xm_district,
    xm_rules,
)

RENEWED_UNTIL = date(2029, 5, 22)


def revoke_with(
    cluster: Cluster, *, ground: Ground = Ground.MAJOR_INCIDENT, on: date = REVOKED_ON,
    received_on: date = REVOCATION_RECEIVED_ON, document_number: str | None = "闽工信〔2025〕77号",
    comment: str = "集群企业发生较大安全事故", appeal_deadline: date | None = APPEAL_DEADLINE,
) -> None:
    cluster.revoke(
        province(on, user_id=PROVINCE_REVOKER, document_number=document_number, comment=comment),
        ground, received_on, appeal_deadline, False, fj_rules().id,
    )


def renewal_pending() -> Cluster:
    cluster = fj_certified()
    request_renewal(cluster)
    return cluster


def renewal_failed() -> Cluster:
    cluster = renewal_pending()
    decide_renewal(cluster, passed=False)
    return cluster


def decide_renewal_with(
    cluster: Cluster, *, passed: bool = True, plan_targets_met: bool | None = True,
    document_number: str | None = "闽工信函中小〔2026〕40号", comment: str = "",
) -> None:
    rules = fj_rules() if cluster.case.dossier.programme == "FJ" else xm_rules()
    who = province(date(2026, 5, 10), document_number=document_number, comment=comment)
    cluster.decide_renewal(
        who, passed=passed, plan_targets_met=plan_targets_met,
        validity_years=rules.validity_years, rulebook_version=rules.id, profile=profile_of(cluster),
    )


def decide_appeal(
    cluster: Cluster, outcome: AppealOutcome = AppealOutcome.OVERTURNED,
    on: date = date(2025, 11, 14),
) -> None:
    cluster.decide_appeal(appeal_decision_meta(on), outcome)


# ---- major change ----------------------------------------------------------------------------


def test_major_change_of_leading_industry_updates_the_dossier() -> None:
    cluster = fj_certified()
    cluster.report_major_change(
        fj_county(date(2024, 6, 1)), ChangeKind.LEADING_INDUSTRY, "鞋服新材料",
            profile=profile_of(cluster)
    )
    assert cluster.case.dossier.leading_industry == "鞋服新材料"
    assert [c.kind for c in cluster.case.changes] == [ChangeKind.LEADING_INDUSTRY]


def test_major_change_of_spatial_scope_is_recorded() -> None:
    cluster = fj_certified()
    cluster.report_major_change(fj_county(date(2024, 6, 1)), ChangeKind.SPATIAL_SCOPE, "扩至安海镇",
        profile=profile_of(cluster))
    assert cluster.case.changes[0].new_value == "扩至安海镇"


def test_major_change_refuses_a_blank_new_value() -> None:
    cluster = fj_certified()
    refused(cluster, InvalidInput, "new_value_required",
            lambda: cluster.report_major_change(fj_county(date(2024, 6, 1)),
                                                ChangeKind.SPATIAL_SCOPE, " ",
                                                    profile=profile_of(cluster)))


def test_major_change_of_xm_operating_unit_needs_a_reason() -> None:
    # XM Art. 6: the operating unit, once designated, in principle never changes
    cluster = xm_certified()
    refused(cluster, RuleViolation, "operating_unit_change_needs_reason",
            lambda: cluster.report_major_change(xm_district(date(2025, 6, 1)),
                                                ChangeKind.OPERATING_UNIT, "新运营公司",
                                                    profile=profile_of(cluster)))


def test_major_change_of_xm_operating_unit_with_a_reason_updates_the_dossier() -> None:
    cluster = xm_certified()
    cluster.report_major_change(
        xm_district(date(2025, 6, 1), comment="原运营单位注销"), ChangeKind.OPERATING_UNIT,
        "新运营公司", profile=profile_of(cluster),
    )
    assert cluster.case.dossier.operating_unit == "新运营公司"


def test_major_change_of_fj_operating_body_needs_no_reason() -> None:
    cluster = fj_certified()
    cluster.report_major_change(
        fj_county(date(2024, 6, 1)), ChangeKind.OPERATING_UNIT, "集群管委会",
        profile=profile_of(cluster),
    )
    assert cluster.case.dossier.operating_unit == "集群管委会"


def test_major_change_refuses_a_case_not_yet_certified() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "wrong_state",
            lambda: cluster.report_major_change(fj_county(date(2023, 4, 10)),
                                                ChangeKind.SPATIAL_SCOPE, "扩区",
                                                    profile=profile_of(cluster)))


# ---- renewal --------------------------------------------------------------------------------


def test_request_renewal_opens_a_pending_review() -> None:
    cluster = renewal_pending()
    renewal = cluster.case.renewal
    assert renewal is not None
    assert (renewal.requested_on, renewal.passed) == (date(2026, 4, 1), None)


def test_request_renewal_refuses_while_one_is_pending() -> None:
    cluster = renewal_pending()
    refused(cluster, WrongState, "renewal_already_requested",
            lambda: request_renewal(cluster, date(2026, 4, 2)))


def test_request_renewal_refuses_a_case_not_yet_certified() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "wrong_state", lambda: request_renewal(cluster))


def test_request_renewal_refuses_a_revoked_case() -> None:
    cluster = fj_revoked()
    refused(cluster, WrongState, "wrong_state", lambda: request_renewal(cluster))


def test_request_renewal_accepts_a_new_request_after_a_passed_review() -> None:
    cluster = renewal_pending()
    decide_renewal(cluster, passed=True)
    request_renewal(cluster, date(2029, 4, 1))
    assert cluster.case.renewal is not None
    assert cluster.case.renewal.passed is None


def test_decide_renewal_passed_extends_validity_by_three_years() -> None:
    cluster = renewal_pending()
    decide_renewal(cluster, passed=True)
    assert cluster.case.valid_until == RENEWED_UNTIL
    assert cluster.case.renewals_passed == 1
    assert cluster.case.status == Status.CERTIFIED


def test_decide_renewal_extends_from_the_old_expiry_not_from_the_decision() -> None:
    cluster = renewal_pending()
    decide_renewal(cluster, passed=True, on=FJ_VALID_UNTIL + timedelta(days=20))
    assert cluster.case.valid_until == RENEWED_UNTIL


def test_decide_renewal_records_valid_until_and_rulebook_on_the_event() -> None:
    cluster = renewal_pending()
    decide_renewal(cluster, passed=True)
    event = last_event(cluster)
    assert isinstance(event, Cluster.RenewalDecided)
    assert (event.valid_until, event.rulebook_version) == (RENEWED_UNTIL, "FJ-2022")


def test_decide_renewal_failed_leaves_the_case_renewal_failed() -> None:
    cluster = renewal_failed()
    assert cluster.case.status == Status.RENEWAL_FAILED
    assert cluster.case.valid_until == FJ_VALID_UNTIL


def test_decide_renewal_refuses_without_a_pending_request() -> None:
    cluster = fj_certified()
    refused(cluster, WrongState, "no_renewal_pending", lambda: decide_renewal_with(cluster))


def test_decide_renewal_refuses_a_review_already_decided() -> None:
    cluster = renewal_pending()
    decide_renewal(cluster, passed=True)
    refused(cluster, WrongState, "no_renewal_pending", lambda: decide_renewal_with(cluster))


def test_decide_renewal_refuses_without_a_document_number() -> None:
    cluster = renewal_pending()
    refused(cluster, InvalidInput, "document_number_required",
            lambda: decide_renewal_with(cluster, document_number=None))


def test_decide_renewal_of_fj_refuses_without_a_finding_on_the_plan_targets() -> None:
    # FJ Art. 14: the review assesses the 3-year development plan's targets
    cluster = renewal_pending()
    refused(cluster, InvalidInput, "plan_targets_finding_required",
            lambda: decide_renewal_with(cluster, plan_targets_met=None))


def test_decide_renewal_of_xm_needs_no_finding_on_plan_targets() -> None:
    cluster = xm_certified()
    cluster.request_renewal(xm_district(date(2027, 12, 1)))
    rules = xm_rules()
    cluster.decide_renewal(
        miit_recorder(date(2028, 1, 10), document_number="工信部企业函〔2028〕3号"),
        passed=True, plan_targets_met=None, validity_years=rules.validity_years,
        rulebook_version=rules.id, profile=profile_of(cluster),
    )
    assert cluster.case.valid_until == date(2031, 1, 20)  # from XM_VALID_UNTIL 2028-01-20


def test_decide_renewal_failed_refuses_without_a_reason() -> None:
    cluster = renewal_pending()
    refused(cluster, InvalidInput, "reason_required",
            lambda: decide_renewal_with(cluster, passed=False, plan_targets_met=False))


def test_decide_renewal_refuses_a_case_revoked_while_the_review_was_pending() -> None:
    cluster = renewal_pending()
    revoke_with(cluster, on=date(2026, 4, 20), received_on=date(2026, 4, 21))
    refused(cluster, WrongState, "wrong_state",
            lambda: decide_renewal_with(cluster, passed=False, comment="未通过"))


def test_renewal_keeps_a_case_pending_review_from_reading_expired() -> None:
    cluster = renewal_pending()
    assert cluster.case.status_on(FJ_VALID_UNTIL + timedelta(days=1)) == "certified"


def test_certification_reads_expired_the_day_after_valid_until() -> None:
    case = fj_certified().case
    assert case.status_on(FJ_VALID_UNTIL) == "certified"
    assert case.status_on(FJ_VALID_UNTIL + timedelta(days=1)) == "expired"


# ---- revocation -----------------------------------------------------------------------------


def test_revoke_records_the_decision_and_its_receipt() -> None:
    cluster = fj_revoked()
    revocation = cluster.case.revocation
    assert cluster.case.status == Status.REVOKED
    assert revocation is not None
    assert (revocation.ground, revocation.decided_on, revocation.received_on) == (
        Ground.MAJOR_INCIDENT, REVOKED_ON, REVOCATION_RECEIVED_ON
    )
    assert revocation.decided_by == PROVINCE_REVOKER


def test_revoke_records_the_appeal_deadline_of_the_domain_example() -> None:
    # DOMAIN.md: received Fri 2025-09-26 -> appeal until 2025-10-23 (15 working days)
    revocation = fj_revoked().case.revocation
    assert revocation is not None
    assert revocation.appeal_deadline == APPEAL_DEADLINE == date(2025, 10, 23)


def test_revoke_refuses_a_case_not_certified() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "wrong_state", lambda: revoke_with(cluster))


def test_revoke_refuses_a_case_already_revoked() -> None:
    cluster = fj_revoked()
    refused(cluster, WrongState, "wrong_state", lambda: revoke_with(cluster))


def test_revoke_refuses_without_a_document_number() -> None:
    cluster = fj_certified()
    refused(cluster, InvalidInput, "document_number_required",
            lambda: revoke_with(cluster, document_number=None))


def test_revoke_refuses_without_a_reason() -> None:
    cluster = fj_certified()
    refused(cluster, InvalidInput, "reason_required", lambda: revoke_with(cluster, comment=""))


def test_revoke_refuses_receipt_before_the_decision() -> None:
    cluster = fj_certified()
    refused(cluster, InvalidInput, "received_before_decision",
            lambda: revoke_with(cluster, on=REVOKED_ON, received_on=REVOKED_ON - timedelta(days=1)))


def test_revoke_accepts_receipt_on_the_decision_day() -> None:
    cluster = fj_certified()
    revoke_with(cluster, on=REVOKED_ON, received_on=REVOKED_ON)
    assert cluster.case.status == Status.REVOKED


def test_revoke_for_expiry_refuses_on_the_last_day_of_validity() -> None:
    cluster = fj_certified()
    refused(cluster, RuleViolation, "certification_still_valid",
            lambda: revoke_with(cluster, ground=Ground.EXPIRED_WITHOUT_RENEWAL,
                                on=FJ_VALID_UNTIL, received_on=FJ_VALID_UNTIL))


def test_revoke_for_expiry_accepts_the_day_after_validity_ends() -> None:
    cluster = fj_certified()
    day_after = FJ_VALID_UNTIL + timedelta(days=1)
    revoke_with(cluster, ground=Ground.EXPIRED_WITHOUT_RENEWAL, on=day_after, received_on=day_after)
    assert cluster.case.status == Status.REVOKED


def test_revoke_for_expiry_refuses_while_a_renewal_review_is_pending() -> None:
    cluster = renewal_pending()
    day_after = FJ_VALID_UNTIL + timedelta(days=1)
    refused(cluster, RuleViolation, "renewal_pending",
            lambda: revoke_with(cluster, ground=Ground.EXPIRED_WITHOUT_RENEWAL, on=day_after,
                                received_on=day_after))


def test_revoke_for_failed_renewal_is_allowed_before_validity_ends() -> None:
    cluster = renewal_failed()
    revoke_with(cluster, ground=Ground.EXPIRED_WITHOUT_RENEWAL, on=date(2026, 5, 15),
                received_on=date(2026, 5, 15))
    revocation = cluster.case.revocation
    assert revocation is not None
    assert revocation.status_before == Status.RENEWAL_FAILED


@pytest.mark.parametrize(
    "ground",
    [Ground.FALSE_APPLICATION, Ground.ANNUAL_REPORT_MISSING, Ground.MAJOR_CHANGE_UNREPORTED,
     Ground.MAJOR_INCIDENT],
)
def test_revoke_on_other_grounds_is_allowed_during_validity(ground: Ground) -> None:
    cluster = fj_certified()
    revoke_with(cluster, ground=ground)
    assert cluster.case.status == Status.REVOKED


def test_revoke_records_the_rulebook_version() -> None:
    event = last_event(fj_revoked())
    assert isinstance(event, Cluster.Revoked)
    assert event.rulebook_version == "FJ-2022"


# ---- appeal ---------------------------------------------------------------------------------


def test_appeal_records_the_reply_due_in_thirty_working_days() -> None:
    cluster = fj_appealed()
    appeal_ = cluster.case.appeal
    assert appeal_ is not None
    assert appeal_.filed_on == APPEALED_ON
    assert appeal_.reply_due == period_end(APPEALED_ON, fj_rules().appeal_reply)


def test_appeal_accepts_the_deadline_day() -> None:
    cluster = fj_revoked()
    appeal(cluster, APPEAL_DEADLINE)
    assert cluster.case.appeal is not None


def test_appeal_refuses_the_day_after_the_deadline() -> None:
    cluster = fj_revoked()
    error = refused(cluster, RuleViolation, "appeal_window_closed",
                    lambda: appeal(cluster, APPEAL_DEADLINE + timedelta(days=1)))
    assert error.details["appeal_deadline"] == "2025-10-23"


def test_appeal_accepts_the_day_the_decision_was_received() -> None:
    cluster = fj_revoked()
    appeal(cluster, REVOCATION_RECEIVED_ON)
    assert cluster.case.appeal is not None


def test_appeal_refuses_a_date_before_the_decision_was_received() -> None:
    cluster = fj_revoked()
    refused(cluster, InvalidInput, "appeal_before_receipt",
            lambda: appeal(cluster, REVOCATION_RECEIVED_ON - timedelta(days=1)))


def test_appeal_refuses_a_second_appeal() -> None:
    cluster = fj_appealed()
    refused(cluster, WrongState, "appeal_already_filed",
            lambda: appeal(cluster, APPEALED_ON + timedelta(days=1)))


def test_appeal_refuses_a_case_that_is_not_revoked() -> None:
    cluster = fj_certified()
    refused(cluster, WrongState, "wrong_state", lambda: appeal(cluster))


def test_appeal_refuses_when_the_rulebook_gives_no_appeal_route() -> None:
    cluster = fj_certified()
    revoke_with(cluster, appeal_deadline=None)
    refused(cluster, RuleViolation, "no_appeal_route", lambda: appeal(cluster))


def test_appeal_refuses_without_a_reason() -> None:
    cluster = fj_revoked()
    rules = fj_rules()
    refused(cluster, InvalidInput, "reason_required",
            lambda: cluster.appeal(fj_county(APPEALED_ON), date(2025, 11, 21), False, rules.id))


def test_appeal_after_an_upheld_decision_refuses_a_second_appeal() -> None:
    cluster = fj_appealed()
    decide_appeal(cluster, AppealOutcome.UPHELD)
    refused(cluster, WrongState, "appeal_already_filed",
            lambda: appeal(cluster, APPEALED_ON + timedelta(days=1)))


# ---- appeal decision --------------------------------------------------------------------------


def test_appeal_overturned_restores_the_certification_with_its_original_validity() -> None:
    cluster = fj_appealed()
    decide_appeal(cluster, AppealOutcome.OVERTURNED)
    assert cluster.case.status == Status.CERTIFIED
    assert cluster.case.valid_until == FJ_VALID_UNTIL


def test_appeal_overturned_restores_a_renewal_failed_case_to_renewal_failed() -> None:
    cluster = renewal_failed()
    revoke_with(cluster, ground=Ground.EXPIRED_WITHOUT_RENEWAL, on=date(2026, 5, 15),
                received_on=date(2026, 5, 15), appeal_deadline=date(2026, 6, 5))
    appeal(cluster, date(2026, 5, 20))
    decide_appeal(cluster, AppealOutcome.OVERTURNED, on=date(2026, 6, 10))
    assert cluster.case.status == Status.RENEWAL_FAILED


def test_appeal_upheld_keeps_the_case_revoked() -> None:
    cluster = fj_appealed()
    decide_appeal(cluster, AppealOutcome.UPHELD)
    assert cluster.case.status == Status.REVOKED
    appeal_ = cluster.case.appeal
    assert appeal_ is not None
    assert appeal_.outcome == AppealOutcome.UPHELD


def test_appeal_decision_within_the_reply_period_is_not_late() -> None:
    cluster = fj_appealed()
    appeal_ = cluster.case.appeal
    assert appeal_ is not None
    cluster.decide_appeal(appeal_decision_meta(appeal_.reply_due), AppealOutcome.UPHELD)
    assert appeal_.replied_late is False


def test_appeal_decision_after_the_reply_period_is_recorded_late() -> None:
    cluster = fj_appealed()
    appeal_ = cluster.case.appeal
    assert appeal_ is not None
    late = appeal_.reply_due + timedelta(days=1)
    cluster.decide_appeal(appeal_decision_meta(late), AppealOutcome.UPHELD)
    assert appeal_.replied_late is True


def test_decide_appeal_refuses_without_a_pending_appeal() -> None:
    cluster = fj_revoked()
    refused(cluster, WrongState, "no_appeal_pending", lambda: decide_appeal(cluster))


def test_decide_appeal_refuses_an_appeal_already_decided() -> None:
    cluster = fj_appealed()
    decide_appeal(cluster, AppealOutcome.UPHELD)
    refused(cluster, WrongState, "no_appeal_pending", lambda: decide_appeal(cluster))


def test_decide_appeal_refuses_the_user_who_decided_the_revocation() -> None:
    cluster = fj_appealed()
    refused(cluster, RuleViolation, "four_eyes",
            lambda: cluster.decide_appeal(appeal_decision_meta(user_id=PROVINCE_REVOKER),
                                          AppealOutcome.OVERTURNED))


def test_decide_appeal_refuses_without_a_reason() -> None:
    cluster = fj_appealed()
    refused(cluster, InvalidInput, "reason_required",
            lambda: cluster.decide_appeal(province(date(2025, 11, 14)), AppealOutcome.UPHELD))


def test_decide_appeal_refuses_a_date_before_the_appeal() -> None:
    cluster = fj_appealed()
    refused(cluster, InvalidInput, "decision_before_appeal",
            lambda: cluster.decide_appeal(appeal_decision_meta(APPEALED_ON - timedelta(days=1)),
                                          AppealOutcome.UPHELD))


def test_revoking_again_after_an_overturned_appeal_opens_a_new_appeal_window() -> None:
    cluster = fj_appealed()
    decide_appeal(cluster, AppealOutcome.OVERTURNED)
    revoke(cluster, Ground.FALSE_APPLICATION, on=date(2026, 1, 5), received_on=date(2026, 1, 6))
    assert cluster.case.appeal is None
    cluster.appeal(appeal_meta(date(2026, 1, 7)), date(2026, 2, 20), False, fj_rules().id)
    assert cluster.case.appeal is not None


def test_decide_renewal_accepts_a_pending_review_once_the_revocation_is_overturned() -> None:
    cluster = renewal_pending()
    revoke_with(cluster, on=date(2026, 4, 20), received_on=date(2026, 4, 21),
                appeal_deadline=date(2026, 5, 15))
    appeal(cluster, date(2026, 4, 22))
    decide_appeal(cluster, AppealOutcome.OVERTURNED, on=date(2026, 5, 6))
    decide_renewal(cluster, passed=True)
    assert cluster.case.valid_until == RENEWED_UNTIL
