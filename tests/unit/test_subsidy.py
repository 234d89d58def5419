"""XM Art. 13 subsidy entitlement in fen, band boundaries on both sides, and money formatting."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.money import format_fen, yuan_to_fen
from domain.rulebook import RulebookVersion, parse_rulebook_version
from domain.subsidy import entitlement

RULES = Path(__file__).resolve().parents[2] / "domain" / "rules"


def load(name: str) -> RulebookVersion:
    return parse_rulebook_version((RULES / name).read_bytes(), source_name=name)


XM = load("xm-2024.toml")
FJ = load("fj-2022.toml")

YEAR_TWO = [  # by the final score of the 1st assessment
    ("0", 0),
    ("59.99", 0),
    ("60", 200_000),
    ("69.99", 200_000),
    ("70", 400_000),
    ("79.99", 400_000),
    ("80", 600_000),
    ("100", 600_000),
]
YEAR_THREE = [  # by the final score of the 2nd assessment
    ("0", 0),
    ("59.99", 0),
    ("60", 200_000),
    ("69.99", 200_000),
    ("70", 300_000),
    ("79.99", 300_000),
    ("80", 400_000),
    ("100", 400_000),
]


def test_year_one_is_a_lump_sum_of_one_million_yuan_without_a_score() -> None:
    assert entitlement(XM, 1, None) == yuan_to_fen(1_000_000)


@pytest.mark.parametrize(("score", "yuan"), YEAR_TWO, ids=[s for s, _ in YEAR_TWO])
def test_year_two_amount_follows_the_band_of_the_score(score: str, yuan: int) -> None:
    assert entitlement(XM, 2, Decimal(score)) == yuan_to_fen(yuan)


@pytest.mark.parametrize(("score", "yuan"), YEAR_THREE, ids=[s for s, _ in YEAR_THREE])
def test_year_three_amount_follows_the_band_of_the_score(score: str, yuan: int) -> None:
    assert entitlement(XM, 3, Decimal(score)) == yuan_to_fen(yuan)


def test_three_years_at_full_marks_total_two_million_yuan() -> None:
    total = sum(entitlement(XM, year, Decimal(100)) for year in (1, 2, 3))
    assert total == yuan_to_fen(2_000_000)


def test_year_two_without_a_score_requires_the_first_assessment() -> None:
    with pytest.raises(RuleViolation) as raised:
        entitlement(XM, 2, None)
    assert raised.value.code == "score_required"
    assert raised.value.details["by_assessment"] == 1


def test_year_three_without_a_score_requires_the_second_assessment() -> None:
    with pytest.raises(RuleViolation) as raised:
        entitlement(XM, 3, None)
    assert raised.value.details["by_assessment"] == 2


@pytest.mark.parametrize("score", ["100.01", "-0.01", "NaN", "Infinity"])
def test_score_outside_0_to_100_is_out_of_range(score: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        entitlement(XM, 2, Decimal(score))
    assert raised.value.code == "score_out_of_range"


def test_no_subsidy_beyond_the_third_year() -> None:
    with pytest.raises(NotFound) as raised:
        entitlement(XM, 4, Decimal(90))
    assert raised.value.code == "no_subsidy_for_year"


def test_fj_programme_grants_no_subsidy() -> None:
    with pytest.raises(NotFound):
        entitlement(FJ, 1, None)


def test_yuan_convert_to_fen_exactly() -> None:
    assert yuan_to_fen(600_000) == 60_000_000


def test_yuan_to_fen_refuses_floats() -> None:
    with pytest.raises(TypeError):
        yuan_to_fen(0.1)  # type: ignore[arg-type]


def test_fen_format_as_yuan_with_separators() -> None:
    assert format_fen(60_000_000) == "¥600,000.00"


def test_fen_format_keeps_the_cents() -> None:
    assert format_fen(1_234_505) == "¥12,345.05"


def test_negative_fen_format_with_a_leading_minus() -> None:
    assert format_fen(-150) == "-¥1.50"


def test_zero_fen_formats_as_zero_yuan() -> None:
    assert format_fen(0) == "¥0.00"
