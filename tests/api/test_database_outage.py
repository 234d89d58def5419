"""The database goes away while the API serves, and comes back: every request during the
outage is a quick 503 `database_unavailable` with Retry-After (never a 500, never a hang),
and afterwards writes and the read views recover without restarting the app.

The database is a server of this test's own (`tests.own_postgres`), stopped and started with
`pg_ctl`: never the session's database, never the machine's PostgreSQL service.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from infra.database import parse_url
from infra.migrations import migrate
from infra.settings import Settings
from projections.runner import Projector
from tests.factories import SIMING, XIAMEN, xm_dossier
from tests.own_postgres import OwnPostgres

Auth = Callable[..., dict[str, str]]

# The issue asks for an answer within about 2 s (connect timeout 1.5 s, plus one retry on a
# fresh connection after a lost one). The assertion allows 5 s so that a slow, shared CI
# machine does not fail it; the measured figures are printed.
OUTAGE_ANSWER_BOUND = 5.0
RECOVERY_DEADLINE = 30.0  # s after the restart; the figures are printed
OUTAGE = 8.0  # s the database stays down


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    with OwnPostgres() as server:
        yield server


@pytest.fixture
def app_client(
    own_pg: OwnPostgres, jwt_keys: tuple[str, str], tmp_path: Any
) -> Iterator[TestClient[Any]]:
    conn = parse_url(own_pg.url)
    migrate(conn.url)
    private, public = jwt_keys
    settings = Settings(
        database_url=conn.url,
        data_dir=tmp_path,
        jwt_public_key=public,
        jwt_private_key=private,
        read_wait_seconds=1.0,
        projector_max_backoff=1.0,  # the projector retries at most every second here
    )
    with TestClient(create_app(settings, conn=conn), raise_server_exceptions=False) as client:
        yield client


def _apply(client: TestClient[Any], auth: Auth, name: str, key: str | None = None) -> Any:
    dossier = msgspec.to_builtins(xm_dossier(name))
    headers = auth("county", SIMING, **({"Idempotency-Key": key} if key else {}))
    return client.post(
        "/api/clusters", json={"effective_date": "2024-12-02", "dossier": dossier},
        headers=headers,
    )


def _recommend(client: TestClient[Any], auth: Auth, cid: str, key: str | None = None) -> Any:
    headers = auth("city", XIAMEN, **{"If-Match": '"1"'})
    if key:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/api/clusters/{cid}/recommendation",
        json={"effective_date": "2024-12-16", "onsite_verified": True},
        headers=headers,
    )


def _board(client: TestClient[Any], auth: Auth, after: int | None = None) -> Any:
    query = f"?after={after}" if after is not None else ""
    return client.get(f"/api/clusters{query}", headers=auth("city", XIAMEN))


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_database_outage_is_answered_503_and_the_app_recovers_without_a_restart(
    own_pg: OwnPostgres, app_client: TestClient[Any], auth: Auth
) -> None:
    client = app_client
    applied = _apply(client, auth, "厦门市思明区（停库前）产业集群")
    assert applied.status_code == 201, applied.text
    cid, position = applied.json()["cluster_id"], applied.json()["position"]
    assert _board(client, auth, after=position).status_code == 200
    assert client.get(f"/api/clusters/{cid}", headers=auth("city", XIAMEN)).status_code == 200

    own_pg.stop()
    requests: dict[str, Callable[[], Any]] = {
        "list read": lambda: _board(client, auth),
        "single-case read": lambda: client.get(
            f"/api/clusters/{cid}", headers=auth("city", XIAMEN)
        ),
        "command": lambda: _recommend(client, auth, cid),
        "command with Idempotency-Key": lambda: _recommend(client, auth, cid, str(uuid.uuid4())),
        "new case": lambda: _apply(client, auth, "厦门市思明区（停库中）产业集群"),
        "readiness": lambda: client.get("/ready"),
    }
    slowest = ("", 0.0)
    stopped = time.monotonic()
    rounds = 0
    # Round after round for OUTAGE seconds, as in the incident (~10 s): first on the pools'
    # connections that the stop killed, then on no connection at all.
    while rounds < 2 or time.monotonic() - stopped < OUTAGE:
        rounds += 1
        for name, call in requests.items():
            response, elapsed = _timed(call)
            assert response.status_code == 503, (name, response.status_code, response.text)
            assert response.json()["code"] == "database_unavailable", (name, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert int(response.headers["retry-after"]) > 0, name
            assert elapsed < OUTAGE_ANSWER_BOUND, (name, elapsed)
            slowest = max(slowest, (name, elapsed), key=lambda pair: pair[1])
        health = client.get("/health")
        assert health.status_code == 200
    projector: Projector = client.app.state.runtime.extras["projector"]
    status = projector.status()
    assert status.state == "retrying", status
    assert not projector.failures()

    own_pg.start()
    restarted = time.monotonic()
    deadline = restarted + RECOVERY_DEADLINE
    key = str(uuid.uuid4())
    while (written := _recommend(client, auth, cid, key)).status_code == 503:
        assert time.monotonic() < deadline, written.text
        time.sleep(0.05)
    assert written.status_code == 200, written.text
    first_write = time.monotonic() - restarted
    created = _apply(client, auth, "厦门市思明区（复库后）产业集群")
    assert created.status_code == 201, created.text
    new_cid, last = created.json()["cluster_id"], created.json()["position"]

    while (board := _board(client, auth, after=last)).status_code != 200:
        assert board.json()["code"] == "projection_lagging", board.text
        assert time.monotonic() < deadline, board.text
    converged = time.monotonic() - restarted
    statuses = {item["id"]: item["status"] for item in board.json()["items"]}
    assert statuses[cid] == "recommended"
    assert statuses[new_cid] == "applied"
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["projections"]["projector"]["state"] == "running"
    assert not projector.failures()

    print(
        f"\noutage of {restarted - stopped:.1f} s, {rounds * len(requests)} requests: slowest "
        f"answer {slowest[1]:.2f} s ({slowest[0]}); after the restart: first successful write "
        f"{first_write:.2f} s, views converged {converged:.2f} s"
    )
