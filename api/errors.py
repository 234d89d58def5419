"""The one exception map: domain errors and framework errors become RFC 9457 problem details.

Status by kind of domain error, not by code: a new rule needs no new mapping. Two codes are
refined, both about optimistic concurrency:

- `stale_version` -> 412 Precondition Failed: the `If-Match` version is not the current one.
- `concurrent_update` -> 409 Conflict: the version matched when the command loaded the case,
  but another command committed first; nothing was written. Re-read and retry.

A database that is away or did not answer in time is 503 with `Retry-After`
(`database_unavailable`, `database_busy`; `infra.db_failures` tells them from other driver
errors), never a 500 or a hang.

Handlers never catch exceptions themselves. The OpenAPI document lists the same problem shape
for every status a handler can return (`problem_responses`).

Every problem is answered in the client's language (`in_language`): `Accept-Language` asking
for Chinese gives the title and detail from the message catalogue (`api.i18n`), filled from the
problem's `details` and field; otherwise English, with the catalogue's title and the detail as
raised. `code`, `fields`, `errors` and `details` never change; `Content-Language` says which.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import msgspec
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from api.i18n.catalogue import Locale
from api.i18n.messages import problem_text
from api.i18n.negotiation import LANGUAGE_TAGS, api_locale, negotiate
from api.paths import is_page
from domain.actors import Actor
from domain.errors import DomainError, ErrorKind
from infra.db_failures import DRIVER_ERRORS, RETRY_AFTER, Failure, classify

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
STATUS_BY_CODE: dict[str, int] = {"stale_version": 412}

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    428: "precondition_required",
    429: "too_many_requests",
    503: "unavailable",
}


class FieldError(msgspec.Struct, kw_only=True):
    field: str  # dotted path into the body ("dossier.county_code"), or a header name
    message: str
    source: str = "body"  # body, header, path or query


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details, with the stable machine-readable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    fields: list[str] | None = None  # the request fields the problem is about
    errors: list[FieldError] | None = None  # one entry per invalid field (400)
    details: dict[str, Any] | None = None  # figures that explain a domain refusal


class ApiError(HTTPException):
    """An HTTP-level refusal with its own problem code (e.g. a malformed If-Match header)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: str,
        *,
        fields: list[str] | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=headers)
        self.code = code
        self.fields = fields
        self.errors = errors
        self.details = details


def invalid_field(field: str, message: str, *, source: str = "body") -> ApiError:
    """A value of the right type outside its bounds: the same 400 `invalid_request` as a
    constraint msgspec checks itself. (Not a ValueError: raised while msgspec decodes a body,
    it must reach the exception map as it is.)"""
    return ApiError(
        400,
        "invalid_request",
        f"{field}: {message}",
        fields=[field],
        errors=[FieldError(field=field, message=message, source=source)],
    )


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
    status = STATUS_BY_CODE.get(exc.code, STATUS_BY_KIND[exc.kind])
    field = exc.details.get("field")
    fields = [str(field)] if field else None
    return problem(status, exc.code, exc.message, fields=fields, details=exc.details or None)


_QUOTED = re.compile(r"`([^`]+)`")
_ROOT_KEYS = {"data", "$"}


def _field_error(raw: dict[str, Any]) -> FieldError:
    """Litestar reports body errors against the parameter ("data") with msgspec's message; for
    unknown and missing fields the field's own name is only in the message: put it in the path."""
    key = str(raw.get("key") or "")
    message = str(raw.get("message") or "invalid value")
    source = str(raw.get("source") or "body")
    if key in _ROOT_KEYS:
        key = ""
    if message == "'data'":  # the body parameter could not be found at all
        message = "a JSON request body is required"
    elif ("unknown field" in message or "missing required field" in message) and (
        match := _QUOTED.search(message)
    ):
        key = f"{key}.{match.group(1)}" if key else match.group(1)
    return FieldError(field=key or "body", message=message, source=source)


