"""The shipped rulebook files parse, say what the sources say, and are picked by date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from domain.errors import ConfigError, NotFound
from domain.indicators import Indicators
from domain.rulebook import (
    AnyOf,
    Programme,
    Qualitative,
    Rulebook,
    RulebookVersion,
    Threshold,
    parse_rulebook_version,
)

RULES = Path(__file__).resolve().parents[2] / "domain" / "rules"
FILES = ("fj-2022.toml", "xm-2024.toml", "national-2022.toml", "national-2024.toml")

MINIMAL = b"""
id = "T-1"
programme = "FJ"
title = "t"
source = "t"
effective_from = 2022-12-06
validity_years = 3
[annual_report]
month = 3
day = 30
"""


def load(name: str) -> RulebookVersion:
    return parse_rulebook_version((RULES / name).read_bytes(), source_name=name)


@pytest.fixture(scope="module")
def rulebook() -> Rulebook:
    return Rulebook(versions=tuple(load(name) for name in FILES))


def thresholds(version: RulebookVersion) -> dict[str, Threshold]:
    found: dict[str, Threshold] = {}
    for criterion in version.thresholds:
        if isinstance(criterion, Threshold):
            found[criterion.id] = criterion
        elif isinstance(criterion, AnyOf):
            found.update((alt.id, alt) for alt in criterion.alternatives)
    return found


@pytest.mark.parametrize("name", FILES)
def test_shipped_file_parses_with_its_id_matching_the_file_name(name: str) -> None:
    assert load(name).id == name.removesuffix(".toml").upper()


@pytest.mark.parametrize("name", FILES)
def test_every_criterion_cites_an_article(name: str) -> None:
    version = load(name)
    assert all(criterion.article for criterion in version.thresholds)
    assert all(t.article for t in thresholds(version).values())


@pytest.mark.parametrize("name", FILES)
def test_every_criterion_reads_a_known_indicator(name: str) -> None:
    version = load(name)
    named = [t.indicator for t in thresholds(version).values()] + [
        c.indicator for c in version.thresholds if isinstance(c, Qualitative) and c.indicator
    ]
    assert set(named) <= set(Indicators.__struct_fields__)


@pytest.mark.parametrize("name", FILES)
def test_boundary_words_map_to_comparators_as_civil_code_art_1259(name: str) -> None:
    expected = {"以上": "ge", "不少于": "ge", "不低于": "ge", "不超过": "le", "高于": "gt"}
    for threshold in thresholds(load(name)).values():
        word = next(w for w in expected if threshold.wording.endswith(w))
        assert threshold.comparator == expected[word], threshold.id


def test_fj_2022_dates_follow_art_14_15_18() -> None:
    fj = load("fj-2022.toml")
    assert fj.effective_from == date(2022, 12, 6)
    assert fj.term_ends == date(2024, 12, 5)
    assert fj.validity_years == 3
    assert (fj.annual_report.month, fj.annual_report.day) == (3, 30)


def test_fj_appeal_is_15_working_days_counted_from_the_next_day() -> None:
    appeal = load("fj-2022.toml").appeal_period
    assert appeal is not None
    assert (appeal.days, appeal.working_days, appeal.count_trigger_day) == (15, True, False)
    assert appeal.article == "FJ Art. 16"


def test_fj_appeal_reply_is_30_working_days() -> None:
    reply = load("fj-2022.toml").appeal_reply
    assert reply is not None
    assert (reply.days, reply.working_days) == (30, True)


def test_fj_certification_notice_says_its_length_is_not_in_the_source() -> None:
    notice = load("fj-2022.toml").certification_notice
    assert notice is not None
    assert notice.days == 5
    assert "Not stated in the source" in notice.note


def test_fj_grants_no_subsidy() -> None:
    with pytest.raises(NotFound) as raised:
        load("fj-2022.toml").subsidy_year(1)
    assert raised.value.code == "no_subsidy_for_year"


def test_fj_output_threshold_is_3_billion_yuan_in_each_of_3_years() -> None:
    output = thresholds(load("fj-2022.toml"))["output_value_each_year"]
    assert (output.comparator, output.value, output.years) == ("ge", Decimal(3_000_000_000), 3)


def test_national_standards_ask_more_than_fj() -> None:
    fj, national = thresholds(load("fj-2022.toml")), thresholds(load("national-2022.toml"))
    stricter = {
        "output_value_each_year": (3_000_000_000, 4_000_000_000),
        "sme_output_share": (60, 70),
        "leading_industry_share": (60, 70),
        "output_growth_avg": (6, 10),
        "specialised_innovative_hightech": (6, 10),
    }
    for ident, (fj_value, national_value) in stricter.items():
        expected = (Decimal(fj_value), Decimal(national_value))
        assert (fj[ident].value, national[ident].value) == expected, ident


def test_national_2022_and_2024_share_standards_but_not_the_report_deadline() -> None:
    v2022, v2024 = load("national-2022.toml"), load("national-2024.toml")
    assert v2022.thresholds == v2024.thresholds
    assert (v2022.annual_report.month, v2022.annual_report.day) == (4, 30)
    assert (v2024.annual_report.month, v2024.annual_report.day) == (3, 31)


def test_xm_certifies_against_the_national_standards_per_art_5() -> None:
    xm, national = thresholds(load("xm-2024.toml")), thresholds(load("national-2024.toml"))
    assert {k: (t.comparator, t.value) for k, t in xm.items()} == {
        k: (t.comparator, t.value) for k, t in national.items()
    }


def test_xm_keeps_april_30_for_annual_reports_per_art_9() -> None:
    xm = load("xm-2024.toml")
    assert (xm.annual_report.month, xm.annual_report.day, xm.annual_report.article) == (
        4,
        30,
        "XM Art. 9",
    )


def test_xm_subsidy_notice_is_5_working_days_counting_publication_day() -> None:
    notice = load("xm-2024.toml").subsidy_notice
    assert notice is not None
    assert (notice.days, notice.working_days, notice.count_trigger_day) == (5, True, True)
    assert "not say" in notice.note


def test_xm_fund_use_categories_are_the_six_of_art_14() -> None:
    assert load("xm-2024.toml").fund_use_categories == (
        "policy_publicity_and_training",
        "industrial_exchange_and_matchmaking",
        "industry_monitoring_and_services",
        "brand_building",
        "public_service_platform",
        "operating_unit_management",
    )


def test_xm_validity_is_3_years_and_scores_run_0_to_100() -> None:
    xm = load("xm-2024.toml")
    assert (xm.validity_years, xm.score_min, xm.score_max) == (3, Decimal(0), Decimal(100))


def test_minimal_file_parses() -> None:
    assert parse_rulebook_version(MINIMAL, source_name="t.toml").id == "T-1"


def test_wrong_field_type_names_the_file_and_the_field() -> None:
    raw = MINIMAL.replace(b"validity_years = 3", b'validity_years = "three"')
    with pytest.raises(ConfigError) as raised:
        parse_rulebook_version(raw, source_name="broken.toml")
    assert raised.value.code == "invalid_rulebook"
    assert "broken.toml" in raised.value.message
    assert "validity_years" in raised.value.message


def test_missing_required_field_is_named() -> None:
    raw = MINIMAL.replace(b"validity_years = 3\n", b"")
    with pytest.raises(ConfigError, match="validity_years"):
        parse_rulebook_version(raw, source_name="broken.toml")


def test_unknown_criterion_kind_is_rejected() -> None:
    raw = MINIMAL + b'[[thresholds]]\nkind = "vague"\nid = "x"\narticle = "a"\nlabel = "l"\n'
    with pytest.raises(ConfigError) as raised:
        parse_rulebook_version(raw, source_name="broken.toml")
    assert "thresholds" in raised.value.message


def test_file_that_is_not_toml_is_rejected() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_rulebook_version(b"id = = 1", source_name="broken.toml")
    assert raised.value.code == "invalid_rulebook"
    assert "broken.toml" in raised.value.message


def test_subsidy_bands_out_of_order_are_rejected() -> None:
    raw = MINIMAL + (
        b"[[subsidy]]\nfunding_year = 2\narticle = 'a'\nby_assessment = 1\n"
        b"bands = [{ min_score = 60, amount_fen = 1 }, { min_score = 80, amount_fen = 2 }]\n"
    )
    with pytest.raises(ConfigError, match="highest minimum score"):
        parse_rulebook_version(raw, source_name="broken.toml")


def test_banded_subsidy_year_without_assessment_is_rejected() -> None:
    raw = MINIMAL + (
        b"[[subsidy]]\nfunding_year = 2\narticle = 'a'\n"
        b"bands = [{ min_score = 60, amount_fen = 1 }]\n"
    )
    with pytest.raises(ConfigError, match="by_assessment"):
        parse_rulebook_version(raw, source_name="broken.toml")


def test_duplicate_criterion_ids_are_rejected() -> None:
    criterion = b'[[thresholds]]\nkind = "qualitative"\nid = "x"\narticle = "a"\nlabel = "l"\n'
    with pytest.raises(ConfigError, match="unique"):
        parse_rulebook_version(MINIMAL + criterion + criterion, source_name="broken.toml")


def test_no_fj_version_is_in_force_before_2022_12_06(rulebook: Rulebook) -> None:
    with pytest.raises(NotFound) as raised:
        rulebook.in_force(Programme.FJ, date(2022, 12, 5))
    assert raised.value.code == "no_rulebook_in_force"


def test_fj_2022_is_in_force_from_its_publication_day(rulebook: Rulebook) -> None:
    assert rulebook.in_force(Programme.FJ, date(2022, 12, 6)).id == "FJ-2022"


def test_fj_2022_still_applies_after_its_term_without_successor(rulebook: Rulebook) -> None:
    assert rulebook.in_force(Programme.FJ, date(2025, 6, 1)).id == "FJ-2022"


def test_national_2022_applies_until_the_end_of_2023(rulebook: Rulebook) -> None:
    assert rulebook.in_force(Programme.NATIONAL, date(2023, 12, 31)).id == "NATIONAL-2022"


def test_national_2024_applies_from_2024_01_01(rulebook: Rulebook) -> None:
    assert rulebook.in_force(Programme.NATIONAL, date(2024, 1, 1)).id == "NATIONAL-2024"


def test_no_xm_version_is_in_force_before_2024_11_25(rulebook: Rulebook) -> None:
    with pytest.raises(NotFound):
        rulebook.in_force(Programme.XM, date(2024, 11, 24))


def test_xm_2024_is_in_force_from_2024_11_25(rulebook: Rulebook) -> None:
    assert rulebook.in_force(Programme.XM, date(2024, 11, 25)).id == "XM-2024"


def test_version_is_found_by_id(rulebook: Rulebook) -> None:
    assert rulebook.get("XM-2024").programme is Programme.XM


def test_unknown_version_id_is_not_found(rulebook: Rulebook) -> None:
    with pytest.raises(NotFound) as raised:
        rulebook.get("FJ-2099")
    assert raised.value.code == "unknown_rulebook_version"
