"""Where each view stands in the log: position, head and lag, for `project status`, `/ready`
and read-your-writes.

The SQL has no parameters, so the same text serves psycopg (CLI, tests) and asyncpg (API).
"""

# SQL text here is assembled from constant table names and SQL fragments only; every value
# is a bound parameter (or, for lags, an int).
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import psycopg

from domain.errors import InvalidInput
from projections.schema import VIEWS, tracking_table
from projections.views import APPLICATION_NAME

EVENTS_TABLE = APPLICATION_NAME.lower() + "_events"


class ViewPosition(msgspec.Struct, frozen=True, kw_only=True):
    view: str
    position: int | None  # last log position the view has processed; None: nothing yet
    head: int | None  # last position in the log
    lag: int  # events in the log after the view's position


def _position_sql(prefix: str) -> str:
    return (
        f"(SELECT notification_id FROM {tracking_table(prefix)} "
        f"WHERE application_name = '{APPLICATION_NAME}')"
    )


POSITIONS_SQL = "SELECT " + ", ".join(
    f"{_position_sql(spec.prefix)} AS {name}" for name, spec in VIEWS.items()
) + f", (SELECT max(notification_id) FROM {EVENTS_TABLE}) AS head"

LOWEST_POSITION_SQL = "SELECT least(" + ", ".join(
    f"coalesce({_position_sql(spec.prefix)}, 0)" for spec in VIEWS.values()
) + ")"

def _lags_sql(positions: dict[str, int | None]) -> str:
    return "SELECT " + ", ".join(
        f"(SELECT count(*) FROM {EVENTS_TABLE} WHERE notification_id > {int(p or 0)}) AS {name}"
        for name, p in positions.items()
    )


def _build(row: dict[str, Any], lags: dict[str, Any]) -> list[ViewPosition]:
    return [
        ViewPosition(view=name, position=row[name], head=row["head"], lag=int(lags[name]))
        for name in VIEWS
    ]


def read_positions(conninfo: str) -> list[ViewPosition]:
    """Each view's position and lag (synchronous, for the CLI and tests)."""
    with psycopg.connect(conninfo) as conn:
        cursor = conn.execute(POSITIONS_SQL)
        names = [c.name for c in cursor.description or ()]
        values = cursor.fetchone() or ()
        row = dict(zip(names, values, strict=True))
        positions = {name: row[name] for name in VIEWS}
        lag_cursor = conn.execute(_lags_sql(positions))  # type: ignore[arg-type]
        lag_names = [c.name for c in lag_cursor.description or ()]
        lags = dict(zip(lag_names, lag_cursor.fetchone() or (), strict=True))
    return _build(row, lags)


async def fetch_positions(conn: Any) -> list[ViewPosition]:
    """Each view's position and lag over an asyncpg connection or pool."""
    row = dict(await conn.fetchrow(POSITIONS_SQL))
    lags = dict(await conn.fetchrow(_lags_sql({name: row[name] for name in VIEWS})))
    return _build(row, lags)


def wait_for_position(conninfo: str, position: int, timeout: float) -> bool:
    """Block until every view has processed `position`; False on timeout (sync)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while True:
            row = conn.execute(LOWEST_POSITION_SQL).fetchone()  # type: ignore[arg-type]
            if row is not None and row[0] >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


HEAD_SQL = f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"


async def await_position(pool: Any, position: int, timeout: float) -> bool:
    """Wait until every view has processed `position`; False on timeout (asyncpg).
    A position the log has not reached is refused at once (`position_beyond_log_head`):
    no wait would bring it, since a command returns a position only once it is written."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.01
    head_checked = False
    while True:
        lowest = await pool.fetchval(LOWEST_POSITION_SQL)
        if lowest is not None and lowest >= position:
            return True
        if not head_checked:
            head = await pool.fetchval(HEAD_SQL)
            if head < position:
                raise InvalidInput(
                    "position_beyond_log_head",
                    f"log position {position} has not been written: the log ends at {head}",
                    field="after", head=head,
                )
            head_checked = True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.2)
