"""The one exception map: domain errors and framework errors become RFC 9457 problem details.

Status by kind of domain error, not by code: a new rule needs no new mapping. Handlers never
catch exceptions themselves.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from domain.errors import DomainError, ErrorKind

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://cluster-ledger.invalid/problems/"

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.RULE: 422,
    ErrorKind.STATE: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.CONFIG: 500,
}


def problem(
    status: int, code: str, detail: str, *, title: str | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON)


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    status = STATUS_BY_KIND[exc.kind]
    if exc.code == "stale_version":
        status = 412  # the If-Match version is not the current one
    return problem(status, exc.code, exc.message, details=exc.details or None)


def validation_error_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    fields = [e.get("key") for e in errors if isinstance(e, dict) and e.get("key")]
    detail = exc.detail or "the request is not valid"
    if errors:
        detail = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict)) or detail
    return problem(400, "invalid_request", detail, fields=fields or None, errors=errors or None)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code = {
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "request_too_large",
        428: "precondition_required",
    }.get(exc.status_code, "http_error")
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    response = problem(exc.status_code, code, exc.detail)
    if headers:
        response.headers.update(headers)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def unexpected_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    structlog.get_logger("api").exception("unhandled_error", path=request.url.path)
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")


EXCEPTION_HANDLERS: Any = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
