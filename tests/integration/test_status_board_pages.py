"""Pages of the status board (`list_clusters`) over a board of a few thousand synthetic rows:
every page walk returns exactly the rows its filters select, in its sort order; a page scoped
to one city walks a city index (migration 103) instead of sorting the city's rows.

The rows live in a temporary table named like the view, created LIKE it (indexes and
statistics included): it hides the session database's view for this connection only.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import anyio
import asyncpg
import pytest

from domain.status import EXPIRED, lapses_on, status_on
from infra.database import ConnectionInfo
from infra.rules import load_regions
from projections.queries import (
    CLUSTER_SORTS,
    ClusterFilters,
    _cluster_sql,
    city_prefix_sql,
    list_clusters,
)

ROWS = 3000
ON_DATES = (date(2024, 6, 1), date(2027, 3, 15))
INDUSTRIES = ("新材料及配套", "氟新材料及配套", "茶叶精深加工", "白瓷及配套", "集成电路设计")
STATUSES = ("applied", "certified", "certified", "certified", "revoked", "rejected",
            "not_recommended", "under_notice", "renewal_failed")


def _counties() -> list[str]:
    return sorted(r.code for r in load_regions() if r.level == "county")


def _maybe(rng: random.Random, value: date, none_share: float) -> date | None:
    return None if rng.random() < none_share else value


def _board(seed: int) -> list[tuple[Any, ...]]:
    """Rows of proj_status: names and dates repeat (ties go to cluster_id), NULL dates."""
    rng = random.Random(seed)  # noqa: S311 - test data
    counties = _counties()
    weights = [5 if c.startswith(("3505", "3502")) else 1 for c in counties]
    rows = []
    for i in range(ROWS):
        county = rng.choices(counties, weights)[0]
        applied = date(2022, 1, 1) + timedelta(days=rng.randrange(0, 900))
        certified = _maybe(rng, applied + timedelta(days=rng.choice([60, 90, 120])), 0.3)
        valid = None if certified is None else certified + timedelta(days=3 * 365)
        due = _maybe(rng, date(2024, 1, 1) + timedelta(days=rng.randrange(0, 1500)), 0.25)
        rows.append((
            uuid.UUID(int=rng.getrandbits(128)),
            f"{county}产业集群{rng.randrange(0, 40):02d}",  # names repeat inside a county
            "XM" if county.startswith("3502") else "FJ",
            "350000", county[:4] + "00", county, rng.choice(INDUSTRIES),
            None if rng.random() < 0.5 else f"运营单位{i}", rng.choice(STATUSES), applied,
            certified, valid, rng.random() < 0.1, None if rng.random() < 0.5 else 2025,
            None if rng.random() < 0.7 else Decimal(rng.randrange(0, 10001)) / 100,
            due, None if due is None else "annual_report", rng.randrange(1, 90), i + 1,
            '{"pad": "' + "x" * 1000 + '"}',  # as wide as a real digest
        ))
        status, renewal_pending = rows[-1][8], rows[-1][12]
        rows[-1] = (*rows[-1], lapses_on(status, valid, renewal_pending))
    return rows


def _on_board(
    migrated: ConnectionInfo, scenario: Callable[[asyncpg.Connection], Awaitable[None]]
) -> None:
    """Run `scenario` on a connection whose proj_status is the synthetic board."""

    async def run() -> None:
        conn: asyncpg.Connection = await asyncpg.connect(**migrated.asyncpg_kwargs())
        try:
            await conn.execute(
                "CREATE TEMP TABLE proj_status (LIKE public.proj_status INCLUDING ALL)"
            )
            await conn.copy_records_to_table("proj_status", records=_board(11))
            await conn.execute("ANALYZE proj_status")
            await scenario(conn)
        finally:
            await conn.close()

    anyio.run(run)


def _derived(row: asyncpg.Record, on: date) -> str:
    """The status on `on`, from the recorded inputs (not from the stored `lapses_on`)."""
    lapses = lapses_on(row["status"], row["valid_until"], row["renewal_pending"])
    return status_on(row["status"], lapses, on)


async def _expected(
    conn: asyncpg.Connection, on: date, counties: Sequence[str], prefix: str | None,
    filters: ClusterFilters, sort: str,
) -> list[uuid.UUID]:
    """The long way: every row in PostgreSQL's order for the sort (so that text compares
    under the database's collation), filtered here."""
    expression = CLUSTER_SORTS[sort.removeprefix("-")].expression
    direction = "DESC" if sort.startswith("-") else "ASC"
    rows = await conn.fetch(
        "SELECT cluster_id, county_code, status, valid_until, renewal_pending, "  # noqa: S608
        f"programme, leading_industry, next_due_on FROM proj_status ORDER BY {expression} "
        f"{direction}, cluster_id {direction}"
    )
    scope = set(counties)
    return [
        r["cluster_id"] for r in rows
        if r["county_code"] in scope
        and (prefix is None or r["county_code"].startswith(prefix))
        and (filters.status is None or _derived(r, on) == filters.status)
        and (filters.programme is None or r["programme"] == filters.programme)
        and (not filters.industry or filters.industry in r["leading_industry"])
        and (filters.due_before is None
             or (r["next_due_on"] is not None and r["next_due_on"] < filters.due_before))
    ]


