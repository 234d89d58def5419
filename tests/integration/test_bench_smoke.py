"""The benchmark data generator drives the real commands and writes what the API would write.

(`make bench-quick` exercises the whole harness in CI; these only pin the generator.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from bench.generate import generate, open_ledger
from infra.chain import GENESIS, entry_hash, event_digest
from infra.database import ConnectionInfo
from infra.migrations import migrate

HORIZON = 2034  # short histories keep the test fast


@pytest.fixture
def bench_db(pg: ConnectionInfo) -> Iterator[ConnectionInfo]:
    name = f"cluster_ledger_bench_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = pg.with_dbname(name)
    try:
        migrate(info.url)
        open_ledger(info, batching=False).close()
        yield info
    finally:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _histories(conn: ConnectionInfo) -> list[list[str]]:
    """Each cluster's event types, clusters in the order they were opened."""
    with psycopg.connect(conn.url) as db:
        rows = db.execute(
            "SELECT originator_id, topic FROM clusterledger_events "
            "WHERE topic LIKE 'domain.cluster:%' ORDER BY notification_id"
        ).fetchall()
    by_cluster: dict[uuid.UUID, list[str]] = {}
    for originator_id, topic in rows:
        by_cluster.setdefault(originator_id, []).append(topic.rsplit(".", 1)[-1])
    return list(by_cluster.values())


def test_batched_generation_chains_every_event_it_writes(bench_db: ConnectionInfo) -> None:
    result = generate(bench_db, clusters=3, horizon_year=HORIZON, workers=1, batch=2,
                      long_case_events=150)
    with psycopg.connect(bench_db.url) as db:
        events = db.execute(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, "
            "c.hash FROM clusterledger_events e JOIN ledger_chain c USING (notification_id) "
            "ORDER BY notification_id"
        ).fetchall()
        stored = db.execute("SELECT count(*) FROM clusterledger_events").fetchone()
    cluster_events = sum(1 for e in events if e[3].startswith("domain.cluster:"))
    assert cluster_events == result.events
    assert stored is not None
    assert stored[0] == len(events)  # every event has its chain link
    previous = GENESIS
    for position, originator_id, version, topic, state, link in events:
        previous = entry_hash(previous, position, event_digest(originator_id, version, topic,
                                                               bytes(state)))
        assert bytes(link) == previous


def test_long_case_has_the_requested_number_of_events(bench_db: ConnectionInfo) -> None:
    result = generate(bench_db, clusters=0, horizon_year=HORIZON, workers=1, batch=1,
                      long_case_events=150)
    ledger = open_ledger(bench_db, batching=False)
    try:
        assert result.long_case_id is not None
        assert ledger.get_cluster(uuid.UUID(result.long_case_id)).version == 150
    finally:
        ledger.close()


def test_histories_are_the_same_committed_per_command_or_in_batches(
    pg: ConnectionInfo, bench_db: ConnectionInfo
) -> None:
    generate(bench_db, clusters=2, horizon_year=HORIZON, workers=1, batch=0, long_case_events=0)
    per_command = _histories(bench_db)
    name = f"cluster_ledger_bench_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    other = pg.with_dbname(name)
    try:
        migrate(other.url)
        open_ledger(other, batching=False).close()
        generate(other, clusters=2, horizon_year=HORIZON, workers=1, batch=2,
                 long_case_events=0)
        assert _histories(other) == per_command
        assert len(per_command) == 2
    finally:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_generate_entry_point_adds_to_a_store_with_events_only_when_forced(
    bench_db: ConnectionInfo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.generate import main

    monkeypatch.setenv("DATABASE_URL", bench_db.url)
    small = ["--scale", "1", "--horizon", str(HORIZON), "--workers", "1",
             "--long-case-events", "0"]
    assert main(small) == 0
    first = len(_histories(bench_db))
    assert main(small) == 1
    assert "already holds" in capsys.readouterr().err
    assert len(_histories(bench_db)) == first
    assert main([*small, "--force"]) == 0
    assert len(_histories(bench_db)) == first + 1
