"""Dates, times, money and places as people read them (boundaries on both sides)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from api.i18n import format_date, format_datetime, format_wan, format_yuan, region_label
from infra.rules import load_regions


@pytest.mark.parametrize(
    ("day", "zh", "en"),
    [
        (date(2026, 3, 30), "2026年3月30日", "30 Mar 2026"),
        (date(2026, 1, 1), "2026年1月1日", "1 Jan 2026"),
        (date(2025, 12, 31), "2025年12月31日", "31 Dec 2025"),
    ],
)
def test_a_date_is_written_the_way_each_language_writes_it(day: date, zh: str, en: str) -> None:
    assert format_date(day, "zh") == zh
    assert format_date(day, "en") == en


def test_no_date_is_an_empty_cell() -> None:
    assert format_date(None, "zh") == ""
    assert format_datetime(None, "en") == ""


@pytest.mark.parametrize(
    ("instant", "zh"),
    [
        # 16:00 UTC is midnight in Beijing: the day changes there, not at UTC midnight
        (datetime(2026, 3, 29, 15, 59, 59, tzinfo=UTC), "2026年3月29日 23:59:59"),
        (datetime(2026, 3, 29, 16, 0, 0, tzinfo=UTC), "2026年3月30日 00:00:00"),
        (datetime(2026, 3, 30, 8, tzinfo=timezone(timedelta(hours=8))), "2026年3月30日 08:00:00"),
    ],
)
def test_a_recorded_time_is_shown_in_china_standard_time(instant: datetime, zh: str) -> None:
    assert format_datetime(instant, "zh") == zh


def test_a_recorded_time_in_english_and_in_another_zone() -> None:
    instant = datetime(2026, 3, 29, 16, 5, 9, tzinfo=UTC)
    assert format_datetime(instant, "en") == "30 Mar 2026 00:05:09"
    assert format_datetime(instant, "en", tz=UTC) == "29 Mar 2026 16:05:09"
    assert format_date(instant, "zh") == "2026年3月30日"  # an instant's date is Beijing's


def test_a_time_without_its_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        format_datetime(datetime(2026, 3, 30, 8, 0), "zh")  # noqa: DTZ001 - the point


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (99, "0.99"),
        (100, "1.00"),
        (123_456_789, "1,234,567.89"),
        (-1, "-0.01"),
        (-123_456_789, "-1,234,567.89"),
        (10**13, "100,000,000,000.00"),  # MAX_FEN: 1,000亿元
        (Decimal(123_456_789), "1,234,567.89"),  # what PostgreSQL's sum() of fen gives
    ],
)
def test_yuan_with_two_decimals_from_fen(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@pytest.mark.parametrize("amount", [1.5, 100.0, True, Decimal("1.5"), Decimal("NaN"), "100"])
def test_money_is_never_a_float_or_a_fraction_of_a_fen(amount: object) -> None:
    with pytest.raises(TypeError):
        format_yuan(amount)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_wan(amount)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00万元"),
        (1, "0.00万元"),  # 1 fen
        (4_999, "0.00万元"),  # 49.99 yuan: below half of 0.01万元 (100 yuan)
        (5_000, "0.01万元"),  # 50 yuan: exactly half, rounds up
        (10_000, "0.01万元"),
        (1_000_000, "1.00万元"),  # 10,000 yuan
        (123_454_999, "123.45万元"),
        (123_455_000, "123.46万元"),
        (123_456_789, "123.46万元"),
        (100_000_000_000, "100,000.00万元"),  # one billion yuan
        (999_999_995_000, "1,000,000.00万元"),  # ten billion yuan, by half a step
        (-5_000, "-0.01万元"),  # half away from zero
        (-4_999, "0.00万元"),  # no "-0.00"
        (Decimal(5_000), "0.01万元"),
    ],
)
def test_wan_yuan_rounded_half_up_to_two_decimals(fen: int, text: str) -> None:
    assert format_wan(fen) == text


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "CNY 0.00 million"),
        (499_999, "CNY 0.00 million"),  # 4,999.99 yuan
        (500_000, "CNY 0.01 million"),  # 5,000 yuan
        (123_456_789, "CNY 1.23 million"),
        (100_000_000_000, "CNY 1,000.00 million"),
    ],
)
def test_summaries_in_english_are_in_millions(fen: int, text: str) -> None:
    assert format_wan(fen, "en") == text


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("350102", "福州市 · 鼓楼区"),
        ("350203", "厦门市 · 思明区"),
        ("350100", "福州市"),
        ("350000", "福建省"),
        ("350128", "平潭综合实验区（平潭县）"),  # Pingtan: its own city (FJ Art. 4)
        ("999999", "999999"),  # unknown: the code itself
        ("", ""),
        (None, ""),
    ],
)
def test_a_region_is_named_under_its_city(code: str | None, label: str) -> None:
    regions = load_regions()
    assert region_label(regions, code, "zh") == label
    assert region_label(regions, code, "en") == label  # the region table is in Chinese only
