"""Administrator overrides of the working-day calendar, kept in PostgreSQL.

The calendar is rebuilt from the table when an override changes (and at start-up); readers get
the current immutable `WorkingDayCalendar` without touching the database.
"""

from __future__ import annotations

import threading
from datetime import date

import psycopg

from domain.calendar import DayOverride, WorkingDayCalendar


class CalendarStore:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._calendar: WorkingDayCalendar | None = None

    def current(self) -> WorkingDayCalendar:
        calendar = self._calendar
        if calendar is None:
            calendar = self.reload()
        return calendar

    def reload(self) -> WorkingDayCalendar:
        with psycopg.connect(self._conninfo) as conn:
            days = conn.execute("SELECT day, working, note FROM calendar_days").fetchall()
            years = conn.execute("SELECT year FROM calendar_official_years").fetchall()
        calendar = WorkingDayCalendar(
            overrides=[DayOverride(day=d, working=w, note=n) for d, w, n in days],
            official_years=[y for (y,) in years],
        )
        with self._lock:
            self._calendar = calendar
        return calendar

    def set_day(self, day: date, *, working: bool, note: str, entered_by: str) -> None:
        with psycopg.connect(self._conninfo) as conn:
            conn.execute(
                "INSERT INTO calendar_days (day, working, note, entered_by) VALUES (%s,%s,%s,%s) "
                "ON CONFLICT (day) DO UPDATE SET working = EXCLUDED.working, note = EXCLUDED.note,"
                " entered_by = EXCLUDED.entered_by, entered_at = now()",
                (day, working, note, entered_by),
            )
        self.reload()

    def declare_official_year(self, year: int, *, entered_by: str) -> None:
        with psycopg.connect(self._conninfo) as conn:
            conn.execute(
                "INSERT INTO calendar_official_years (year, entered_by) VALUES (%s, %s) "
                "ON CONFLICT (year) DO NOTHING",
                (year, entered_by),
            )
        self.reload()