async def _walk(
    conn: asyncpg.Connection, on: date, counties: Sequence[str], prefix: str | None,
    filters: ClusterFilters, sort: str, limit: int, max_pages: int,
) -> tuple[list[tuple[uuid.UUID, str]], bool]:
    """The items of up to `max_pages` pages, following `next`; and whether the list ended."""
    seen: list[tuple[uuid.UUID, str]] = []
    cursor = None
    for _ in range(max_pages):
        page = await list_clusters(
            conn, on=on, counties=counties, prefix=prefix, filters=filters, sort=sort,
            limit=limit, cursor=cursor,
        )
        seen.extend((item.id, item.status) for item in page.items)
        if page.next is None:
            return seen, True
        assert len(page.items) == limit
        cursor = page.next
    return seen, False


def _scopes() -> list[tuple[str, list[str], str | None]]:
    counties = _counties()
    fuzhou = [c for c in counties if c.startswith("3501") and c != "350128"]
    return [
        ("province", counties, None),
        ("city 350500", [c for c in counties if c.startswith("3505")], None),
        ("city 350100 without Pingtan", fuzhou, None),
        ("Pingtan", ["350128"], None),
        ("one county", ["350582"], None),
        ("two cities", [c for c in counties if c.startswith(("3502", "3505"))], None),
        ("prefix 3505", counties, "3505"),
        ("part of a city", fuzhou[:3], None),
        ("nothing", [], None),
    ]


_FILTERS: tuple[Callable[[], ClusterFilters], ...] = (
    ClusterFilters,
    lambda: ClusterFilters(status="certified"),
    lambda: ClusterFilters(status=EXPIRED),
    lambda: ClusterFilters(status="revoked", programme="FJ"),
    lambda: ClusterFilters(programme="XM"),
    lambda: ClusterFilters(industry="新材料"),
    lambda: ClusterFilters(industry="不存在"),
    lambda: ClusterFilters(due_before=date(2025, 6, 1)),
)


def test_every_page_walk_returns_the_selected_rows_in_sort_order(
    migrated: ConnectionInfo,
) -> None:
    rng = random.Random(3)  # noqa: S311 - test data
    sorts = [s for key in CLUSTER_SORTS for s in (key, f"-{key}")]
    combos = [(scope, sort, make) for scope in _scopes() for sort in sorts for make in _FILTERS]

    async def scenario(board: asyncpg.Connection) -> None:
        for (label, counties, prefix), sort, make in rng.sample(combos, 160):
            on, filters, limit = rng.choice(ON_DATES), make(), rng.choice([2, 37, 50, 400])
            walked, ended = await _walk(board, on, counties, prefix, filters, sort, limit, 12)
            expected = await _expected(board, on, counties, prefix, filters, sort)
            if not ended:
                expected = expected[: len(walked)]
            assert [cid for cid, _ in walked] == expected, (label, sort, filters, limit)
            if filters.status is not None:
                assert {status for _, status in walked} <= {filters.status}

    _on_board(migrated, scenario)


@pytest.mark.parametrize("sort", ["name", "-name", "certified_on", "-certified_on"])
def test_a_page_inside_one_city_walks_an_index_in_sort_order(
    migrated: ConnectionInfo, sort: str,
) -> None:
    quanzhou = [c for c in _counties() if c.startswith("3505")]
    sql, names = _cluster_sql(
        ON_DATES[0], tuple(quanzhou), "certified", None, prefix=False, industry=False,
        due_before=False, cursor=False, sort=sort, limit=50,
    )
    assert names == ()

    async def scenario(board: asyncpg.Connection) -> None:
        plan = "\n".join(r[0] for r in await board.fetch(f"EXPLAIN {sql}"))
        assert "Sort" not in plan, plan
        assert re.search(r"Index Scan (Backward )?using \S+ on proj_status", plan), plan

    _on_board(migrated, scenario)


def test_the_city_clause_is_written_only_for_two_or_more_counties_of_one_city() -> None:
    assert city_prefix_sql(["350582", "350583"]) == "left(county_code, 4) = '3505'"
    assert city_prefix_sql(["350102", "350128"]) == "left(county_code, 4) = '3501'"
    assert city_prefix_sql(["350582"]) is None
    assert city_prefix_sql([]) is None
    assert city_prefix_sql(["350582", "350203"]) is None
    assert city_prefix_sql(["350582", "3505'--"]) is None


def test_the_city_clause_selects_what_the_county_list_selects(
    migrated: ConnectionInfo,
) -> None:
    async def scenario(board: asyncpg.Connection) -> None:
        for _, counties, _ in _scopes():
            clause = city_prefix_sql(counties)
            if clause is None:
                continue
            listed = f"county_code = ANY('{{{','.join(counties)}}}'::text[])"
            alone = await board.fetch(
                f"SELECT cluster_id FROM proj_status WHERE {listed} ORDER BY 1"  # noqa: S608
            )
            both = await board.fetch(
                f"SELECT cluster_id FROM proj_status WHERE {listed} AND {clause} "  # noqa: S608
                "ORDER BY 1"
            )
            assert both == alone
            assert alone

    _on_board(migrated, scenario)


def test_the_status_and_overdue_read_on_the_date_asked(migrated: ConnectionInfo) -> None:
    async def scenario(board: asyncpg.Connection) -> None:
        counties = _counties()
        rows = {r["cluster_id"]: r for r in await board.fetch("SELECT * FROM proj_status")}
        for on in ON_DATES:
            page = await list_clusters(
                board, on=on, counties=counties, prefix=None, filters=ClusterFilters(),
                sort="valid_until", limit=500, cursor=None,
            )
            assert [item.status for item in page.items] == [
                _derived(rows[item.id], on) for item in page.items
            ]
            assert [item.next_due_overdue for item in page.items] == [
                rows[item.id]["next_due_on"] is not None and rows[item.id]["next_due_on"] < on
                for item in page.items
            ]
            assert EXPIRED in {item.status for item in page.items} or on == ON_DATES[0]

    _on_board(migrated, scenario)
