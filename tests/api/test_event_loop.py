"""The event loop never blocks: a write stuck on a database lock does not stall reads.

A real uvicorn server runs the app on 127.0.0.1 in a background thread. Another connection
holds an EXCLUSIVE lock on the events table, so a command's insert waits inside its worker
thread; meanwhile /health and GET /api/clusters/{id} must still answer.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import msgspec
import psycopg
import pytest
import uvicorn
from litestar.testing import TestClient

from api.app import create_app
from infra.application import ClusterLedger
from infra.settings import Settings
from tests.factories import SIMING, XIAMEN, certified_xm

Auth = Callable[..., dict[str, str]]
READ_TIMEOUT = httpx.Timeout(15.0)


@pytest.fixture(scope="module")
def live_url(api_settings: Settings) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # No projector in this second app: it needs none, and fewer connections on a shared server.
    settings = msgspec.structs.replace(api_settings, run_projector=False)
    config = uvicorn.Config(create_app(settings), lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the uvicorn test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _waiting_on_events_table(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE c.relname = 'clusterledger_events' AND NOT l.granted"
    ).fetchone()
    return int(row[0]) if row else 0


def test_reads_answer_while_a_write_waits_for_the_database(
    live_url: str, client: TestClient[Any], auth: Auth, api_settings: Settings
) -> None:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    cid = certified_xm(ledger)
    assert api_settings.database_url is not None
    with (
        psycopg.connect(api_settings.database_url) as locker,
        psycopg.connect(api_settings.database_url, autocommit=True) as observer,
        ThreadPoolExecutor(max_workers=1) as pool,
        httpx.Client(base_url=live_url) as http,
    ):
        locker.execute("LOCK TABLE clusterledger_events IN EXCLUSIVE MODE")
        write = pool.submit(
            http.post,
            f"/api/clusters/{cid}/annual-reports",
            json={"effective_date": "2026-03-02", "year": 2025},
            headers=auth("county", SIMING, **{"If-Match": '"3"'}),
            timeout=120,
        )
        deadline = time.monotonic() + 30
        while not _waiting_on_events_table(observer):
            assert time.monotonic() < deadline, "the command never reached the locked table"
            assert not write.done(), write.result().text
            time.sleep(0.02)

        health = http.get("/health", timeout=READ_TIMEOUT)
        case = http.get(f"/api/clusters/{cid}", headers=auth("city", XIAMEN), timeout=READ_TIMEOUT)

        assert health.status_code == 200
        assert case.status_code == 200
        assert case.headers["etag"] == '"3"'
        assert not write.done()  # the write is still held by the lock
        locker.rollback()  # release the lock
        written = write.result(timeout=60)
    assert written.status_code == 200, written.text
    assert written.json()["version"] == 4
