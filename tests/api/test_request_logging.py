"""One structlog line per request: ids, user, role, route, cluster, version, status, latency."""

from __future__ import annotations

import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

import msgspec
from litestar.testing import TestClient
from structlog.testing import capture_logs

from infra.application import ClusterLedger
from tests.factories import SIMING, XIAMEN, certified_xm, xm_dossier

Auth = Callable[..., dict[str, str]]


def _requests(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "request"]


def test_a_command_logs_one_line_with_who_what_and_the_result(
    client: TestClient[Any], auth: Auth
) -> None:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    cid = certified_xm(ledger)
    headers = auth("county", SIMING, **{"If-Match": '"3"', "X-Request-ID": "req-log-1"})
    with capture_logs() as logs:
        response = client.post(
            f"/api/clusters/{cid}/annual-reports",
            json={"effective_date": "2026-03-02", "year": 2025},
            headers=headers,
        )
    assert response.status_code == 200, response.text
    (line,) = _requests(logs)
    assert line == {
        **line,
        "log_level": "info",
        "request_id": "req-log-1",
        "correlation_id": "req-log-1",
        "method": "POST",
        "route": "/api/clusters/{cluster_id}/annual-reports",
        "user": f"county-{SIMING}",
        "role": "county",
        "cluster_id": str(cid),
        "version": 4,
        "status": 200,
        "replayed": False,
    }
    assert isinstance(line["latency_ms"], float)
    assert line["latency_ms"] >= 0


def test_logs_never_contain_the_token(client: TestClient[Any], auth: Auth) -> None:
    headers = auth("county", SIMING)
    token = headers["Authorization"].removeprefix("Bearer ")
    with capture_logs() as logs:
        client.post(
            "/api/clusters",
            json={"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())},
            headers=headers,
        )
        client.get("/api/clusters/not-a-uuid", headers=headers)
    assert _requests(logs)
    text = repr(logs)
    assert token not in text
    assert token.split(".")[2] not in text  # not even the signature


def test_a_created_case_logs_its_new_id_and_version(client: TestClient[Any], auth: Auth) -> None:
    with capture_logs() as logs:
        response = client.post(
            "/api/clusters",
            json={"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())},
            headers=auth("county", SIMING),
        )
    (line,) = _requests(logs)
    assert line["cluster_id"] == response.json()["cluster_id"]
    assert line["version"] == 1
    assert line["status"] == 201


def test_a_refused_request_is_logged_with_its_status(client: TestClient[Any]) -> None:
    with capture_logs() as logs:
        response = client.get("/api/clusters/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 401
    (line,) = _requests(logs)
    assert line["status"] == 401
    assert line["user"] is None
    assert line["cluster_id"] == "00000000-0000-0000-0000-000000000000"


def test_an_unknown_path_is_logged_too(client: TestClient[Any], auth: Auth) -> None:
    with capture_logs() as logs:
        response = client.get("/nowhere", headers=auth("city", XIAMEN))
    assert response.status_code == 404
    (line,) = _requests(logs)
    assert line["status"] == 404
    assert line["request_id"] == response.headers["x-request-id"]


def test_request_ids_are_generated_and_echoed(client: TestClient[Any]) -> None:
    with capture_logs() as logs:
        response = client.get("/health")
    (line,) = _requests(logs)
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-correlation-id"] == response.headers["x-request-id"]
    assert line["request_id"] == response.headers["x-request-id"]


def test_an_unsafe_request_id_is_replaced(client: TestClient[Any]) -> None:
    with capture_logs() as logs:
        response = client.get("/health", headers={"X-Request-ID": 'x" injected=1 {}'})
    (line,) = _requests(logs)
    assert response.headers["x-request-id"] != 'x" injected=1 {}'
    assert line["request_id"] == response.headers["x-request-id"]


def test_a_replayed_command_is_logged_as_replayed(client: TestClient[Any], auth: Auth) -> None:
    body = {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    headers = auth("county", SIMING, **{"Idempotency-Key": str(uuid.uuid4())})
    client.post("/api/clusters", json=body, headers=headers)
    with capture_logs() as logs:
        client.post("/api/clusters", json=body, headers=headers)
    (line,) = _requests(logs)
    assert line["replayed"] is True


def test_log_lines_are_rendered_as_json(client: TestClient[Any]) -> None:
    import io
    import json

    from api.logging import configure_logging

    buffer = io.StringIO()
    configure_logging(json=True, stream=buffer)
    try:
        client.get("/health", headers={"X-Request-ID": "req-json-1"})
    finally:
        configure_logging(json=True)
    lines = [json.loads(text) for text in buffer.getvalue().splitlines()]
    (line,) = [entry for entry in lines if entry["event"] == "request"]
    assert line["event"] == "request"
    assert line["request_id"] == "req-json-1"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