def validation_error_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    raw_errors = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field_error(e) for e in raw_errors if isinstance(e, dict)]
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    else:
        detail = exc.detail or "the request is not valid"
    return problem(
        400,
        "invalid_request",
        detail,
        title="Invalid request",
        fields=[e.field for e in errors] or None,
        errors=[msgspec.to_builtins(e) for e in errors] or None,
    )


def _is_malformed_body(exc: HTTPException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, msgspec.DecodeError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    fields = errors = details = None
    if isinstance(exc, ApiError):
        code, fields, errors, details = exc.code, exc.fields, exc.errors, exc.details
    elif status == 400 and _is_malformed_body(exc):
        code = "malformed_json"
    else:
        code = HTTP_CODES.get(status, "http_error")
    detail = exc.detail
    if code == "malformed_json":
        detail = f"the request body is not valid JSON: {exc.detail}"
    response = problem(
        status, code, detail, fields=fields, details=details,
        errors=[msgspec.to_builtins(e) for e in errors] if errors else None,
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def undecodable_body_handler(
    _: Request[Any, Any, Any], exc: UnicodeDecodeError
) -> Response[dict[str, Any]]:
    """msgspec raises UnicodeDecodeError, not DecodeError, for invalid UTF-8 inside a string,
    and Litestar passes it through: it is the client's malformed body, not a server fault."""
    return problem(400, "malformed_json", f"the request body is not valid UTF-8 JSON: {exc.reason}")


_FAILURE_DETAILS: dict[Failure, str] = {
    Failure.UNAVAILABLE: "the database is unavailable; retry later (a command with the same"
    " Idempotency-Key, which replays it if it was recorded after all)",
    Failure.BUSY: "the database did not answer in time; retry later (a command with the same"
    " Idempotency-Key)",
}


def database_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """The database is away (`database_unavailable`) or did not answer in time
    (`database_busy`): 503 with `Retry-After`. Any other driver error is not the database's
    state and is answered as before (bad input by its own, more specific handler; the rest
    as an unexpected error)."""
    failure = classify(exc)
    if failure is None:
        return unexpected_error_handler(request, exc)
    structlog.get_logger("api").warning(
        failure.value, path=request.url.path, error=f"{type(exc).__name__}: {exc}"
    )
    response = problem(503, failure.value, _FAILURE_DETAILS[failure])
    response.headers["Retry-After"] = str(RETRY_AFTER[failure])
    return response


def unexpected_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    structlog.get_logger("api").error(
        "unhandled_error", path=request.url.path, error=type(exc).__name__, exc_info=exc
    )
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")


class SignInRequired(NotAuthorizedException):
    """401 on a page (no session, or one that has ended): the browser is sent to the sign-in
    form instead of a problem document. `headers` may clear the stale session cookie."""


def sign_in_redirect(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    """303 to `/login`, with the page asked for as `next` (a GET's only: after signing in the
    browser asks for `next` with GET). An htmx request gets 401 with `HX-Redirect`, which htmx
    follows as a whole-page visit rather than putting the form inside the part it replaces."""
    target = "/login"
    if request.method == "GET":
        query = request.url.query
        target += "?" + urlencode({"next": request.url.path + (f"?{query}" if query else "")})
    headers = dict(exc.headers or {})
    if request.headers.get("hx-request") == "true":
        headers["HX-Redirect"] = target
        headers["WWW-Authenticate"] = PAGE_CHALLENGE
        return Response(content=None, status_code=401, headers=headers)
    return Redirect(path=target, status_code=303, headers=headers)


PAGE_CHALLENGE = 'Form realm="Cluster Ledger", action="/login"'  # pages sign in with a form

Handler = Callable[[Request[Any, Any, Any], Any], Response[dict[str, Any]]]


def in_language(handler: Handler) -> Handler:
    """`handler`'s problem with its title and detail in the language the client asks for; on
    a page, the same problem as an HTML page (in the page's language: Chinese by default)."""

    def localised(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
        response = handler(request, exc)
        body = response.content
        # A page answers an error page (an app built without templates, e.g. in a unit test of
        # one route, answers the problem document).
        page = is_page(request.scope.get("path", "")) and request.app.template_engine is not None
        locale = negotiate(request, "zh") if page else api_locale(request)
        params = dict(body.get("details") or {})
        if body.get("fields"):
            params.setdefault("field", ", ".join(body["fields"]))
        title, detail = problem_text(locale, body["code"], params, status=body["status"])
        body["title"] = title
        if locale != "en":  # English keeps the detail as raised, with all its figures
            body["detail"] = detail
        if page:
            return _problem_page(request, body, locale, response.headers)
        response.headers["Content-Language"] = LANGUAGE_TAGS[locale]
        vary = response.headers.get("Vary")
        response.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
        return response

    return localised


def _problem_page(
    request: Request[Any, Any, Any], problem: dict[str, Any], locale: Locale, headers: Any
) -> Response[Any]:
    """A problem on a page: the error page, with the problem's status and headers."""
    user = request.scope.get("user")
    return Template(
        template_name="error.html",
        context={
            "problem": problem, "lang": locale, "html_lang": LANGUAGE_TAGS[locale],
            "actor": user if isinstance(user, Actor) else None,
            "path": request.scope.get("path", "/"),
        },
        status_code=problem["status"], media_type=MediaType.HTML,
        headers={**dict(headers), "Content-Language": LANGUAGE_TAGS[locale]},
    )


_HANDLERS: dict[type[Exception], Handler] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    UnicodeDecodeError: undecodable_body_handler,
    **dict.fromkeys(DRIVER_ERRORS, database_error_handler),
    Exception: unexpected_error_handler,
}
EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    SignInRequired: sign_in_redirect,  # a page without a session: to the sign-in form
    **{exc_type: in_language(handler) for exc_type, handler in _HANDLERS.items()},
}


# ---- OpenAPI: the problem responses a handler can return --------------------------------------

_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON, wrong types, unknown or missing fields, bad formats (`invalid_request`,"
    " `malformed_json`); `fields` names them",
    401: "No bearer token, or an invalid or expired one (`unauthenticated`)",
    403: "The caller's role may not do this, or the case lies outside their jurisdiction"
    " (`role_not_permitted`, `outside_jurisdiction`, `command_not_in_programme`)",
    404: "No such cluster case (`cluster_not_found`), or no rulebook version in force on the"
    " date given (`no_rulebook_in_force`)",
    409: "The case is not in a state that allows this step (e.g. `wrong_state`), or another"
    " command changed it at the same moment (`concurrent_update`: re-read and retry)",
    412: "`If-Match` names a version that is no longer current (`stale_version`)",
    413: "The request body is larger than the configured limit (`request_too_large`)",
    422: "A business rule refuses the step (e.g. `four_eyes`, `appeal_window_closed`), an invalid"
    " value (e.g. `unknown_region`), or an Idempotency-Key reused with another body"
    " (`idempotency_key_reused`)",
    428: "Commands on an existing case need `If-Match` with the case's ETag"
    " (`precondition_required`)",
    503: "The database is unavailable (`database_unavailable`) or did not answer in time"
    " (`database_busy`), or the read views have not reached the `after` position yet"
    " (`projection_lagging`). Retry after `Retry-After` seconds (a command with the same"
    " `Idempotency-Key`)",
}


def problem_description(status: int) -> str:
    return _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries documenting the problem body for each of `statuses`."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            generate_examples=False,
            description=problem_description(status),
            media_type=PROBLEM_JSON,
        )
        for status in statuses
    }


COMMAND_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428, 503)
CREATE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)  # 404: no rulebook
READ_ERRORS = problem_responses(400, 401, 403, 404, 503)
