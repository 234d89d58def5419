"""Cluster aggregate, stage 1–2: the application (FJ Art. 11; XM Art. 5–6) and the city's
review, recommendation or refusal (FJ Art. 12; XM Art. 7). Pure: no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import msgspec
import pytest

from domain.case import Status
from domain.cluster import Cluster
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import Dossier
from domain.rulebook import Programme
from tests.factories import fj_dossier, xm_dossier
from tests.unit.cluster_steps import (
    FJ_APPLIED_ON,
    FJ_RECOMMENDED_ON,
    eligibility,
    fj_applied,
    fj_city,
    fj_county,
    fj_recommended,
    fj_rules,
    last_event,
    profile_of,
    refused,
    xm_applied,
    xm_city,
    xm_rules,
)


def fj_with(**changes: object) -> Dossier:
    return msgspec.structs.replace(fj_dossier(), **changes)


def xm_with(**changes: object) -> Dossier:
    return msgspec.structs.replace(xm_dossier(), **changes)


def with_indicators(**changes: object) -> Dossier:
    dossier = fj_dossier()
    return msgspec.structs.replace(
        dossier, indicators=msgspec.structs.replace(dossier.indicators, **changes)
    )


def recommend_fj(cluster: Cluster, on: date = FJ_RECOMMENDED_ON, *, onsite: bool = True) -> None:
    cluster.recommend(
        fj_city(on), eligibility(cluster.case.dossier, fj_rules()), onsite_verified=onsite
    )


# ---- apply --------------------------------------------------------------------------------


def test_apply_opens_a_case_awaiting_city_review() -> None:
    cluster = fj_applied()
    assert cluster.case.status == Status.APPLIED
    assert cluster.case.applied_on == FJ_APPLIED_ON
    assert cluster.case.applied_by == "county-350582"


def test_apply_records_the_rulebook_version_in_force() -> None:
    cluster = fj_applied()
    applied = last_event(cluster)
    assert isinstance(applied, Cluster.Applied)
    assert applied.rulebook_version == "FJ-2022"
    assert cluster.case.rulebook_version == "FJ-2022"


def test_apply_triggers_exactly_one_applied_event() -> None:
    cluster = fj_applied()
    assert [type(e) for e in cluster.pending_events] == [Cluster.Applied]


def test_apply_refuses_a_blank_name() -> None:
    refused(None, InvalidInput, "name_required",
            lambda: Cluster.apply(fj_county(FJ_APPLIED_ON), fj_with(name="  "), "FJ-2022",
                                  profile=profile_of(Programme.FJ)))


def test_apply_refuses_a_blank_leading_industry() -> None:
    refused(None, InvalidInput, "leading_industry_required",
            lambda: Cluster.apply(fj_county(FJ_APPLIED_ON), fj_with(leading_industry=""),
                                  "FJ-2022", profile=profile_of(Programme.FJ)))


def test_apply_refuses_an_xm_dossier_without_operating_unit() -> None:
    refused(None, RuleViolation, "operating_unit_required",
            lambda: Cluster.apply(fj_county(FJ_APPLIED_ON), xm_with(operating_unit=None),
                                  "XM-2024", profile=profile_of(Programme.XM)))


def test_apply_refuses_an_xm_dossier_with_a_blank_operating_unit() -> None:
    refused(None, RuleViolation, "operating_unit_required",
            lambda: Cluster.apply(fj_county(FJ_APPLIED_ON), xm_with(operating_unit=" "),
                                  "XM-2024", profile=profile_of(Programme.XM)))


def test_apply_accepts_an_fj_dossier_without_operating_unit() -> None:
    cluster = fj_applied(fj_with(operating_unit=None))
    assert cluster.case.dossier.operating_unit is None


def test_apply_refuses_an_fj_dossier_without_development_plan_targets() -> None:
    refused(None, RuleViolation, "development_plan_required",
            lambda: Cluster.apply(fj_county(FJ_APPLIED_ON), fj_with(plan_targets=()),
                                  "FJ-2022", profile=profile_of(Programme.FJ)))


def test_apply_accepts_an_xm_dossier_without_plan_targets() -> None:
    cluster = xm_applied(xm_with(plan_targets=()))
    assert cluster.case.status == Status.APPLIED


def test_apply_refuses_a_dossier_without_the_negative_list_declaration() -> None:
    refused(None, RuleViolation, "negative_list_not_declared",
            lambda: Cluster.apply(fj_county(FJ_APPLIED_ON), fj_with(negative_list_clear=False),
                                  "FJ-2022", profile=profile_of(Programme.FJ)))


# ---- recommend ----------------------------------------------------------------------------


def test_recommend_moves_the_case_to_recommended() -> None:
    cluster = fj_recommended()
    assert cluster.case.status == Status.RECOMMENDED
    assert cluster.case.recommended_by == "city-350500"
    assert cluster.case.recommended_on == FJ_RECOMMENDED_ON


def test_recommend_records_the_rulebook_version_of_the_precheck() -> None:
    cluster = fj_recommended()
    event = last_event(cluster)
    assert isinstance(event, Cluster.Recommended)
    assert event.rulebook_version == "FJ-2022"
    assert event.onsite_verified is True


def test_recommend_refuses_without_onsite_verification() -> None:
    cluster = fj_applied()
    refused(cluster, RuleViolation, "onsite_verification_required",
            lambda: recommend_fj(cluster, onsite=False))


def test_recommend_refuses_a_dossier_below_the_standards() -> None:
    cluster = fj_applied(with_indicators(output_value_yuan=(3_100_000_000, 2_999_999_999,
                                                            3_200_000_000)))
    error = refused(cluster, RuleViolation, "standards_not_met", lambda: recommend_fj(cluster))
    assert error.details["shortfalls"] == ["output_value_each_year"]
    assert error.details["rulebook"] == "FJ-2022"


def test_recommend_refuses_leading_industry_share_of_exactly_sixty_percent() -> None:
    # FJ Annex §1: 高于60% excludes 60 itself
    cluster = fj_applied(with_indicators(leading_industry_share_pct=Decimal(60)))
    error = refused(cluster, RuleViolation, "standards_not_met", lambda: recommend_fj(cluster))
    assert error.details["shortfalls"] == ["leading_industry_share"]


def test_recommend_accepts_leading_industry_share_just_above_sixty_percent() -> None:
    cluster = fj_applied(with_indicators(leading_industry_share_pct=Decimal("60.01")))
    recommend_fj(cluster)
    assert cluster.case.status == Status.RECOMMENDED


def test_recommend_accepts_sme_share_of_exactly_sixty_percent() -> None:
    # FJ Annex §1: 60%以上 includes 60
    cluster = fj_applied(with_indicators(sme_output_share_pct=Decimal(60)))
    recommend_fj(cluster)
    assert cluster.case.status == Status.RECOMMENDED


def test_recommend_refuses_a_dossier_with_a_missing_figure() -> None:
    cluster = fj_applied(with_indicators(industrial_internet_adoption_pct=None))
    error = refused(cluster, RuleViolation, "standards_not_met", lambda: recommend_fj(cluster))
    assert error.details["shortfalls"] == ["industrial_internet_adoption"]


def test_recommend_of_xm_refuses_figures_that_meet_fj_but_not_national_standards() -> None:
    # XM Art. 5, 7: MIIT's standards apply (output >= 4 billion yuan each year)
    indicators = msgspec.structs.replace(
        xm_dossier().indicators, output_value_yuan=(3_500_000_000,) * 3
    )
    cluster = xm_applied(xm_with(indicators=indicators))
    refused(cluster, RuleViolation, "standards_not_met",
            lambda: cluster.recommend(xm_city(date(2024, 12, 16)),
                                      eligibility(cluster.case.dossier, xm_rules()),
                                      onsite_verified=True))


def test_recommend_refuses_a_case_already_recommended() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "wrong_state", lambda: recommend_fj(cluster))


def test_recommend_refuses_a_case_the_city_declined() -> None:
    cluster = fj_applied()
    cluster.decline_to_recommend(fj_city(FJ_RECOMMENDED_ON, comment="择优未推荐"))
    refused(cluster, WrongState, "wrong_state", lambda: recommend_fj(cluster))


def test_recommend_refuses_a_date_before_the_application() -> None:
    cluster = fj_applied()
    refused(cluster, InvalidInput, "effective_date_before_application",
            lambda: recommend_fj(cluster, FJ_APPLIED_ON - timedelta(days=1)))


def test_recommend_accepts_the_application_day_itself() -> None:
    cluster = fj_applied()
    recommend_fj(cluster, FJ_APPLIED_ON)
    assert cluster.case.recommended_on == FJ_APPLIED_ON


# ---- decline to recommend ------------------------------------------------------------------


def test_decline_to_recommend_ends_the_case_as_not_recommended() -> None:
    cluster = fj_applied()
    cluster.decline_to_recommend(fj_city(FJ_RECOMMENDED_ON, comment="择优未推荐"))
    assert cluster.case.status == Status.NOT_RECOMMENDED
    assert isinstance(last_event(cluster), Cluster.NotRecommended)


def test_decline_to_recommend_refuses_without_a_reason() -> None:
    cluster = fj_applied()
    refused(cluster, InvalidInput, "reason_required",
            lambda: cluster.decline_to_recommend(fj_city(FJ_RECOMMENDED_ON, comment="  ")))


def test_decline_to_recommend_refuses_a_recommended_case() -> None:
    cluster = fj_recommended()
    refused(cluster, WrongState, "wrong_state",
            lambda: cluster.decline_to_recommend(fj_city(FJ_RECOMMENDED_ON, comment="改变主意")))


def test_decline_to_recommend_refuses_a_date_before_the_application() -> None:
    cluster = fj_applied()
    refused(cluster, InvalidInput, "effective_date_before_application",
            lambda: cluster.decline_to_recommend(
                fj_city(FJ_APPLIED_ON - timedelta(days=1), comment="择优未推荐")))


@pytest.mark.parametrize("applied", [fj_applied, xm_applied], ids=["FJ", "XM"])
def test_decline_to_recommend_is_available_in_both_programmes(
    applied: Callable[[], Cluster],
) -> None:
    cluster = applied()
    cluster.decline_to_recommend(fj_city(date(2025, 1, 6), comment="择优未推荐"))
    assert cluster.case.status == Status.NOT_RECOMMENDED
