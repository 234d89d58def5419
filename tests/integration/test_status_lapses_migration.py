"""Migration 104 gives the status rows already in a view the `lapses_on` the fold computes.

A database is migrated up to (not including) 104, rows are written as the view held them
then, and the remaining migrations run: every row's new column must equal
`domain.status.lapses_on` of its recorded status, validity end and pending renewal.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest

from domain.status import Status, lapses_on
from infra import migrations
from infra.database import ConnectionInfo


@pytest.fixture
def fresh_database(pg: ConnectionInfo) -> Iterator[ConnectionInfo]:
    name = f"cluster_ledger_m104_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg.with_dbname(name)
    finally:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_backfill_stores_what_the_fold_would_store(
    fresh_database: ConnectionInfo, monkeypatch: pytest.MonkeyPatch,
) -> None:
    every = migrations.MIGRATIONS
    monkeypatch.setattr(migrations, "MIGRATIONS", tuple(m for m in every if m[0] != 104))
    migrations.migrate(fresh_database.url)
    valid = [None, date(2026, 5, 22), date(2028, 2, 29)]
    cases = list(itertools.product(Status, valid, [False, True]))
    with psycopg.connect(fresh_database.url) as pg:
        columns = [r[0] for r in pg.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'proj_status'"
        )]
        assert "lapses_on" not in columns
        for i, (status, valid_until, pending) in enumerate(cases):
            pg.execute(
                "INSERT INTO proj_status (cluster_id, name, programme, province_code, city_code, "
                "county_code, leading_industry, status, applied_on, valid_until, "
                "renewal_pending, version, position, digest) VALUES (%s, %s, 'FJ', '350000', "
                "'350500', '350582', '鞋服', %s, '2023-03-01', %s, %s, 1, %s, '{}')",
                (uuid.UUID(int=i + 1), f"集群{i}", str(status), valid_until, pending, i + 1),
            )
    monkeypatch.setattr(migrations, "MIGRATIONS", every)
    assert migrations.migrate(fresh_database.url) == [
        "projection: status board stores the day a certification lapses"
    ]
    with psycopg.connect(fresh_database.url) as pg:
        stored = dict(pg.execute("SELECT cluster_id, lapses_on FROM proj_status").fetchall())
    expected = {
        uuid.UUID(int=i + 1): lapses_on(status, valid_until, pending)
        for i, (status, valid_until, pending) in enumerate(cases)
    }
    assert stored == expected
    assert date(2028, 3, 1) in stored.values()  # the day after a leap day
