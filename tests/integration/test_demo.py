"""The demo data set loads through the real commands and covers every state."""

from __future__ import annotations

from datetime import date

import psycopg

from infra.bootstrap import build_ledger
from infra.database import ConnectionInfo
from infra.demo import FJ_CASES, NATIONAL_BATCHES, XM_CASES, load_demo
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
            national: dict[str, tuple[date | None, str | None, tuple[int, ...]]] = {}
            for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
                if notification.topic.endswith("Cluster.Applied"):
                    case = ledger.get_cluster(notification.originator_id).case
                    statuses.add(case.status_on(date(2026, 11, 22)))
                    if case.dossier.name in NATIONAL_BATCHES:
                        national[case.dossier.name] = (
                            case.certified_on, case.certification_document,
                            tuple(sorted(case.assessments)),
                        )
            # MIIT's 2022, 2023 and 2024 batches, certified before Xiamen's rules, with their
            # documents and dates, assessed from 2024 under Xiamen's rules (the 2022 one is
            # funded for its first year only, not yet assessed)
            assessed = {"厦门市集美区工业机器人产业集群": ()}
            assert national == {
                name: (batch.certified, batch.document, assessed.get(name, (2024,)))
                for name, batch in NATIONAL_BATCHES.items()
            }
            assert {"applied", "not_recommended", "recommended", "under_notice", "rejected",
                    "certified", "expired", "revoked"} <= statuses
        finally:
            ledger.close()
    finally:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
