"""The API's asyncpg pool skips asyncpg's reset query on release, but never hands out a
connection with a transaction left open."""

from __future__ import annotations

import anyio

from api.runtime import open_pool
from infra.database import ConnectionInfo


def test_a_transaction_left_open_is_rolled_back_before_reuse(migrated: ConnectionInfo) -> None:
    async def scenario() -> tuple[bool, int]:
        pool = await open_pool(migrated, max_size=1)
        try:
            async with pool.acquire() as conn:
                await conn.execute("BEGIN")
                await conn.execute("CREATE TEMP TABLE pool_probe (n int)")
                await conn.execute("INSERT INTO pool_probe VALUES (1)")
                pid = await conn.fetchval("SELECT pg_backend_pid()")
            async with pool.acquire() as conn:
                same = await conn.fetchval("SELECT pg_backend_pid()") == pid
                in_transaction = conn.is_in_transaction()
                # The temporary table was created in the rolled-back transaction: gone.
                probes = await conn.fetchval(
                    "SELECT count(*) FROM pg_class WHERE relname = 'pool_probe'"
                )
            assert same
            return in_transaction, probes
        finally:
            await pool.close()

    assert anyio.run(scenario) == (False, 0)
