"""Everything this project adds to the database, in order; `cluster-ledger migrate` applies it.

Idempotent: each step runs once and is recorded in `schema_migrations`; a second run does nothing.
eventsourcing's own tables are created by its recorders (CREATE ... IF NOT EXISTS).
"""

from __future__ import annotations

import psycopg

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "audit hash chain",
        """
        CREATE TABLE IF NOT EXISTS ledger_chain (
            notification_id bigint PRIMARY KEY,
            hash bytea NOT NULL CHECK (length(hash) = 32)
        );
        """,
    ),
    (
        2,
        "idempotency keys",
        """
        CREATE TABLE IF NOT EXISTS idempotency_keys (
            user_id text NOT NULL,
            key text NOT NULL,
            fingerprint text NOT NULL,
            status_code integer NOT NULL,
            response jsonb NOT NULL,
            notification_id bigint,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, key)
        );
        """,
    ),
    (
        3,
        "working-day calendar overrides",
        """
        CREATE TABLE IF NOT EXISTS calendar_days (
            day date PRIMARY KEY,
            working boolean NOT NULL,
            note text NOT NULL DEFAULT '',
            entered_by text NOT NULL,
            entered_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS calendar_official_years (
            year integer PRIMARY KEY,
            entered_by text NOT NULL,
            entered_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
)


def migrate(conninfo: str) -> list[str]:
    """Apply pending migrations; return the names of those applied now."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, sql in MIGRATIONS:
            with conn.transaction():
                # Serialise concurrent migrators (two processes starting at once).
                conn.execute("SELECT pg_advisory_xact_lock(72710001)")
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
                ).fetchone()
                if done:
                    continue
                conn.execute(sql)  # type: ignore[arg-type]
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
                applied_now.append(name)
    return applied_now
