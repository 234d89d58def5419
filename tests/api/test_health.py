from __future__ import annotations

from typing import Any

from litestar.testing import TestClient


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
