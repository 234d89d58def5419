"""Cluster aggregate, stage 3–4: province re-review, public notice, objections, certification
or rejection (FJ Art. 13), MIIT's certification recorded (XM Art. 7–8), and the validity it
gives (FJ Art. 14, XM Art. 8; Civil Code Art. 202). Pure: no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.case import Notice, Status
from domain.cluster import CERTIFICATION, Cluster
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.periods import add_years
from tests.unit.cluster_steps import (
    FJ_APPLIED_ON,
    FJ_CERTIFICATION_DOC,
    FJ_CERTIFIED_ON,
    FJ_SHORTLISTED_ON,
    FJ_VALID_UNTIL,
    PROVINCE_CERTIFIER,
    PROVINCE_SHORTLISTER,
    XM_CERTIFICATION_DOC,
    XM_CERTIFIED_ON,
    XM_VALID_UNTIL,
    certify_meta,
    fj_applied,
    fj_certified,
    fj_certified_on,
    fj_notice,
    fj_recommended,
    fj_rules,
    fj_under_notice,
    last_event,
    miit_certification_meta,
    miit_recorder,
    profile_of,
    province,
    refused,
    xm_applied,
    xm_certified,
    xm_recommended,
    xm_rules,
)

NOTICE_ENDS = fj_notice().ends_on  # 2023-05-09: 5 working days from Thu 05-04, Sat 05-06 worked


def shortlist(cluster: Cluster, notice: Notice | None = None, on: date = FJ_SHORTLISTED_ON) -> None:
    cluster.shortlist(
        province(on, user_id=PROVINCE_SHORTLISTER), notice or fj_notice(), fj_rules().id,
            profile=profile_of(cluster)
    )


def certify(
    cluster: Cluster, on: date = FJ_CERTIFIED_ON, user_id: str = PROVINCE_CERTIFIER
) -> None:
    rules = fj_rules()
    cluster.certify(certify_meta(on, user_id), rules.validity_years, rules.id,
        profile=profile_of(cluster))


def certify_xm(cluster: Cluster, on: date = XM_CERTIFIED_ON, **kw: str) -> None:
    rules = xm_rules()
    cluster.certify(miit_certification_meta(on, **kw), rules.validity_years, rules.id,
        profile=profile_of(cluster))


def object_to(cluster: Cluster, on: date = FJ_SHORTLISTED_ON, summary: str = "产值数据存疑") -> int:
    return cluster.raise_objection(
        province(on, user_id=PROVINCE_SHORTLISTER), CERTIFICATION, summary
    )


def resolve(cluster: Cluster, number: int, *, upheld: bool, comment: str = "经核查") -> None:
    cluster.resolve_objection(
        province(NOTICE_ENDS, user_id=PROVINCE_SHORTLISTER, comment=comment), number,
        upheld=upheld,
    )



# ---- shortlist and public notice ---------------------------------------------------------


def test_notice_of_the_fixture_runs_five_working_days_counting_publication_day() -> None:
    assert date(2023, 5, 9) == NOTICE_ENDS


def test_shortlist_puts_the_case_under_public_notice() -> None:
    cluster = fj_under_notice()
    assert cluster.case.status == Status.UNDER_NOTICE
    assert cluster.case.notice == fj_notice()


def test_shortlist_records_the_rulebook_version() -> None:
    cluster = fj_under_notice()
    event = last_event(cluster)
    assert isinstance(event, Cluster.Shortlisted)
    assert event.rulebook_version == "FJ-2022"


def test_shortlist_refuses_a_case_the_city_has_not_recommended() -> None:
    cluster = fj_applied()
    refused(cluster, WrongState, "wrong_state", lambda: shortlist(cluster))


def test_shortlist_refuses_a_case_already_under_notice() -> None:
    cluster = fj_under_notice()
    refused(cluster, WrongState, "wrong_state", lambda: shortlist(cluster))


def test_shortlist_refuses_a_notice_ending_before_it_starts() -> None:
    cluster = fj_recommended()
    backwards = Notice(starts_on=FJ_SHORTLISTED_ON, ends_on=FJ_SHORTLISTED_ON - timedelta(days=1))
    refused(cluster, InvalidInput, "notice_ends_before_start",
            lambda: shortlist(cluster, backwards))


def test_shortlist_accepts_a_one_day_notice() -> None:
    cluster = fj_recommended()
    shortlist(cluster, Notice(starts_on=FJ_SHORTLISTED_ON, ends_on=FJ_SHORTLISTED_ON))
    assert cluster.case.status == Status.UNDER_NOTICE


def test_shortlist_refuses_a_date_before_the_application() -> None:
    cluster = fj_recommended()
    refused(cluster, InvalidInput, "effective_date_before_application",
            lambda: shortlist(cluster, on=FJ_APPLIED_ON - timedelta(days=1)))


# ---- objections ----------------------------------------------------------------------------


def test_raise_objection_records_an_open_objection() -> None:
    cluster = fj_under_notice()
    number = object_to(cluster)
    assert number == 1
    assert [o.number for o in cluster.case.open_objections(CERTIFICATION)] == [1]


def test_raise_objection_numbers_objections_in_order() -> None:
    cluster = fj_under_notice()
    object_to(cluster)
    assert object_to(cluster, summary="空间范围超标") == 2


def test_raise_objection_accepts_the_first_notice_day() -> None:
    cluster = fj_under_notice()
    object_to(cluster, on=FJ_SHORTLISTED_ON)
    assert cluster.case.objections[0].raised_on == FJ_SHORTLISTED_ON


def test_raise_objection_accepts_the_last_notice_day() -> None:
    cluster = fj_under_notice()
    object_to(cluster, on=NOTICE_ENDS)
    assert cluster.case.objections[0].raised_on == NOTICE_ENDS


def test_raise_objection_refuses_the_day_after_the_notice() -> None:
    cluster = fj_under_notice()
    refused(cluster, RuleViolation, "objection_outside_notice",
            lambda: object_to(cluster, on=NOTICE_ENDS + timedelta(days=1)))


def test_raise_objection_refuses_the_day_before_the_notice() -> None:
    cluster = fj_under_notice()
    refused(cluster, RuleViolation, "objection_outside_notice",
            lambda: object_to(cluster, on=FJ_SHORTLISTED_ON - timedelta(days=1)))


def test_raise_objection_refuses_a_blank_summary() -> None:
    cluster = fj_under_notice()
    refused(cluster, InvalidInput, "summary_required", lambda: object_to(cluster, summary=" "))


def test_raise_objection_refuses_a_case_not_under_notice() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "no_notice_running", lambda: object_to(cluster))


def test_raise_objection_refuses_a_certified_case() -> None:
    cluster = fj_certified()
    refused(cluster, WrongState, "no_notice_running", lambda: object_to(cluster))


def test_raise_objection_refuses_a_subject_without_notice() -> None:
    cluster = fj_under_notice()
    refused(cluster, WrongState, "no_notice_running",
            lambda: cluster.raise_objection(province(FJ_SHORTLISTED_ON), "subsidy:1", "异议"))


def test_resolve_objection_dismissed_closes_it() -> None:
    cluster = fj_under_notice()
    number = object_to(cluster)
    resolve(cluster, number, upheld=False)
    objection = cluster.case.objections[0]
    assert objection.resolution == "dismissed"
    assert objection.resolved_on == NOTICE_ENDS
    assert cluster.case.open_objections(CERTIFICATION) == []


def test_resolve_objection_upheld_is_recorded_as_upheld() -> None:
    cluster = fj_under_notice()
    number = object_to(cluster)
    resolve(cluster, number, upheld=True)
    assert [o.number for o in cluster.case.upheld_objections(CERTIFICATION)] == [number]


def test_resolve_objection_refuses_an_unknown_number() -> None:
    cluster = fj_under_notice()
    object_to(cluster)
    refused(cluster, InvalidInput, "unknown_objection",
            lambda: resolve(cluster, 2, upheld=False))


def test_resolve_objection_refuses_one_already_resolved() -> None:
    cluster = fj_under_notice()
    number = object_to(cluster)
    resolve(cluster, number, upheld=False)
    refused(cluster, WrongState, "objection_already_resolved",
            lambda: resolve(cluster, number, upheld=True))


def test_resolve_objection_refuses_without_a_reason() -> None:
    cluster = fj_under_notice()
    number = object_to(cluster)
    refused(cluster, InvalidInput, "reason_required",
            lambda: resolve(cluster, number, upheld=False, comment=""))


# ---- FJ certification -----------------------------------------------------------------------


def test_certify_certifies_the_case_by_the_province() -> None:
    cluster = fj_certified()
    case = cluster.case
    assert case.status == Status.CERTIFIED
    assert case.certified_on == FJ_CERTIFIED_ON
    assert case.certifying_body == "province"
    assert case.certification_document == FJ_CERTIFICATION_DOC
    assert case.certified_by == PROVINCE_CERTIFIER


def test_certify_gives_three_years_of_validity() -> None:
    assert fj_certified().case.valid_until == FJ_VALID_UNTIL


def test_certify_records_the_rulebook_version_and_valid_until_on_the_event() -> None:
    event = last_event(fj_certified())
    assert isinstance(event, Cluster.Certified)
    assert (event.rulebook_version, event.valid_until) == ("FJ-2022", FJ_VALID_UNTIL)


def test_certify_refuses_on_the_last_day_of_the_notice() -> None:
    cluster = fj_under_notice()
    error = refused(cluster, RuleViolation, "notice_not_over",
                    lambda: certify(cluster, on=NOTICE_ENDS))
    assert error.details["notice_ends_on"] == "2023-05-09"


def test_certify_accepts_the_day_after_the_notice_ends() -> None:
    cluster = fj_under_notice()
    certify(cluster, on=NOTICE_ENDS + timedelta(days=1))
    assert cluster.case.status == Status.CERTIFIED


def test_certify_refuses_while_an_objection_is_open() -> None:
    cluster = fj_under_notice()
    object_to(cluster)
    refused(cluster, RuleViolation, "objection_open", lambda: certify(cluster))


def test_certify_accepts_once_the_objection_is_dismissed() -> None:
    cluster = fj_under_notice()
    resolve(cluster, object_to(cluster), upheld=False)
    certify(cluster)
    assert cluster.case.status == Status.CERTIFIED


def test_certify_refuses_after_an_objection_was_upheld() -> None:
    cluster = fj_under_notice()
    resolve(cluster, object_to(cluster), upheld=True)
    refused(cluster, RuleViolation, "objection_upheld", lambda: certify(cluster))


def test_certify_refuses_the_user_who_recommended_the_case() -> None:
    cluster = fj_under_notice()
    recommender = cluster.case.recommended_by
    assert recommender is not None
    error = refused(cluster, RuleViolation, "four_eyes",
                    lambda: certify(cluster, user_id=recommender))
    assert error.details["user_id"] == recommender


def test_certify_refuses_without_a_document_number() -> None:
    cluster = fj_under_notice()
    rules = fj_rules()
    refused(cluster, InvalidInput, "document_number_required",
            lambda: cluster.certify(province(FJ_CERTIFIED_ON), rules.validity_years, rules.id,
                profile=profile_of(cluster)))


def test_certify_refuses_a_blank_document_number() -> None:
    cluster = fj_under_notice()
    rules = fj_rules()
    refused(cluster, InvalidInput, "document_number_required",
            lambda: cluster.certify(province(FJ_CERTIFIED_ON, document_number="  "),
                                    rules.validity_years, rules.id, profile=profile_of(cluster)))


def test_certify_refuses_an_fj_case_that_skipped_the_public_notice() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "wrong_state", lambda: certify(cluster))


def test_certify_refuses_an_fj_case_still_awaiting_city_review() -> None:
    cluster = fj_applied()
    refused(cluster, WrongState, "wrong_state", lambda: certify(cluster))


def test_certify_refuses_an_already_certified_case() -> None:
    cluster = fj_certified()
    refused(cluster, WrongState, "wrong_state",
            lambda: certify(cluster, on=FJ_CERTIFIED_ON + timedelta(days=1)))


# ---- validity (Civil Code Art. 202) -------------------------------------------------------


def test_validity_ends_on_the_corresponding_day_three_years_later() -> None:
    assert fj_certified_on(date(2024, 3, 1)).case.valid_until == date(2027, 3, 1)


def test_validity_of_a_29_february_certification_ends_on_28_february() -> None:
    assert fj_certified_on(date(2024, 2, 29)).case.valid_until == date(2027, 2, 28)


def test_validity_of_a_28_february_certification_ends_on_28_february() -> None:
    assert fj_certified_on(date(2023, 2, 28)).case.valid_until == date(2026, 2, 28)


@pytest.mark.parametrize(
    ("start", "years", "end"),
    [
        (date(2023, 5, 22), 3, date(2026, 5, 22)),
        (date(2024, 2, 29), 3, date(2027, 2, 28)),
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(2023, 12, 31), 3, date(2026, 12, 31)),
        (date(2026, 5, 22), 3, date(2029, 5, 22)),
    ],
)
def test_add_years_follows_civil_code_article_202(start: date, years: int, end: date) -> None:
    assert add_years(start, years) == end


# ---- XM: MIIT's certification recorded by the city -----------------------------------------


def test_certify_xm_records_miit_as_the_certifying_body() -> None:
    case = xm_certified().case
    assert case.status == Status.CERTIFIED
    assert case.certifying_body == "MIIT"
    assert case.certification_document == XM_CERTIFICATION_DOC
    assert case.valid_until == XM_VALID_UNTIL


def test_certify_xm_needs_no_public_notice() -> None:
    cluster = xm_recommended()
    certify_xm(cluster)
    assert cluster.case.notice is None


def test_certify_xm_refuses_without_the_miit_document_number() -> None:
    cluster = xm_recommended()
    rules = xm_rules()
    refused(cluster, InvalidInput, "document_number_required",
            lambda: cluster.certify(miit_recorder(XM_CERTIFIED_ON), rules.validity_years,
                                    rules.id, profile=profile_of(cluster)))


def test_certify_xm_refuses_the_user_who_recommended_the_case() -> None:
    cluster = xm_recommended()
    recommender = cluster.case.recommended_by
    assert recommender is not None
    refused(cluster, RuleViolation, "four_eyes",
            lambda: certify_xm(cluster, user_id=recommender))


def test_certify_xm_refuses_a_case_the_city_has_not_recommended() -> None:
    cluster = xm_applied()
    refused(cluster, WrongState, "wrong_state", lambda: certify_xm(cluster))


def test_certify_xm_refuses_a_date_before_the_application() -> None:
    cluster = xm_recommended()
    refused(cluster, InvalidInput, "effective_date_before_application",
            lambda: certify_xm(cluster, on=date(2024, 11, 29)))


# ---- rejection ------------------------------------------------------------------------------


def test_reject_ends_an_fj_case_under_notice() -> None:
    cluster = fj_under_notice()
    cluster.reject(province(FJ_CERTIFIED_ON, comment="复审未通过"), profile=profile_of(cluster))
    assert cluster.case.status == Status.REJECTED
    assert cluster.case.rejected_reason == "复审未通过"


def test_reject_ends_an_fj_case_before_shortlisting() -> None:
    cluster = fj_recommended()
    cluster.reject(
        province(FJ_SHORTLISTED_ON, comment="复审实地抽查未通过"),
        profile=profile_of(cluster),
    )
    assert cluster.case.status == Status.REJECTED


def test_reject_follows_an_upheld_objection() -> None:
    cluster = fj_under_notice()
    resolve(cluster, object_to(cluster), upheld=True)
    cluster.reject(province(FJ_CERTIFIED_ON, comment="公示异议成立"), profile=profile_of(cluster))
    assert cluster.case.status == Status.REJECTED


def test_reject_records_the_certifying_body() -> None:
    cluster = xm_recommended()
    cluster.reject(miit_recorder(XM_CERTIFIED_ON, comment="未列入工信部公布名单"),
        profile=profile_of(cluster))
    event = last_event(cluster)
    assert isinstance(event, Cluster.Rejected)
    assert event.certifying_body == "MIIT"


def test_reject_refuses_without_a_reason() -> None:
    cluster = fj_under_notice()
    refused(cluster, InvalidInput, "reason_required",
            lambda: cluster.reject(province(FJ_CERTIFIED_ON), profile=profile_of(cluster)))


def test_reject_refuses_a_case_awaiting_city_review() -> None:
    cluster = fj_applied()
    refused(cluster, WrongState, "wrong_state",
            lambda: cluster.reject(province(FJ_CERTIFIED_ON, comment="复审未通过"),
                profile=profile_of(cluster)))


def test_reject_refuses_a_certified_case() -> None:
    cluster = fj_certified()
    refused(cluster, WrongState, "wrong_state",
            lambda: cluster.reject(province(FJ_CERTIFIED_ON, comment="复审未通过"),
                profile=profile_of(cluster)))


def test_reject_refuses_a_certified_xm_case() -> None:
    cluster = xm_certified()
    refused(cluster, WrongState, "wrong_state",
            lambda: cluster.reject(miit_recorder(XM_CERTIFIED_ON, comment="撤回"),
                profile=profile_of(cluster)))


def test_reject_refuses_a_date_before_the_application() -> None:
    cluster = fj_recommended()
    refused(cluster, InvalidInput, "effective_date_before_application",
            lambda: cluster.reject(province(date(2023, 2, 1), comment="复审未通过"),
                profile=profile_of(cluster)))


def test_certify_refuses_a_rejected_case() -> None:
    cluster = fj_under_notice()
    cluster.reject(province(FJ_CERTIFIED_ON, comment="复审未通过"), profile=profile_of(cluster))
    refused(cluster, WrongState, "wrong_state", lambda: certify(cluster))


def test_certify_xm_refuses_a_date_before_the_recommendation() -> None:
    cluster = xm_recommended()  # recommended 2024-12-16
    refused(cluster, InvalidInput, "effective_date_before_recommendation",
            lambda: certify_xm(cluster, on=date(2024, 12, 10)))
