"""Every command route, generated from the command declarations (`domain.commands`): one
handler factory, one way to run a command.

A command request is checked in this order: bearer token (401), the route's guard on the role
(403), the body (400/422: types, then the one input policy), `If-Match` on an existing case
(428 missing, 400 malformed), the `Idempotency-Key` (replay, or 422 if reused for another
request). `ClusterLedger.execute` then runs in a worker thread; it authorises role and
jurisdiction (403), compares the version (412) and applies the domain rules. The response
carries the new version as `ETag` and the position of the last event for read-your-writes.
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, HeaderParameter, JSONBody

from api.auth import may_issue
from api.errors import COMMAND_ERRORS, CREATE_ERRORS, ApiError
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import KEY as IDEMPOTENCY_KEY
from api.idempotency import REPLAYED_HEADER, Gate, execute_once
from api.input_policy import enforce
from api.logging import request_context
from api.runtime import runtime_of
from api.schemas import CommandResponse
from domain.actors import Actor, EventMeta
from domain.commands import CommandBody, CommandSpec, commands
from domain.inputs import RequestBody
from infra.application import CommandResult
from infra.recorder import IdempotencyRecord

CASES_PATH = "/api/clusters"
CLUSTER_PATH = "/api/clusters/{cluster_id:uuid}"
_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')
_MSGSPEC_PATH = re.compile(r" - at `\$\.?([^`]*)`$")

ActorRequest = Request[Actor, Any, Any]
BodyT = TypeVar("BodyT", bound=RequestBody)


class CommandHeaders(msgspec.Struct, frozen=True, kw_only=True):
    if_match: str | None
    idempotency_key: str | None


Preconditions = NamedDependency[CommandHeaders]  # a handler's `preconditions` parameter


IF_MATCH_DESCRIPTION = (
    'The ETag of the case version the command acts on, e.g. "7" (from GET /api/clusters/{id} '
    "or the last command's response). Missing: 428 `precondition_required`; not a version: 400 "
    "`invalid_if_match`; not the current version: 412 `stale_version`."
)
IDEMPOTENCY_DESCRIPTION = (
    "A key unique per intended action (e.g. a UUID): a retry with the same key and body returns "
    "the first response and writes nothing."
)


IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_HEADER, description=IDEMPOTENCY_DESCRIPTION, max_length=200,
        schema_extra={"pattern": IDEMPOTENCY_KEY.pattern},  # documented; checked by Gate
    ),
]


async def command_headers(
    if_match: Annotated[
        str | None,
        HeaderParameter(
            name="If-Match", description=IF_MATCH_DESCRIPTION, max_length=40,
            required=True,  # documented as required; a missing one is answered 428, not 400
            schema_extra={"pattern": _ETAG.pattern},  # documented; checked by expected_version
        ),
    ] = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CommandHeaders:
    """The headers of a command on an existing case."""
    return CommandHeaders(if_match=if_match, idempotency_key=idempotency_key)


async def create_headers(
    idempotency_key: IdempotencyKeyHeader = None,
) -> CommandHeaders:
    """The headers of a command that opens a case: there is no version to match yet."""
    return CommandHeaders(if_match=None, idempotency_key=idempotency_key)


_RESPONSE_HEADERS = [
    ResponseHeader(
        name="ETag", description="The case's version after the command", documentation_only=True
    ),
    ResponseHeader(
        name=REPLAYED_HEADER,
        description='"true" when the response is the stored answer to an earlier request with '
        "the same Idempotency-Key",
        documentation_only=True,
        required=False,
    ),
]


def command_route(spec: CommandSpec[Any]) -> dict[str, Any]:
    """Keyword arguments of a command's `@post` decorator."""
    headers = list(_RESPONSE_HEADERS)
    if spec.opens_case:
        headers.append(
            ResponseHeader(name="Location", description="The new case", documentation_only=True)
        )
    return {
        "operation_id": spec.operation_id,
        "summary": spec.summary,
        "description": spec.description,
        "tags": ["commands"],
        "guards": [may_issue],
        "opt": {"command": spec.command},
        "dependencies": {
            "preconditions": Provide(create_headers if spec.opens_case else command_headers)
        },
        "responses": CREATE_ERRORS if spec.opens_case else COMMAND_ERRORS,
        "response_headers": headers,
        "status_code": 201 if spec.opens_case else 200,
    }


