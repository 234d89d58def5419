"""`/ready` says why it is not ready, in a problem body with Retry-After: the projector
stopped on an error, is retrying a transient failure, or a view lags. (A database that is away
is `database_unavailable`: see test_database_outage.)"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import msgspec
import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.projector import PROJECTOR_KEY
from domain.commands import Command
from infra.database import ConnectionInfo, DatabaseLimits
from infra.settings import Settings
from projections.projection import PROJECTIONS, LedgerProjection
from projections.runner import Backoff, Projector, ViewGroup
from projections.schema import VIEWS, create_copy, drop_copy
from tests.factories import fj_dossier, meta


@pytest.fixture
def status_copy(migrated: ConnectionInfo) -> Iterator[type[LedgerProjection[Any]]]:
    spec = VIEWS["status"]
    prefix = f"{spec.prefix}_y{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        create_copy(curs, spec, prefix)
    yield type("ReadyStatus", (PROJECTIONS["status"],), {"name": prefix})
    with psycopg.connect(migrated.url) as pg, pg.cursor() as curs:
        drop_copy(curs, spec, prefix)


@pytest.fixture
def api(api_settings: Settings) -> Iterator[TestClient[Any]]:
    """The app without an in-process projector: each test installs the one it needs."""
    settings = msgspec.structs.replace(api_settings, run_projector=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.app.state.runtime.ledger.issue(
            Command.APPLY,
            None,
            meta("county", "350582", date(2025, 3, 3)),
            None,
            dossier=fj_dossier(f"就绪{uuid.uuid4().hex[:4]}"),
        )
        yield client


class LosingConnections(ViewGroup):
    """Every batch loses its connection (the server terminates the session, 57P01)."""

    def process_batch(self, _batch: Any) -> None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT pg_terminate_backend(pg_backend_pid())")


class StoringNul(ViewGroup):
    def process_batch(self, _batch: Any) -> None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT %s::text", ("a\x00b",))


@pytest.fixture
def install(
    api: TestClient[Any], migrated: ConnectionInfo, status_copy: type[LedgerProjection[Any]]
) -> Iterator[Callable[[type[ViewGroup]], Projector]]:
    started: list[Projector] = []

    def run(group: type[ViewGroup]) -> Projector:
        projector = Projector(
            migrated, ["status"], projections={"status": status_copy}, group_class=group,
            limits=DatabaseLimits(), backoff=Backoff(first=30, cap=30),
        )
        projector.start()
        started.append(projector)
        api.app.state.runtime.extras[PROJECTOR_KEY] = projector
        return projector

    yield run
    for projector in started:
        projector.stop()


def _until(projector: Projector, state: str) -> None:
    deadline = time.monotonic() + 30
    while projector.status().state != state:
        assert time.monotonic() < deadline, projector.status()
        time.sleep(0.02)


def test_ready_is_503_projection_retrying_while_the_projector_retries(
    api: TestClient[Any], install: Callable[[type[ViewGroup]], Projector]
) -> None:
    _until(install(LosingConnections), "retrying")
    response = api.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "projection_retrying"
    assert 1 <= int(response.headers["retry-after"]) <= 30
    projector = body["details"]["projections"]["projector"]
    assert projector["state"] == "retrying"
    assert projector["attempts"] == 1
    assert "terminating connection" in projector["error"]


def test_ready_is_503_projection_stopped_after_a_deterministic_failure(
    api: TestClient[Any], install: Callable[[type[ViewGroup]], Projector]
) -> None:
    assert install(StoringNul).failed.wait(30)
    response = api.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "projection_stopped"
    assert int(response.headers["retry-after"]) > 0
    assert "NUL" in body["detail"]
    assert body["details"]["projections"]["failures"][0]["error"].startswith("DataError")


def test_ready_is_503_projection_lagging_when_a_view_lags(api_settings: Settings) -> None:
    settings = msgspec.structs.replace(api_settings, run_projector=False, ready_max_lag=-1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "projection_lagging"
    assert response.headers["retry-after"] == "1"
    assert {v["view"] for v in body["details"]["projections"]["views"]} == set(VIEWS)


def test_ready_is_200_with_a_running_projector(api_settings: Settings) -> None:
    settings = msgspec.structs.replace(api_settings, run_projector=True, ready_max_lag=1_000_000)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["projections"]["projector"]["state"] == "running"
