"""The demo data set loads through the real commands and covers every state."""

from __future__ import annotations

import psycopg

from infra.bootstrap import build_ledger
from infra.database import ConnectionInfo
from infra.demo import FJ_CASES, XM_CASES, load_demo
from infra.migrations import migrate
from infra.settings import Settings


def test_demo_loads_into_an_empty_store_once_and_covers_every_state(pg: ConnectionInfo) -> None:
    name = "cluster_ledger_demo_test"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    info = pg.with_dbname(name)
    try:
        migrate(info.url)
        ledger, _ = build_ledger(info, Settings(database_url=info.url))
        try:
            assert load_demo(ledger) == len(FJ_CASES) + len(XM_CASES)
            assert load_demo(ledger) == 0  # never twice
            statuses = set()
            for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
                if notification.topic.endswith("Cluster.Applied"):
                    case = ledger.get_cluster(notification.originator_id).case
                    from datetime import date

                    statuses.add(case.status_on(date(2026, 11, 22)))
            assert {"applied", "not_recommended", "recommended", "under_notice", "rejected",
                    "certified", "expired", "revoked"} <= statuses
        finally:
            ledger.close()
    finally:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
