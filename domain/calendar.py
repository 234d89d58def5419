"""Working-day calendar: deadlines counted in China's official working days (工作日).

Working days follow the State Council's yearly holiday schedule, make-up weekend days (调休)
included, as published in the `chinesecalendar` package. That package only knows the years whose
schedule had been published when it was released, so a deadline reaching past them is computed
with a Monday-to-Friday guess and marked provisional rather than passed off as certain.
Administrators can enter days (and declare whole years official) when the State Council publishes.

Pure: no I/O, nothing computed at import time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar
import msgspec

from domain.errors import InvalidInput

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


class DayOverride(msgspec.Struct, frozen=True, kw_only=True):
    """An administrator's entry for one day; it wins over the built-in schedule."""

    day: date
    working: bool  # True: a working day (e.g. a make-up 调休 Saturday); False: a holiday
    note: str = ""


class Deadline(msgspec.Struct, frozen=True, kw_only=True):
    """A computed due date, and whether it rests on a guessed schedule."""

    due: date
    provisional: bool  # some day examined lies in a year whose official schedule is unknown
    unknown_years: tuple[int, ...] = ()  # those years, sorted


class WorkingDayCalendar:
    """Answers "is this a working day?" and counts periods the way Chinese law does."""

    def __init__(
        self, overrides: Iterable[DayOverride] = (), official_years: Iterable[int] = ()
    ) -> None:
        self._overrides: dict[date, bool] = {}
        for override in overrides:
            earlier = self._overrides.setdefault(override.day, override.working)
            if earlier != override.working:
                # Picking one silently would make deadlines depend on entry order.
                raise InvalidInput(
                    "conflicting_day_override",
                    f"{override.day.isoformat()} is entered both as working and as a holiday",
                    day=override.day.isoformat(),
                )
        self._official_years = frozenset(official_years)

    def knows_year(self, year: int) -> bool:
        """True when the year's official schedule is known (built in, or entered by an admin)."""
        return year in self._official_years or _builtin_is_workday(date(year, 1, 1)) is not None

    def is_working_day(self, day: date) -> bool:
        """Overrides first, then the official schedule; for unknown years, a Mon–Fri guess.

        The guess is only safe because every deadline that relies on it says so
        (`Deadline.provisional`).
        """
        if day in self._overrides:
            return self._overrides[day]
        builtin = _builtin_is_workday(day)
        if builtin is not None:
            return builtin
        return day.weekday() < _SATURDAY

    def add_working_days(
        self, trigger: date, days: int, *, count_trigger_day: bool = False
    ) -> Deadline:
        """The date of the `days`-th working day after `trigger`.

        Civil Code Art. 201: a period starts the day after its trigger. Some rules count the
        trigger day itself (MIIT public notices counted their publication day), hence
        `count_trigger_day`; a non-working trigger day is then simply not counted.
        """
        _check_period(days)
        first = trigger if count_trigger_day else trigger + _ONE_DAY
        day, counted = first, 0
        while True:
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    return self._deadline(first, day)
            day += _ONE_DAY

    def add_calendar_days(
        self, trigger: date, days: int, *, count_trigger_day: bool = False
    ) -> Deadline:
        """The last day of a period of `days` calendar days after `trigger`.

        Civil Code Art. 203: when that last day is a rest day, the period ends on the next working
        day instead — so the holiday schedule matters here too, and the result can be provisional.
        """
        _check_period(days)
        first = trigger if count_trigger_day else trigger + _ONE_DAY
        last = first + timedelta(days=days - 1)
        due = last
        while not self.is_working_day(due):
            due += _ONE_DAY
        return self._deadline(last, due)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; 0 when `end` is not after `start`.

        For "overdue by N working days" displays; a count reaching into an unknown year uses the
        Mon–Fri guess (check `knows_year` if the caller must say so).
        """
        span = range(1, (end - start).days + 1)
        return sum(self.is_working_day(start + timedelta(days=offset)) for offset in span)

    def _deadline(self, first_examined: date, due: date) -> Deadline:
        """Every day from `first_examined` to `due` was looked up; flag the years guessed at."""
        years = range(first_examined.year, due.year + 1)
        unknown = tuple(year for year in years if not self.knows_year(year))
        return Deadline(due=due, provisional=bool(unknown), unknown_years=unknown)


def _builtin_is_workday(day: date) -> bool | None:
    """The packaged official schedule's answer, or None when it has no data for that year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def _check_period(days: int) -> None:
    if days < 1:
        raise InvalidInput("invalid_period", "a period must be at least one day long", days=days)
