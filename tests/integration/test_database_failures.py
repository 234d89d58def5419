"""Which database failures are transient (the database away, or too slow to answer), and
which are not, judged on real errors from a real PostgreSQL; and what the ledger's datastore
does with them."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import psycopg
import pytest
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresFactory
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

from api.runtime import open_connection
from domain.errors import ConfigError
from infra.database import ConnectionInfo, DatabaseLimits, LedgerDatastore
from infra.db_failures import (
    DatabaseBusy,
    DatabaseUnavailable,
    Failure,
    by_sqlstate,
    classify,
    is_transient,
)
from infra.settings import Settings


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the probe is closed


def _raised(call: Any) -> BaseException:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the error is what the test looks at
        return exc
    raise AssertionError("no error was raised")


async def _araised(awaitable: Any) -> BaseException:
    try:
        await awaitable
    except BaseException as exc:  # noqa: BLE001 - the error is what the test looks at
        return exc
    raise AssertionError("no error was raised")


# ---- psycopg ----------------------------------------------------------------------------------


def test_a_refused_connection_is_unavailable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    error = _raised(lambda: psycopg.connect(url, connect_timeout=2))
    assert classify(error) is Failure.UNAVAILABLE


def test_a_connection_the_server_terminated_is_unavailable(migrated: ConnectionInfo) -> None:
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        error = _raised(lambda: conn.execute("SELECT pg_terminate_backend(pg_backend_pid())"))
    assert isinstance(error, psycopg.errors.AdminShutdown)  # 57P01
    assert classify(error) is Failure.UNAVAILABLE


def test_a_statement_timeout_is_busy(migrated: ConnectionInfo) -> None:
    with psycopg.connect(migrated.url, options="-c statement_timeout=50") as conn:
        error = _raised(lambda: conn.execute("SELECT pg_sleep(2)"))
    assert isinstance(error, psycopg.errors.QueryCanceled)  # 57014
    assert classify(error) is Failure.BUSY


def test_a_lock_timeout_is_busy(migrated: ConnectionInfo) -> None:
    table = Identifier(f"lock_probe_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(migrated.url, autocommit=True) as admin:
        admin.execute(SQL("CREATE TABLE {} (id int)").format(table))
        try:
            with psycopg.connect(migrated.url) as holder, psycopg.connect(
                migrated.url, options="-c lock_timeout=50"
            ) as waiter:
                holder.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
                error = _raised(lambda: waiter.execute(SQL("SELECT * FROM {}").format(table)))
        finally:
            admin.execute(SQL("DROP TABLE {}").format(table))
    assert isinstance(error, psycopg.errors.LockNotAvailable)  # 55P03
    assert classify(error) is Failure.BUSY


def test_a_nul_byte_is_not_transient(migrated: ConnectionInfo) -> None:
    with psycopg.connect(migrated.url) as conn:
        error = _raised(lambda: conn.execute("SELECT %s::text", ("a\x00b",)))
    assert isinstance(error, psycopg.DataError)
    assert classify(error) is None


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 'not a number'::int",  # 22P02: bad input
        "SELECT * FROM no_such_table_anywhere",  # 42P01: a bug
        "SELECT 1/0",  # 22012
    ],
)
def test_an_error_in_the_statement_is_not_transient(
    migrated: ConnectionInfo, statement: str
) -> None:
    with psycopg.connect(migrated.url) as conn:
        error = _raised(lambda: conn.execute(statement))
    assert isinstance(error, psycopg.Error)
    assert not is_transient(error)


def test_a_deadlock_and_a_serialization_failure_are_busy() -> None:
    # Named by SQLSTATE: both roll the transaction back, and the same work can succeed later.
    assert by_sqlstate("40P01") is Failure.BUSY
    assert by_sqlstate("40001") is Failure.BUSY
    assert by_sqlstate("57P03") is Failure.UNAVAILABLE  # cannot connect now: starting up
    assert by_sqlstate("08006") is Failure.UNAVAILABLE
    assert by_sqlstate("23505") is None  # unique violation


# ---- asyncpg ----------------------------------------------------------------------------------


async def test_asyncpg_errors_are_classified_the_same_way(migrated: ConnectionInfo) -> None:
    kwargs = migrated.asyncpg_kwargs()
    refused = await _araised(
        asyncpg.connect(**{**kwargs, "host": "127.0.0.1", "port": _closed_port()})
    )
    assert isinstance(refused, ConnectionRefusedError)
    assert classify(refused) is Failure.UNAVAILABLE  # raised through asyncpg's frames

    conn = await asyncpg.connect(**kwargs, server_settings={"statement_timeout": "50"})
    try:
        timeout = await _araised(conn.execute("SELECT pg_sleep(2)"))
        assert classify(timeout) is Failure.BUSY
        # The client-side timeout (the API pool's command_timeout), for a server that does
        # not answer: asyncio's TimeoutError, raised through asyncpg.
        client_side = await _araised(conn.fetchval("SELECT pg_sleep(0.04)", timeout=0.01))
        assert isinstance(client_side, TimeoutError)
        assert classify(client_side) is Failure.BUSY
        bad_argument = await _araised(conn.fetchval("SELECT $1::int", "not a number"))
        assert isinstance(bad_argument, asyncpg.exceptions.DataError | asyncpg.InterfaceError)
        assert classify(bad_argument) is None
        bad_text = await _araised(conn.fetchval("SELECT 'x'::int"))
        assert classify(bad_text) is None
        terminated = await _araised(conn.execute("SELECT pg_terminate_backend(pg_backend_pid())"))
        assert classify(terminated) is Failure.UNAVAILABLE
        closed = await _araised(conn.fetchval("SELECT 1"))
        assert classify(closed) is Failure.UNAVAILABLE
    finally:
        await conn.close()


async def test_the_api_pool_connect_raises_database_unavailable(
    migrated: ConnectionInfo,
) -> None:
    refused = {**migrated.asyncpg_kwargs(), "host": "127.0.0.1", "port": _closed_port()}
    assert isinstance(await _araised(open_connection(**refused)), DatabaseUnavailable)
    no_socket = {**migrated.asyncpg_kwargs(), "host": "/nonexistent", "port": 5432}
    assert isinstance(await _araised(open_connection(**no_socket)), DatabaseUnavailable)


def test_an_error_of_another_kind_is_not_made_transient_by_its_cause() -> None:
    lost = ConnectionResetError("not from a database driver")
    assert classify(lost) is None
    def handle_badly() -> None:
        try:
            raise psycopg.errors.AdminShutdown("terminating connection")
        except psycopg.Error as exc:
            raise RuntimeError("a bug while handling it") from exc

    assert classify(_raised(handle_badly)) is None


async def test_a_timeout_outside_the_drivers_is_not_the_database() -> None:
    error = await _araised(asyncio.wait_for(asyncio.sleep(1), timeout=0.01))
    assert isinstance(error, TimeoutError)
    assert classify(error) is None


# ---- the ledger's datastore -------------------------------------------------------------------


@pytest.fixture
def schema(migrated: ConnectionInfo) -> Iterator[str]:
    name = f"outage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(name)))
    yield name
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(name)))


def _recorder(
    conn: ConnectionInfo, schema: str, limits: DatabaseLimits | None
) -> PostgresAggregateRecorder:
    env = Environment("Probe", conn.eventsourcing_env(schema=schema, limits=limits))
    recorder = PostgresFactory.construct(env).aggregate_recorder()
    assert isinstance(recorder, PostgresAggregateRecorder)
    return recorder


def test_with_limits_eventsourcing_gets_the_ledgers_datastore(
    migrated: ConnectionInfo, schema: str
) -> None:
    limits = DatabaseLimits(connect_timeout=0.7, statement_timeout=3.0)
    recorder = _recorder(migrated, schema, limits)
    try:
        datastore = recorder.datastore
        assert isinstance(datastore, LedgerDatastore)
        assert datastore.pool.timeout == 0.7
        with datastore.get_connection() as conn:
            timeout = conn.execute("SHOW statement_timeout").fetchone()
        assert timeout == {"statement_timeout": "3s"}
    finally:
        recorder.datastore.close()
    stock = _recorder(migrated, schema, None)
    try:
        assert type(stock.datastore) is not LedgerDatastore
    finally:
        stock.datastore.close()


def test_a_recorder_call_that_times_out_fails_once_as_busy(
    migrated: ConnectionInfo, schema: str
) -> None:
    """eventsourcing retries a recorder call ten times on its OperationalError (a statement
    timeout is one): the ledger's datastore raises DatabaseBusy, which is not retried."""
    limits = DatabaseLimits(connect_timeout=1.0, statement_timeout=0.3)
    recorder = _recorder(migrated, schema, limits)
    table = Identifier(schema, "probe_events")
    try:
        with psycopg.connect(migrated.url) as holder:
            holder.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
            started = time.monotonic()
            error = _raised(lambda: recorder.select_events(uuid.uuid4()))
            elapsed = time.monotonic() - started
    finally:
        recorder.datastore.close()
    assert isinstance(error, DatabaseBusy)
    assert isinstance(error, PersistenceError)
    # Ten attempts would take over 4.5 s (10 x 0.3 s plus eventsourcing's 9 x 0.2 s pauses);
    # one takes 0.3 s. The bound is generous for a slow machine.
    assert elapsed < 2.5, elapsed


