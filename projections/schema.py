"""Which tables make up each view, and the DDL a rebuild needs (shadow tables, atomic swap).

The live tables are created by migrations 100–102 and 104 (`infra/migrations.py`). A view's
tables share a prefix: `<prefix>` (and `<prefix>_cases` where the view keeps per-cluster digests
or states apart from its rows) plus `<prefix>_tracking`, the eventsourcing tracking table
holding the view's position. A shadow (for a rebuild, or an isolated copy in tests) is the same
set of tables under another prefix, created `LIKE` the live ones so that it cannot drift from
the migrations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Final, Literal, LiteralString, NamedTuple

from psycopg import Cursor
from psycopg.sql import SQL, Identifier

# eventsourcing's tracking recorder migrates a tracking table that lacks this row; ours have it.
_MIGRATION_ROW = "__migration__"


class ViewSpec(NamedTuple):
    name: str  # as given on the command line: status, funding, deadlines
    prefix: str  # live table prefix
    suffixes: tuple[str, ...]  # data tables: prefix + suffix
    lock_key: int  # pg advisory lock serialising every writer of this view (and its swaps)

    def data_tables(self, prefix: str | None = None) -> tuple[str, ...]:
        base = self.prefix if prefix is None else prefix
        return tuple(base + suffix for suffix in self.suffixes)

    def tables(self, prefix: str | None = None) -> tuple[str, ...]:
        base = self.prefix if prefix is None else prefix
        return (*self.data_tables(base), tracking_table(base))


STATUS = ViewSpec("status", "proj_status", ("",), 72710101)
FUNDING = ViewSpec("funding", "proj_funding", ("", "_cases"), 72710102)
DEADLINES = ViewSpec("deadlines", "proj_deadlines", ("", "_cases"), 72710103)
BITEMPORAL = ViewSpec("bitemporal", "proj_bitemporal", ("", "_cases"), 72710104)
# The bitemporal view's open ends (no end yet): the largest values both drivers read and write
# as they are, NOT NULL so that `valid_to > D` and `recorded_to > T` can be index conditions.
OPEN_DATE = date.max
OPEN_DATE_SQL = "'9999-12-31'::date"
OPEN_INSTANT = datetime(9999, 12, 31, tzinfo=UTC)
OPEN_INSTANT_SQL = "'9999-12-31 00:00:00+00'::timestamptz"
VIEWS: dict[str, ViewSpec] = {
    spec.name: spec for spec in (STATUS, FUNDING, DEADLINES, BITEMPORAL)
}

REBUILD_SUFFIX = "_rebuild"


def tracking_table(prefix: str) -> str:
    return prefix + "_tracking"


def spec_for_prefix(prefix: str) -> ViewSpec:
    """The view whose tables a prefix names (live, shadow or test copy)."""
    for spec in VIEWS.values():
        if prefix == spec.prefix or prefix.startswith(spec.prefix + "_"):
            return spec
    raise ValueError(f"no view has tables under {prefix!r}")


def create_copy(curs: Cursor[Any], spec: ViewSpec, prefix: str) -> None:
    """Create empty tables under `prefix` shaped like the live view (replacing any leftovers)."""
    drop_copy(curs, spec, prefix)
    for live, copy in zip(spec.tables(), spec.tables(prefix), strict=True):
        curs.execute(
            SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                Identifier(copy), Identifier(live)
            )
        )
    curs.execute(
        SQL("INSERT INTO {} VALUES (%s, 1)").format(Identifier(tracking_table(prefix))),
        (_MIGRATION_ROW,),
    )


def drop_copy(curs: Cursor[Any], spec: ViewSpec, prefix: str) -> None:
    if prefix == spec.prefix:
        raise ValueError("refusing to drop the live tables of a view")
    for table in spec.tables(prefix):
        curs.execute(SQL("DROP TABLE IF EXISTS {}").format(Identifier(table)))


def swap_in(curs: Cursor[Any], spec: ViewSpec, shadow_prefix: str) -> None:
    """Replace the live tables with the shadow ones, in the caller's transaction.

    Renames take an ACCESS EXCLUSIVE lock: readers wait for the commit and then read the new
    tables; no reader ever sees a half-swapped view. The shadow's indexes and extended
    statistics get names derived from the live table names, so that the next rebuild's shadow
    does not collide with them.
    """
    retired = spec.prefix + "_retired"
    for live, shadow, old in zip(
        spec.tables(), spec.tables(shadow_prefix), spec.tables(retired), strict=True
    ):
        curs.execute(SQL("DROP TABLE IF EXISTS {}").format(Identifier(old)))
        curs.execute(SQL("ALTER TABLE {} RENAME TO {}").format(Identifier(live), Identifier(old)))
        curs.execute(
            SQL("ALTER TABLE {} RENAME TO {}").format(Identifier(shadow), Identifier(live))
        )
        curs.execute(SQL("DROP TABLE {}").format(Identifier(old)))
        _rename_dependents(curs, "INDEX", _INDEX_NAMES, shadow, live)
        _rename_dependents(curs, "STATISTICS", _STATISTICS_NAMES, shadow, live)


_INDEX_NAMES: Final = (
    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
)
_STATISTICS_NAMES: Final = (
    "SELECT s.stxname FROM pg_statistic_ext s JOIN pg_class c ON c.oid = s.stxrelid "
    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = %s"
)


def _rename_dependents(
    curs: Cursor[Any], kind: Literal["INDEX", "STATISTICS"], names_sql: LiteralString,
    shadow: str, live: str,
) -> None:
    """Give the `kind` objects of table `live` named after `shadow` names after `live`."""
    curs.execute(names_sql, (live,))
    for row in curs.fetchall():
        name = row[0] if not isinstance(row, dict) else next(iter(row.values()))
        if name.startswith(shadow):
            curs.execute(
                SQL("ALTER {} {} RENAME TO {}").format(
                    SQL(kind), Identifier(name), Identifier(live + name[len(shadow):])
                )
            )
