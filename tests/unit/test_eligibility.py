"""Pre-check of a dossier against the FJ 2022 and national standards, boundaries on both sides."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from domain.eligibility import CriterionResult, EligibilityReport, precheck
from domain.errors import ConfigError, InvalidInput
from domain.indicators import Indicators
from domain.rulebook import (
    AnnualDeadline,
    Programme,
    RulebookVersion,
    Threshold,
    parse_rulebook_version,
)

RULES = Path(__file__).resolve().parents[2] / "domain" / "rules"


def load(name: str) -> RulebookVersion:
    return parse_rulebook_version((RULES / name).read_bytes(), source_name=name)


FJ = load("fj-2022.toml")
NATIONAL = load("national-2022.toml")

# Comfortably meets both the FJ and the national standards.
STRONG = Indicators(
    area_km2=Decimal(50),
    output_value_yuan=(5_000_000_000, 5_500_000_000, 6_000_000_000),
    sme_output_share_pct=Decimal(80),
    leading_industry_share_pct=Decimal(85),
    output_growth_avg_pct=Decimal(12),
    champion_or_little_giant_count=2,
    specialised_innovative_hightech_count=15,
    sme_rd_growth_avg_pct=Decimal(12),
    invention_patent_growth_avg_pct=Decimal(15),
    invention_patents_per_10k_people=Decimal(20),
    industrial_internet_adoption_pct=Decimal(30),
    co2_intensity_falling=True,
    energy_water_better_than_benchmark=True,
    negative_list_clear=True,
)


def dossier(**changes: Any) -> Indicators:
    return msgspec.structs.replace(STRONG, **changes)


def criterion(report: EligibilityReport, ident: str) -> CriterionResult:
    return next(c for c in report.criteria if c.id == ident)


def outcome(ident: str, version: RulebookVersion = FJ, /, **changes: Any) -> str:
    return criterion(precheck(dossier(**changes), version), ident).outcome


def test_dossier_meeting_every_threshold_is_eligible() -> None:
    assert precheck(STRONG, FJ).eligible


def test_report_names_the_rulebook_version_applied() -> None:
    assert precheck(STRONG, NATIONAL).rulebook_version == "NATIONAL-2022"


def test_report_lists_every_criterion_in_annex_order() -> None:
    assert [c.id for c in precheck(STRONG, FJ).criteria] == [c.id for c in FJ.thresholds]


def test_qualitative_criteria_without_indicator_are_left_for_review() -> None:
    report = precheck(STRONG, FJ)
    assert {c.id for c in report.for_review} == {
        "core_competitiveness",
        "supply_chain_collaboration",
        "collaborative_innovation",
        "digital_transformation",
        "green_development",
        "open_cooperation",
        "governance_and_services",
    }


def test_criteria_left_for_review_do_not_block_eligibility() -> None:
    report = precheck(STRONG, FJ)
    assert report.for_review
    assert report.eligible


# --- FJ Annex §1 -----------------------------------------------------------------------------


def test_area_of_exactly_100_km2_passes() -> None:
    assert outcome("area", area_km2=Decimal(100)) == "pass"


def test_area_just_over_100_km2_fails() -> None:
    assert outcome("area", area_km2=Decimal("100.01")) == "fail"


def test_output_of_exactly_3_billion_each_year_passes_fj() -> None:
    assert outcome("output_value_each_year", output_value_yuan=(3_000_000_000,) * 3) == "pass"


def test_output_of_exactly_3_billion_each_year_fails_national() -> None:
    years = (3_000_000_000,) * 3
    assert outcome("output_value_each_year", NATIONAL, output_value_yuan=years) == "fail"


def test_output_of_exactly_4_billion_each_year_passes_national() -> None:
    years = (4_000_000_000,) * 3
    assert outcome("output_value_each_year", NATIONAL, output_value_yuan=years) == "pass"


def test_output_one_yuan_short_in_one_year_fails_and_reports_the_lowest_year() -> None:
    years = (3_500_000_000, 2_999_999_999, 3_200_000_000)
    result = criterion(precheck(dossier(output_value_yuan=years), FJ), "output_value_each_year")
    assert result.outcome == "fail"
    assert result.figure == "2999999999 yuan (lowest of the last 3 years)"
    assert result.threshold == "≥ 3000000000 yuan (以上)"


def test_output_reads_only_the_last_three_years() -> None:
    years = (1_000_000_000, 3_000_000_000, 3_100_000_000, 3_200_000_000)
    assert outcome("output_value_each_year", output_value_yuan=years) == "pass"


def test_output_with_fewer_than_three_years_is_missing() -> None:
    years = (5_000_000_000, 5_000_000_000)
    result = criterion(precheck(dossier(output_value_yuan=years), FJ), "output_value_each_year")
    assert result.outcome == "missing"
    assert result.figure == "2 of 3 years given"


def test_output_with_no_years_is_missing_without_a_figure() -> None:
    result = criterion(precheck(dossier(output_value_yuan=()), FJ), "output_value_each_year")
    assert (result.outcome, result.figure) == ("missing", None)


def test_sme_share_of_exactly_60_percent_passes_fj() -> None:
    assert outcome("sme_output_share", sme_output_share_pct=Decimal(60)) == "pass"


def test_sme_share_just_under_60_percent_fails_fj() -> None:
    assert outcome("sme_output_share", sme_output_share_pct=Decimal("59.99")) == "fail"


def test_sme_share_of_60_percent_fails_national() -> None:
    assert outcome("sme_output_share", NATIONAL, sme_output_share_pct=Decimal(60)) == "fail"


def test_sme_share_of_exactly_70_percent_passes_national() -> None:
    assert outcome("sme_output_share", NATIONAL, sme_output_share_pct=Decimal(70)) == "pass"


def test_leading_industry_share_of_exactly_60_percent_fails_fj() -> None:
    assert outcome("leading_industry_share", leading_industry_share_pct=Decimal(60)) == "fail"


def test_leading_industry_share_just_over_60_percent_passes_fj() -> None:
    assert outcome("leading_industry_share", leading_industry_share_pct=Decimal("60.01")) == "pass"


def test_leading_industry_share_of_exactly_70_percent_fails_national() -> None:
    share = Decimal(70)
    assert outcome("leading_industry_share", NATIONAL, leading_industry_share_pct=share) == "fail"


def test_output_growth_of_exactly_6_percent_fails_fj() -> None:
    assert outcome("output_growth_avg", output_growth_avg_pct=Decimal(6)) == "fail"


def test_output_growth_of_6_01_percent_passes_fj() -> None:
    assert outcome("output_growth_avg", output_growth_avg_pct=Decimal("6.01")) == "pass"


def test_output_growth_of_exactly_10_percent_fails_national() -> None:
    assert outcome("output_growth_avg", NATIONAL, output_growth_avg_pct=Decimal(10)) == "fail"


def test_output_growth_of_10_01_percent_passes_national() -> None:
    growth = Decimal("10.01")
    assert outcome("output_growth_avg", NATIONAL, output_growth_avg_pct=growth) == "pass"


# --- FJ Annex §2: any of ---------------------------------------------------------------------


def test_one_champion_alone_meets_quality_sme_cultivation() -> None:
    changes = {"champion_or_little_giant_count": 1, "specialised_innovative_hightech_count": 0}
    assert outcome("quality_sme_cultivation", **changes) == "pass"


def test_six_specialised_firms_alone_meet_quality_sme_cultivation_in_fj() -> None:
    changes = {"champion_or_little_giant_count": 0, "specialised_innovative_hightech_count": 6}
    assert outcome("quality_sme_cultivation", **changes) == "pass"


def test_no_champion_and_five_specialised_firms_fail_fj() -> None:
    changes = {"champion_or_little_giant_count": 0, "specialised_innovative_hightech_count": 5}
    assert outcome("quality_sme_cultivation", **changes) == "fail"


def test_no_champion_and_nine_specialised_firms_fail_national() -> None:
    changes = {"champion_or_little_giant_count": 0, "specialised_innovative_hightech_count": 9}
    assert outcome("quality_sme_cultivation", NATIONAL, **changes) == "fail"


def test_no_champion_and_ten_specialised_firms_pass_national() -> None:
    changes = {"champion_or_little_giant_count": 0, "specialised_innovative_hightech_count": 10}
    assert outcome("quality_sme_cultivation", NATIONAL, **changes) == "pass"


def test_one_champion_passes_even_when_specialised_count_is_missing() -> None:
    changes = {"champion_or_little_giant_count": 1, "specialised_innovative_hightech_count": None}
    assert outcome("quality_sme_cultivation", **changes) == "pass"


def test_any_of_is_missing_when_no_alternative_passes_and_one_is_not_given() -> None:
    changes = {"champion_or_little_giant_count": 0, "specialised_innovative_hightech_count": None}
    assert outcome("quality_sme_cultivation", **changes) == "missing"


def test_any_of_shows_each_alternatives_figure_and_threshold() -> None:
    changes = {"champion_or_little_giant_count": 0, "specialised_innovative_hightech_count": 5}
    result = criterion(precheck(dossier(**changes), FJ), "quality_sme_cultivation")
    assert result.figure == "0 firms / 5 firms"
    assert result.threshold == "≥ 1 firms (不少于) or ≥ 6 firms (不少于)"
    assert [a.outcome for a in result.alternatives] == ["fail", "fail"]


# --- FJ Annex §4, §5 -------------------------------------------------------------------------


def test_rd_growth_of_exactly_6_percent_fails() -> None:
    assert outcome("sme_rd_growth_avg", sme_rd_growth_avg_pct=Decimal(6)) == "fail"


def test_rd_growth_of_6_01_percent_passes() -> None:
    assert outcome("sme_rd_growth_avg", sme_rd_growth_avg_pct=Decimal("6.01")) == "pass"


def test_patent_growth_of_exactly_10_percent_passes() -> None:
    growth = Decimal(10)
    assert outcome("invention_patent_growth_avg", invention_patent_growth_avg_pct=growth) == "pass"


def test_patent_growth_of_9_99_percent_fails() -> None:
    growth = Decimal("9.99")
    assert outcome("invention_patent_growth_avg", invention_patent_growth_avg_pct=growth) == "fail"


def test_exactly_10_patents_per_10k_people_pass() -> None:
    per_10k = Decimal(10)
    assert outcome("invention_patents_per_10k", invention_patents_per_10k_people=per_10k) == "pass"


def test_9_99_patents_per_10k_people_fail() -> None:
    per_10k = Decimal("9.99")
    assert outcome("invention_patents_per_10k", invention_patents_per_10k_people=per_10k) == "fail"


def test_industrial_internet_adoption_of_exactly_10_percent_passes() -> None:
    rate = Decimal(10)
    assert outcome("industrial_internet_adoption", industrial_internet_adoption_pct=rate) == "pass"


def test_industrial_internet_adoption_of_9_99_percent_fails() -> None:
    rate = Decimal("9.99")
    assert outcome("industrial_internet_adoption", industrial_internet_adoption_pct=rate) == "fail"


# --- missing figures -------------------------------------------------------------------------


def test_missing_figure_is_reported_missing_with_its_threshold() -> None:
    result = criterion(precheck(dossier(sme_rd_growth_avg_pct=None), FJ), "sme_rd_growth_avg")
    assert (result.outcome, result.figure, result.threshold) == ("missing", None, "> 6% (高于)")


def test_missing_figure_makes_the_dossier_ineligible() -> None:
    assert not precheck(dossier(sme_output_share_pct=None), FJ).eligible


def test_empty_dossier_reports_every_figure_and_declaration_missing() -> None:
    report = precheck(Indicators(), FJ)
    assert {c.outcome for c in report.shortfalls} == {"missing"}
    assert len(report.shortfalls) == 13


# --- yes/no indicators of qualitative criteria -----------------------------------------------


def test_co2_intensity_not_falling_fails_the_green_criterion() -> None:
    assert outcome("co2_intensity_falling", co2_intensity_falling=False) == "fail"


def test_co2_intensity_falling_passes_the_green_criterion() -> None:
    assert outcome("co2_intensity_falling", co2_intensity_falling=True) == "pass"


def test_undeclared_benchmark_comparison_is_missing() -> None:
    changes = {"energy_water_better_than_benchmark": None}
    assert outcome("energy_water_efficiency", **changes) == "missing"


def test_negative_list_breach_fails_and_makes_the_dossier_ineligible() -> None:
    report = precheck(dossier(negative_list_clear=False), FJ)
    assert criterion(report, "negative_list").outcome == "fail"
    assert not report.eligible


# --- what the reviewer sees ------------------------------------------------------------------


def test_failed_criterion_shows_figure_threshold_wording_and_article() -> None:
    report = precheck(dossier(leading_industry_share_pct=Decimal(60)), FJ)
    result = criterion(report, "leading_industry_share")
    assert (result.figure, result.threshold, result.comparator, result.wording) == (
        "60%",
        "> 60% (高于)",
        "gt",
        "高于",
    )
    assert result.article == "FJ Annex §1"


def test_shortfalls_list_only_failed_and_missing_criteria() -> None:
    report = precheck(dossier(output_growth_avg_pct=Decimal(6), area_km2=None), FJ)
    assert [(c.id, c.outcome) for c in report.shortfalls] == [
        ("area", "missing"),
        ("output_growth_avg", "fail"),
    ]


def test_report_encodes_to_json_for_the_reviewer() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(precheck(STRONG, FJ)))
    assert encoded["rulebook_version"] == "FJ-2022"
    assert encoded["eligible"] is True


def test_rulebook_naming_an_unknown_indicator_is_a_config_error() -> None:
    version = RulebookVersion(
        id="T-1",
        programme=Programme.FJ,
        title="t",
        source="t",
        effective_from=date(2022, 12, 6),
        validity_years=3,
        annual_report=AnnualDeadline(month=3, day=30),
        thresholds=(
            Threshold(
                id="x",
                article="a",
                label="l",
                indicator="no_such_figure",
                comparator="ge",
                value=Decimal(1),
                wording="以上",
            ),
        ),
    )
    with pytest.raises(ConfigError, match="no_such_figure"):
        precheck(STRONG, version)


# --- the indicators themselves ---------------------------------------------------------------


def test_indicators_decode_from_an_empty_document() -> None:
    assert msgspec.json.decode(b"{}", type=Indicators) == Indicators()


def test_share_above_100_percent_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        Indicators(sme_output_share_pct=Decimal("100.5"))
    assert raised.value.code == "indicator_out_of_range"


def test_growth_may_be_negative() -> None:
    assert Indicators(output_growth_avg_pct=Decimal(-3)).output_growth_avg_pct == -3


def test_not_a_number_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        Indicators(output_growth_avg_pct=Decimal("NaN"))


def test_negative_firm_count_is_rejected_when_decoded() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"champion_or_little_giant_count": -1}', type=Indicators)
