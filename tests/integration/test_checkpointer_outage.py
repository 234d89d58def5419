"""The API's checkpointer keeps polling through a database outage, and signs what became due
once the database is back (a PostgreSQL of the test's own, stopped with pg_ctl)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import date
from pathlib import Path

import psycopg
from eventsourcing.persistence import PersistenceError

from api.runtime import Runtime, open_pool
from domain.commands import Command
from infra.audit import checkpointer
from infra.bootstrap import build_ledger
from infra.database import DatabaseLimits, parse_url
from infra.db_failures import is_transient
from infra.migrations import migrate
from infra.settings import Settings
from tests.factories import fj_dossier, meta
from tests.own_postgres import OwnPostgres


def _signed_up_to(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(position), 0) FROM audit_checkpoints").fetchone()
    return int(row[0]) if row else 0


async def test_the_checkpointer_keeps_polling_through_a_database_outage(tmp_path: Path) -> None:
    with OwnPostgres() as pg:
        conn = parse_url(pg.url)
        migrate(conn.url)
        settings = Settings(database_url=conn.url, data_dir=tmp_path, checkpoint_every=1)
        ledger, calendar = build_ledger(conn, settings)
        pool = await open_pool(conn, limits=DatabaseLimits.of(settings))
        runtime = Runtime(
            settings=settings, conn=conn, ledger=ledger, calendar=calendar, pool=pool
        )

        def apply() -> int | None:
            dossier = fj_dossier(f"签名{uuid.uuid4().hex[:4]}")
            return ledger.issue(
                Command.APPLY,
                None,
                meta("county", dossier.county_code, date(2025, 3, 3)),
                None,
                dossier=dossier,
            ).position

        try:
            async with contextlib.AsyncExitStack() as hooks:
                await checkpointer.start(runtime, hooks, interval=0.2)
                pg.stop()
                await asyncio.sleep(2.5)  # several polls fail meanwhile
                pg.start()
                deadline = time.monotonic() + 30
                while True:
                    try:
                        position = await runtime.call(apply)
                        break
                    except PersistenceError as exc:  # the pools reconnecting
                        if not is_transient(exc) or time.monotonic() > deadline:
                            raise
                    await asyncio.sleep(0.1)
                assert position is not None
                while _signed_up_to(conn.url) < position:
                    assert time.monotonic() < deadline, "no checkpoint after the outage"
                    await asyncio.sleep(0.1)
        finally:
            await pool.close()
            ledger.close()