def expected_version(if_match: str | None) -> int:
    if if_match is None:
        raise ApiError(
            428,
            "precondition_required",
            "commands on an existing case need If-Match with the ETag of the version you acted "
            "on (GET /api/clusters/{id} returns it)",
            fields=["If-Match"],
        )
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise ApiError(
            400,
            "invalid_if_match",
            'If-Match must carry one case version, e.g. "7"',
            fields=["If-Match"],
        )
    return int(match.group(1))


async def ensure_strict(request: ActorRequest, body_type: type[msgspec.Struct]) -> None:
    """Litestar decodes bodies leniently ("1" passes for 1); refuse what strict typing refuses."""
    try:
        msgspec.json.decode(await request.body(), type=body_type, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _MSGSPEC_PATH.search(message)
        key = match.group(1) if match else "data"
        message = _MSGSPEC_PATH.sub("", message)
        raise ValidationException(
            detail="the request body is not valid",
            extra=[{"key": key or "data", "message": message, "source": "body"}],
        ) from None


async def checked_body(request: ActorRequest, data: BodyT) -> BodyT:
    """A decoded request body through the one input policy (`api.input_policy.enforce`: its
    text normalised in place, or refused), then held to strict types."""
    enforce(data)
    await ensure_strict(request, type(data))
    return data


async def run_command(
    request: ActorRequest,
    headers: CommandHeaders,
    data: CommandBody,
    spec: CommandSpec[Any],
    cluster_id: UUID | None,
    path: dict[str, int],
) -> Response[CommandResponse]:
    """Run one command for the caller, at most once per Idempotency-Key.

    `cluster_id` None means the command opens a new case (no If-Match, 201 with Location).
    """
    data = await checked_body(request, data)
    runtime = runtime_of(request)
    context = request_context(request)
    actor = request.user
    expected = None if cluster_id is None else expected_version(headers.if_match)
    meta = EventMeta(
        actor=actor,
        effective_date=data.effective_date,
        document_number=data.document_number,
        comment=data.comment,
        attachments=data.attachments,
        request_id=context.request_id,
        correlation_id=context.correlation_id,
    )
    gate = Gate.open(
        headers.idempotency_key, actor.user_id, request.method, request.url.path, data
    )

    async def run(record: IdempotencyRecord | None) -> CommandResult:
        return await runtime.call(
            runtime.ledger.execute, spec.command, cluster_id, meta, expected, data, record, path
        )

    outcome = await execute_once(runtime.pool, gate, 201 if cluster_id is None else 200, run)
    body = msgspec.convert(outcome.body, CommandResponse)
    context.cluster_id = str(body.cluster_id)
    context.version = body.version
    context.replayed = outcome.replayed
    response_headers = {"ETag": f'"{body.version}"'}
    if cluster_id is None:
        response_headers["Location"] = f"/api/clusters/{body.cluster_id}"
    if outcome.replayed:
        response_headers[REPLAYED_HEADER] = "true"
    return Response(body, status_code=outcome.status_code, headers=response_headers)


def command_handler(spec: CommandSpec[Any]) -> HTTPRouteHandler:
    """The POST route of one command: its path, body type, path parameters, guard and
    documentation all from its declaration."""

    async def handle(
        request: ActorRequest,
        data: CommandBody,
        preconditions: CommandHeaders,
        cluster_id: UUID | None = None,
        **path: int,
    ) -> Response[CommandResponse]:
        return await run_command(request, preconditions, data, spec, cluster_id, path)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("request", keyword, annotation=ActorRequest),
        *(
            []
            if spec.opens_case
            else [inspect.Parameter("cluster_id", keyword, annotation=FromPath[UUID])]
        ),
        *(
            inspect.Parameter(name, keyword, annotation=FromPath[int])
            for name in spec.path_parameters
        ),
        inspect.Parameter("data", keyword, annotation=JSONBody[spec.body]),  # type: ignore[misc,name-defined]
        inspect.Parameter("preconditions", keyword, annotation=Preconditions),
    ]
    returns = Response[CommandResponse]
    handle.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    handle.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    handle.__name__ = handle.__qualname__ = spec.name
    handle.__doc__ = spec.description
    route = CASES_PATH if spec.opens_case else f"{CLUSTER_PATH}{spec.path}"
    return post(route, **command_route(spec))(handle)


def command_routes() -> list[HTTPRouteHandler]:
    """A route for every declared command."""
    return [command_handler(spec) for spec in commands()]


ROUTES = command_routes()
