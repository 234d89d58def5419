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


def test_every_command_documents_if_match_and_idempotency_key(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        if method != "post" or not path.startswith("/api/clusters"):
            continue
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert {"If-Match", "Idempotency-Key"} <= headers, path


def test_application_documents_201_with_location(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/api/clusters"]["post"]
    assert "Location" in operation["responses"]["201"]["headers"]
    assert {"400", "401", "403", "413", "422"} <= operation["responses"].keys()


def test_problem_schema_has_the_rfc_9457_members_and_code(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])


def test_reads_document_401_403_404(spec: dict[str, Any]) -> None:
    for path in ("/api/clusters/{cluster_id}", "/api/clusters/{cluster_id}/events"):
        assert {"401", "403", "404"} <= spec["paths"][path]["get"]["responses"].keys()


def test_bearer_security_is_declared(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    assert {"BearerToken": []} in spec["security"]


def test_every_operation_has_an_id_and_a_description(spec: dict[str, Any]) -> None:
    import importlib

    modules = (
        "api.routes.clusters",
        "api.routes.commands_review",
        "api.routes.commands_monitoring",
        "api.routes.commands_funding",
        "api.routes.commands_sanctions",
        "api.routes.eligibility",
        "api.routes.calendar",
    )
    mine = {h.operation_id for m in modules for h in importlib.import_module(m).ROUTES}
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert mine <= set(ids)
    for path, method, operation in _operations(spec):
        if operation["operationId"] in mine:
            assert operation.get("description"), (method, path)
