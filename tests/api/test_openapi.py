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
    assert len(commands) == 22
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
    assert len(commands) == 22
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


def test_options_names_every_method_of_a_path_whose_handlers_live_in_two_modules(
    client: TestClient[Any],
) -> None:
    """GET /api/clusters (the board) and POST /api/clusters (opening a case) are declared in two
    modules: the automatic OPTIONS answer must still name both."""
    response = client.options("/api/clusters")
    assert response.status_code == 204
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "POST", "OPTIONS"}


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
        "api.routes.commands",
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


def test_body_schemas_are_msgspecs_own(spec: dict[str, Any]) -> None:
    """Unknown fields refused, patterns and bounds as enforced, decimals as either form."""
    schemas = spec["components"]["schemas"]
    apply = schemas["ApplyBody"]
    assert apply["additionalProperties"] is False
    assert apply["properties"]["attachments"]["items"]["pattern"] == "^[0-9a-f]{64}$"
    assert "pattern" in schemas["DossierIn"]["properties"]["name"]
    area = schemas["IndicatorsIn"]["properties"]["area_km2"]["anyOf"][0]
    number, text = area["anyOf"]
    assert number == {
        "type": "number", "multipleOf": 0.000001, "minimum": 0, "maximum": 1_000_000_000
    }
    assert text["format"] == "decimal"


def test_if_match_documents_the_version_it_takes(spec: dict[str, Any]) -> None:
    headers = _headers(spec["paths"]["/api/clusters/{cluster_id}/payments"]["post"])
    assert headers["If-Match"]["schema"]["pattern"] == '^(?:W/)?"?([0-9]{1,18})"?$'


def _resolve(expression: str, response: Any) -> str:
    """An OpenAPI runtime expression of the two kinds the document uses."""
    if expression.startswith("$response.body#/"):
        value: Any = response.json()
        for part in expression.removeprefix("$response.body#/").split("/"):
            value = value[part]
        return str(value)
    if expression.startswith("$response.header."):
        return str(response.headers[expression.removeprefix("$response.header.")])
    raise AssertionError(f"unexpected runtime expression {expression}")


def test_a_case_walks_through_its_life_along_the_documents_links(
    client: TestClient[Any], spec: dict[str, Any], auth: Any
) -> None:
    """Apply, then each step by following the link the previous response's operation
    documents: the path and the If-Match come from the links' expressions alone."""
    import msgspec

    from tests.factories import xm_dossier

    by_id = {op["operationId"]: (path, op) for path, _, op in _operations(spec)}
    response = client.post(
        "/api/clusters",
        json={"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())},
        headers=auth("county", "350203"),
    )
    assert response.status_code == 201, response.text
    links = spec["paths"]["/api/clusters"]["post"]["responses"]["201"]["links"]
    steps = [
        ("recommend", auth("city", "350200"), {"effective_date": "2024-12-16",
                                               "onsite_verified": True}),
        ("certify", auth("miit_recorder", "350200", "miit-rec"), {
            "effective_date": "2025-01-20", "document_number": "工信部企业函〔2025〕12号"}),
        ("getCluster", auth("county", "350203"), None),
    ]
    for operation_id, headers, body in steps:
        link = links[operation_id]
        path, operation = by_id[link["operationId"]]
        parameters = {k: _resolve(v, response) for k, v in link["parameters"].items()}
        url = path.replace("{cluster_id}", parameters["path.cluster_id"])
        if body is None:
            response = client.get(url, headers=headers)
        else:
            response = client.post(
                url, json=body, headers={**headers, "If-Match": parameters["header.If-Match"]}
            )
        assert response.status_code == 200, (operation_id, response.text)
        links = operation["responses"]["200"].get("links", {})
    assert response.json()["status"] == "certified"
