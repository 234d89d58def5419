"""Administrator calendar overrides in PostgreSQL feed the deadlines the ledger computes."""

from __future__ import annotations

from datetime import date

from infra.calendar_store import CalendarStore
from infra.database import ConnectionInfo


def test_declaring_an_official_year_makes_its_deadlines_final(migrated: ConnectionInfo) -> None:
    store = CalendarStore(migrated.url)
    before = store.current().add_working_days(date(2031, 1, 1), 5)
    assert before.provisional
    store.set_day(date(2031, 1, 2), working=False, note="test holiday", entered_by="admin")
    store.declare_official_year(2031, entered_by="admin")
    after = store.current().add_working_days(date(2031, 1, 1), 5)
    assert not after.provisional
    assert after.due == date(2031, 1, 9)  # 2 January is now a holiday: one more day
    assert before.due == date(2031, 1, 8)
