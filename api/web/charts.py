"""Bar charts as data for server-side SVG: the geometry of every bar, axis tick and label,
computed here (pure, testable), drawn by the `chart` macro in `templates/macros.html`.

A chart is never the only form of its figures: every page that shows one also shows the same
figures in a table (screen readers, print, Excel), and the SVG carries a `<title>` and a
caption. Amounts are integers (fen, counts); heights are proportional to them, computed in
floating point only for drawing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

WIDTH = 720
BAR_AREA_HEIGHT = 220
LEFT = 90  # room for the value axis labels
TOP = 12
BOTTOM = 30  # room for the category labels
BOTTOM_SLANTED = 110  # room for slanted ones
LEGEND = 28


class Series(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # CSS class suffix (`bar-<key>`), so colours live in the stylesheet
    label: str  # legend text, already translated
    values: tuple[int, ...]  # one per category, >= 0


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    series: str
    x: float
    y: float
    width: float
    height: float
    value: int
    title: str  # the tooltip: category, series and the value as shown in the table


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    y: float
    label: str


class Category(msgspec.Struct, frozen=True, kw_only=True):
    x: float  # centre of the group
    label: str


class LegendItem(msgspec.Struct, frozen=True, kw_only=True):
    series: str
    x: float
    label: str


class BarChart(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    width: int
    height: int
    baseline: float  # y of the value 0
    left: int
    slanted: bool  # category labels drawn at an angle (they would overlap level)
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    categories: tuple[Category, ...]
    legend: tuple[LegendItem, ...]


def nice_scale(largest: int) -> tuple[int, int]:
    """The axis for values up to `largest`: (maximum, step), the maximum the smallest 1, 2 or
    5 × 10^k at or above it, cut into 4 or 5 whole steps (1 and 5 in fifths, 2 in quarters);
    a maximum too small for whole steps is cut into steps of 1."""
    largest = max(largest, 1)
    magnitude = 1
    while magnitude * 10 <= largest:
        magnitude *= 10
    leading = next(step for step in (1, 2, 5, 10) if step * magnitude >= largest)
    maximum = leading * magnitude
    parts = 4 if leading == 2 else 5
    if maximum % parts:
        return maximum, 1
    return maximum, maximum // parts


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    format_value: Callable[[int], str] = str,
) -> BarChart:
    """Grouped bars: one group per category, one bar per series in each group."""
    for one in series:
        if len(one.values) != len(categories):
            raise ValueError(f"series {one.key} has {len(one.values)} values for "
                             f"{len(categories)} categories")
        if any(value < 0 for value in one.values):
            raise ValueError(f"series {one.key} has a negative value")
    maximum, step = nice_scale(max((v for one in series for v in one.values), default=0))
    baseline = TOP + BAR_AREA_HEIGHT
    group_width = (WIDTH - LEFT) / max(len(categories), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    bars = []
    for c, category in enumerate(categories):
        group_left = LEFT + c * group_width + group_width * 0.1
        for s, one in enumerate(series):
            value = one.values[c]
            height = BAR_AREA_HEIGHT * value / maximum
            bars.append(Bar(
                series=one.key, x=round(group_left + s * bar_width, 2),
                y=round(baseline - height, 2), width=round(bar_width * 0.92, 2),
                height=round(height, 2), value=value,
                title=f"{category} · {one.label}: {format_value(value)}",
            ))
    ticks = tuple(
        Tick(y=round(baseline - BAR_AREA_HEIGHT * value / maximum, 2), label=format_value(value))
        for value in range(0, maximum + 1, step)
    )
    # Labels wider than their group (about 13 px a character, CJK counted double) are slanted.
    slanted = any(
        sum(2 if ord(ch) > 0x2E80 else 1 for ch in label) * 6.5 > group_width
        for label in categories
    )
    bottom = BOTTOM_SLANTED if slanted else BOTTOM
    return BarChart(
        title=title,
        width=WIDTH,
        height=TOP + BAR_AREA_HEIGHT + bottom + LEGEND,
        slanted=slanted,
        baseline=baseline,
        left=LEFT,
        bars=tuple(bars),
        ticks=ticks,
        categories=tuple(
            Category(x=round(LEFT + (c + 0.5) * group_width, 2), label=label)
            for c, label in enumerate(categories)
        ),
        legend=tuple(
            LegendItem(series=one.key, x=LEFT + i * 160, label=one.label)
            for i, one in enumerate(series)
        ),
    )
