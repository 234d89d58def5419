"""Dates, times, money and places as people read them. Pure functions.

- Dates: 2026年3月30日 / 30 Mar 2026 (month names fixed here, not from the process locale).
- Recorded times are instants (UTC in the log) shown in China Standard Time (Asia/Shanghai,
  UTC+8, no daylight saving since 1991), with seconds: 2026年3月30日 14:05:09.
- Money is integer fen and never passes through float: yuan with two decimals for tables
  (`format_yuan`: 1,234,567.89), 万元 for summaries (`format_wan`: 123.46万元, rounded half
  up — away from zero — to two decimals of 万元, i.e. to 100 yuan, by integer arithmetic).
  An integral `Decimal` (what PostgreSQL's `sum()` of fen gives) is accepted; a float, a bool or
  a fraction of a fen is a TypeError.
- Places: names beside the code's parents (福州市 · 鼓楼区); the region table has Chinese names
  only, so English pages show them too. An unknown code is shown as the code itself.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from api.i18n.catalogue import Locale
from domain.regions import Region, Regions

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FEN_PER_YUAN = 100
FEN_PER_WAN = 10_000 * FEN_PER_YUAN
FEN_PER_MILLION = 1_000_000 * FEN_PER_YUAN
REGION_SEPARATOR = " · "


@functools.cache
def china_standard_time() -> tzinfo:
    return ZoneInfo("Asia/Shanghai")


def format_date(day: date | None, locale: Locale) -> str:
    """2026年3月30日 / 30 Mar 2026; an instant gives its date in China Standard Time; None
    gives "" (an empty cell)."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = _in_china(day)
    if locale == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_datetime(instant: datetime | None, locale: Locale, tz: tzinfo | None = None) -> str:
    """A recorded time in `tz` (default China Standard Time): 2026年3月30日 14:05:09 /
    30 Mar 2026 14:05:09. A naive datetime is refused: its zone would be a guess."""
    if instant is None:
        return ""
    local = _in_china(instant, tz)
    return f"{format_date(local.date(), locale)} {local:%H:%M:%S}"


def _in_china(instant: datetime, tz: tzinfo | None = None) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a recorded time must carry its time zone")
    return instant.astimezone(tz or china_standard_time())


def _fen(amount: int | Decimal) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise TypeError(f"money is integer fen, not {type(amount).__name__}")
    if isinstance(amount, Decimal):
        if not amount.is_finite() or amount != amount.to_integral_value():
            raise TypeError(f"money is integer fen, not {amount}")
        return int(amount)
    return amount


def format_yuan(fen: int | Decimal) -> str:
    """Yuan with two decimals and thousands separators: 123456789 -> "1,234,567.89"."""
    value = _fen(fen)
    sign = "-" if value < 0 else ""
    yuan, cents = divmod(abs(value), FEN_PER_YUAN)
    return f"{sign}{yuan:,}.{cents:02d}"


def _hundredths_half_up(fen: int, unit: int) -> int:
    """|fen| in hundredths of `unit`, rounded half up (ties away from zero)."""
    step = unit // 100
    whole, rest = divmod(abs(fen), step)
    return whole + (1 if 2 * rest >= step else 0)


def format_wan(fen: int | Decimal, locale: Locale = "zh") -> str:
    """A summary figure: "123.46万元" (en: "CNY 1.23 million"), rounded half up."""
    value = _fen(fen)
    unit = FEN_PER_WAN if locale == "zh" else FEN_PER_MILLION
    hundredths = _hundredths_half_up(value, unit)
    sign = "-" if value < 0 and hundredths else ""
    whole, fraction = divmod(hundredths, 100)
    figure = f"{sign}{whole:,}.{fraction:02d}"
    return f"{figure}万元" if locale == "zh" else f"CNY {figure} million"


def region_label(regions: Regions, code: str | None, locale: Locale = "zh") -> str:
    """The division's name under its city: "福州市 · 鼓楼区"; a city, Pingtan (its own city)
    or the province by its own name; an unknown code as the code itself."""
    del locale  # the region table has Chinese names only; English pages show them too
    if not code:
        return ""
    by_code = _index(regions)
    region = by_code.get(code)
    if region is None:
        return code
    if region.level != "county" or region.acts_as_city:
        return region.name
    city = by_code.get(region.city_code or "")
    return region.name if city is None else f"{city.name}{REGION_SEPARATOR}{region.name}"


@functools.lru_cache(maxsize=4)
def _index(regions: Regions) -> dict[str, Region]:
    """The table by code (`Regions.get` raises for an unknown code; a label must not)."""
    return {region.code: region for region in regions}
