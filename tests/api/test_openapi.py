"""The OpenAPI document is served, documents every error response, and the docs page loads."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

COMMAND_STATUSES = {"400", "401", "403", "404", "409", "412", "413", "422", "428"}


@pytest.fixture(scope="module")
def spec(client: TestClient[Any]) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_docs_page_loads_without_a_token(client: TestClient[Any]) -> None:
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "scalar" in response.text.lower()


def test_every_command_documents_its_problem_responses(spec: dict[str, Any]) -> None:
    commands = [
        (path, op)
        for path, method, op in _operations(spec)
        if method == "post" and path.startswith("/api/clusters/{cluster_id}/")
    ]
    assert len(commands) == 21
    for path, operation in commands:
        responses = operation["responses"]
        assert responses.keys() >= COMMAND_STATUSES, path
        for status in COMMAND_STATUSES:
            content = responses[status]["content"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, (path, status)


def _headers(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


def test_every_command_on_a_case_requires_if_match_and_accepts_an_idempotency_key(
    spec: dict[str, Any],
) -> None:
    """If-Match is required (a command without it is answered 428), as documented."""
    commands = [
        op for path, method, op in _operations(spec)
        if method == "post" and path.startswith("/api/clusters/{cluster_id}/")
    ]
    assert len(commands) == 21
    for operation in commands:
        headers = _headers(operation)
        assert headers["If-Match"]["required"] is True, operation["operationId"]
        assert headers["Idempotency-Key"].get("required") is not True


def test_opening_a_case_takes_no_if_match(spec: dict[str, Any]) -> None:
    headers = _headers(spec["paths"]["/api/clusters"]["post"])
    assert "If-Match" not in headers
    assert "Idempotency-Key" in headers


def test_create_and_command_responses_link_to_every_operation_on_the_case(
    spec: dict[str, Any],
) -> None:
    case_operations = {
        op["operationId"] for path, _, op in _operations(spec)
        if path.startswith("/api/clusters/{cluster_id}")
    }
    created = spec["paths"]["/api/clusters"]["post"]["responses"]["201"]["links"]
    assert set(created) == case_operations
    assert created["recommend"]["parameters"] == {
        "path.cluster_id": "$response.body#/cluster_id",
        "header.If-Match": "$response.header.ETag",
    }
    assert created["getCluster"]["parameters"] == {"path.cluster_id": "$response.body#/cluster_id"}
    paid = spec["paths"]["/api/clusters/{cluster_id}/payments"]["post"]["responses"]["200"]
    assert set(paid["links"]) == case_operations


def test_every_route_documents_the_problems_its_shape_can_answer(spec: dict[str, Any]) -> None:
    for path, _method, operation in _operations(spec):
        responses = operation["responses"]
        public = operation["operationId"] in {"health", "ready"}
        assert ("401" in responses) is not public, path
        if "{" in path:
            assert "404" in responses, path
        if operation["operationId"] != "health":
            assert responses["503"]["content"]["application/problem+json"], path


def test_public_routes_need_no_token(spec: dict[str, Any]) -> None:
    for path in ("/health", "/ready"):
        assert spec["paths"][path]["get"]["security"] == [{}]


def _bounds(parameter: dict[str, Any]) -> tuple[Any, Any]:
    """(minimum, maximum) of a query parameter, on its schema or on its integer member."""
    schema = parameter["schema"]
    members = [schema, *(m for m in schema.get("oneOf", []) if m.get("type") == "integer")]
    return (
        next((m["minimum"] for m in members if "minimum" in m), None),
        next((m["maximum"] for m in members if "maximum" in m), None),
    )


def test_query_positions_and_limits_document_their_bounds(spec: dict[str, Any]) -> None:
    exported = {p["name"]: p for p in spec["paths"]["/api/audit/events"]["get"]["parameters"]}
    assert _bounds(exported["after"]) == (0, 2**53 - 1)
    assert _bounds(exported["limit"]) == (1, 2**53 - 1)
    listed = {p["name"]: p for p in spec["paths"]["/api/clusters"]["get"]["parameters"]}
    assert _bounds(listed["after"]) == (0, 2**53 - 1)
    assert _bounds(listed["limit"]) == (1, 500)