def test_a_pool_that_gives_no_connection_fails_once_as_unavailable(
    migrated: ConnectionInfo, schema: str
) -> None:
    limits = DatabaseLimits(connect_timeout=0.5, statement_timeout=5.0)
    recorder = _recorder(migrated, schema, limits)
    datastore = recorder.datastore
    assert isinstance(datastore, LedgerDatastore)
    held: list[Any] = []
    try:
        # Hold every connection the pool may open, so the next call waits for one.
        held.extend(datastore.pool.getconn() for _ in range(datastore.pool.max_size))
        started = time.monotonic()
        error = _raised(lambda: recorder.select_events(uuid.uuid4()))
        waited = time.monotonic() - started
        # The database is now taken to be unreachable: the next call waits briefly only.
        started = time.monotonic()
        again = _raised(lambda: recorder.select_events(uuid.uuid4()))
        waited_again = time.monotonic() - started
        for conn in held:
            datastore.pool.putconn(conn)
        held.clear()
        # A connection had again: back to the full connect timeout, and it works.
        assert recorder.select_events(uuid.uuid4()) == []
        assert datastore.pool.timeout == 0.5
    finally:
        for conn in held:
            datastore.pool.putconn(conn)
        datastore.close()
    assert isinstance(error, DatabaseUnavailable)
    assert isinstance(again, DatabaseUnavailable)
    # Generous bounds: one wait of 0.5 s, not ten; then 0.1 s.
    assert waited < 2.5, waited
    assert waited_again < waited, (waited_again, waited)


def test_a_lost_connection_is_retried_on_a_fresh_one(
    migrated: ConnectionInfo, schema: str
) -> None:
    """The server restarted under the pool: its idle connections are dead. The call that
    meets the first one still succeeds, on a new connection."""
    recorder = _recorder(migrated, schema, DatabaseLimits())
    datastore = recorder.datastore
    try:
        datastore.pool.wait()
        stats = datastore.pool.get_stats()
        idle, opened = stats["pool_available"], stats["connections_num"]
        held = [datastore.pool.getconn() for _ in range(idle)]
        pids = [conn.info.backend_pid for conn in held]
        for conn in held:
            datastore.pool.putconn(conn)
        with psycopg.connect(migrated.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,)
            )
        assert recorder.select_events(uuid.uuid4()) == []
        assert datastore.pool.get_stats()["connections_num"] > opened  # the dead ones replaced
    finally:
        datastore.close()


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        Settings(db_connect_timeout=0)
    with pytest.raises(ConfigError):
        Settings.from_env({"CLUSTER_LEDGER_DB_STATEMENT_TIMEOUT": "-1"})
