"""What the OpenAPI document says beyond each handler's own declarations, derived in one place
from the routes' shape, so that the document tells the truth about every route alike:

- the schemas of the request and response bodies are msgspec's own (`msgspec.json`), the
  library that decodes them: unknown fields refused (`additionalProperties: false`), patterns
  and bounds as enforced, decimals as a number or a decimal string (both are accepted);
  Litestar's rendering of msgspec types loses some of that;
- the problems any route can answer because of its shape: 401 on every route that needs a
  token, 404 on every route with a path parameter (one that does not parse never reaches a
  handler), 503 on every route that reads the database (`database_unavailable`);
- public routes (`/health`, `/ready`) need no token: `security: [{}]`;
- links from the response that opens a case, and from every command's response, to every read
  and command on the same case, with `If-Match` taken from the response's `ETag`: a client (or
  a stateful fuzzer) can walk a case through its life from the document alone.

`complete(app)` runs once, in the app's lifespan, before the document is first served: it edits
the document Litestar serves (built once and cached by Litestar).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler

from api.errors import PROBLEM_JSON, problem_description
from domain.inputs import MAX_DECIMAL_PLACES

PUBLIC_OPERATIONS = frozenset({"health", "ready"})
NO_DATABASE = frozenset({"health"})
CASE_PREFIX = "/api/clusters/{cluster_id}"
REF_TEMPLATE = "#/components/schemas/{name}"
_DECIMAL_STRING = rf"^-?[0-9]+(\.[0-9]{{1,{MAX_DECIMAL_PLACES}}})?$"
_DECIMAL_STEP = 10.0**-MAX_DECIMAL_PLACES

Document = dict[str, Any]


def _operations(document: Document) -> Iterator[tuple[str, str, Document]]:
    for path, item in document.get("paths", {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            if isinstance(operation := item.get(method), dict):
                yield path, method, operation


# ---- body schemas from msgspec -----------------------------------------------------------------


def _structs(annotation: Any) -> Iterator[type[msgspec.Struct]]:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _structs(argument)


def _body_types(app: Litestar) -> list[type[msgspec.Struct]]:
    found: dict[type[msgspec.Struct], None] = {}
    for methods in app.route_handler_method_map.values():
        for handler in methods.values():
            if not isinstance(handler, HTTPRouteHandler) or not handler.include_in_schema:
                continue
            signature = handler.parsed_fn_signature
            annotations = [signature.return_type.annotation]
            annotations += [field.annotation for field in signature.parameters.values()]
            for annotation in annotations:
                found.update(dict.fromkeys(_structs(annotation)))
    return list(found)


def _decimals_as_numbers(node: Any) -> Any:
    """msgspec documents a Decimal as a decimal string; the API also takes a JSON number (and
    the bounds `decimal_meta` documents apply to it)."""
    if isinstance(node, list):
        return [_decimals_as_numbers(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "string" and node.get("format") == "decimal":
        bounds = {k: node.pop(k) for k in ("minimum", "maximum") if k in node}
        node.pop("type"), node.pop("format")
        return {
            **node,
            "anyOf": [
                {"type": "number", "multipleOf": _DECIMAL_STEP, **bounds},
                {"type": "string", "format": "decimal", "pattern": _DECIMAL_STRING},
            ],
        }
    return {key: _decimals_as_numbers(value) for key, value in node.items()}


def _use_msgspec_schemas(app: Litestar, document: Document) -> None:
    _, components = msgspec.json.schema_components(_body_types(app), ref_template=REF_TEMPLATE)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_decimals_as_numbers(components))


# ---- problems, security, links -----------------------------------------------------------------


def _problem(status: int) -> Document:
    return {
        "description": problem_description(status),
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF_TEMPLATE.format(name="Problem")}}},
    }


def _document_problems(path: str, operation: Document) -> None:
    responses = operation.setdefault("responses", {})
    statuses = []
    if operation.get("operationId") not in PUBLIC_OPERATIONS:
        statuses.append(401)
    if "{" in path:
        statuses.append(404)
    if operation.get("operationId") not in NO_DATABASE:
        statuses.append(503)
    for status in statuses:
        responses.setdefault(str(status), _problem(status))


def _case_links(document: Document, *, cluster_id: str) -> Document:
    """A link to every operation on the case whose id `cluster_id` (a runtime expression)
    names; commands carry the response's ETag as If-Match."""
    links: Document = {}
    for path, method, operation in _operations(document):
        operation_id = operation.get("operationId")
        if not path.startswith(CASE_PREFIX) or not operation_id:
            continue
        parameters = {"path.cluster_id": cluster_id}
        if method == "post":
            parameters["header.If-Match"] = "$response.header.ETag"
        links[operation_id] = {"operationId": operation_id, "parameters": parameters}
    return links


def _link_commands(document: Document) -> None:
    links = _case_links(document, cluster_id="$response.body#/cluster_id")
    for path, method, operation in _operations(document):
        if method != "post" or not (path == "/api/clusters" or path.startswith(CASE_PREFIX)):
            continue
        for status, response in operation.get("responses", {}).items():
            if status in {"200", "201"}:
                response["links"] = dict(links)


def complete(app: Litestar) -> None:
    """Edit the document the app serves (see the module's docstring)."""
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    _use_msgspec_schemas(app, document)
    for path, _method, operation in _operations(document):
        _document_problems(path, operation)
        if operation.get("operationId") in PUBLIC_OPERATIONS:
            operation["security"] = [{}]
    _link_commands(document)
