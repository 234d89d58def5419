"""Periods counted in years (Civil Code Art. 201–202)."""

from __future__ import annotations

import calendar
from datetime import date


def add_years(start: date, years: int) -> date:
    """Last day of a period of `years` years that starts the day after `start`.

    Civil Code Art. 202: the period ends on the corresponding day of the final year; where that
    month has no such day (29 February), on the month's last day.
    """
    year = start.year + years
    last_day = calendar.monthrange(year, start.month)[1]
    return date(year, start.month, min(start.day, last_day))
