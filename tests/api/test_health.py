from __future__ import annotations

import gc
from typing import Any

from litestar.testing import TestClient

from api.app import create_app
from infra.settings import Settings


def test_health_answers_without_a_token(client: TestClient[Any]) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_the_database(client: TestClient[Any]) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_cluster_read_without_token_is_401_problem(client: TestClient[Any]) -> None:
    response = client.get("/api/clusters/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "unauthenticated"


def test_the_start_up_heap_is_frozen_while_serving_and_released_at_shutdown(
    api_settings: Settings,
) -> None:
    """What start-up builds is kept out of the collector's full passes while the app serves
    (`gc.freeze`), and handed back to it when the app stops."""
    with TestClient(create_app(api_settings)) as serving:
        assert serving.get("/health").status_code == 200
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
