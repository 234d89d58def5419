"""What the OpenAPI document says beyond each handler's own declarations, derived in one place
from the routes' shape, so that the document tells the truth about every route alike:

- the problems any route can answer because of its shape: 401 on every route that needs a
  token, 404 on every route with a path parameter (one that does not parse never reaches a
  handler), 503 on every route that reads the database (`database_unavailable`);
- public routes (`/health`, `/ready`) need no token: `security: [{}]`;
- links from the response that opens a case, and from every command's response, to every read
  and command on the same case, with `If-Match` taken from the response's `ETag`: a client (or
  a stateful fuzzer) can walk a case through its life from the document alone.

`complete(openapi)` runs once, in the app's lifespan, before the document is first served.
"""

from __future__ import annotations

from collections.abc import Iterator

from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Reference,
)

from api.errors import PROBLEM_JSON, problem_description

PUBLIC_OPERATIONS = frozenset({"health", "ready"})
NO_DATABASE = frozenset({"health"})
CASE_PREFIX = "/api/clusters/{cluster_id}"
PROBLEM_SCHEMA = Reference(ref="#/components/schemas/Problem")


def _operations(openapi: OpenAPI) -> Iterator[tuple[str, str, Operation]]:
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if isinstance(operation, Operation):
                yield path, method, operation


def _problem(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=problem_description(status),
        content={PROBLEM_JSON: OpenAPIMediaType(schema=PROBLEM_SCHEMA)},
    )


def _document_problems(path: str, operation: Operation) -> None:
    responses = operation.responses if operation.responses is not None else {}
    statuses = []
    if operation.operation_id not in PUBLIC_OPERATIONS:
        statuses.append(401)
    if "{" in path:
        statuses.append(404)
    if operation.operation_id not in NO_DATABASE:
        statuses.append(503)
    for status in statuses:
        responses.setdefault(str(status), _problem(status))
    operation.responses = responses


def _case_links(openapi: OpenAPI, *, cluster_id: str) -> dict[str, Link | Reference]:
    """A link to every operation on the case whose id `cluster_id` (a runtime expression)
    names; commands carry the response's ETag as If-Match."""
    links: dict[str, Link | Reference] = {}
    for path, method, operation in _operations(openapi):
        if not path.startswith(CASE_PREFIX) or not operation.operation_id:
            continue
        parameters: dict[str, object] = {"path.cluster_id": cluster_id}
        if method == "post":
            parameters["header.If-Match"] = "$response.header.ETag"
        links[operation.operation_id] = Link(operation_id=operation.operation_id,
                                             parameters=parameters)
    return links


def _link_commands(openapi: OpenAPI) -> None:
    links = _case_links(openapi, cluster_id="$response.body#/cluster_id")
    for path, method, operation in _operations(openapi):
        if method != "post" or not (path == "/api/clusters" or path.startswith(CASE_PREFIX)):
            continue
        for status, response in (operation.responses or {}).items():
            if status in {"200", "201"} and isinstance(response, OpenAPIResponse):
                response.links = dict(links)


def complete(openapi: OpenAPI) -> None:
    """Add what is derived from the routes' shape (see the module's docstring)."""
    for path, _method, operation in _operations(openapi):
        _document_problems(path, operation)
        if operation.operation_id in PUBLIC_OPERATIONS:
            operation.security = [{}]
    _link_commands(openapi)
