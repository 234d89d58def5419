"""`create_app(settings)`: wires the Litestar app. Nothing is built at import time."""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import Message, Scope

from api.auth import BearerAuthMiddleware, TokenVerifier
from api.errors import EXCEPTION_HANDLERS
from api.input_policy import refuse_deep_json
from api.logging import RequestContextMiddleware, configure_logging, log_request
from api.openapi import complete as complete_openapi
from api.runtime import Runtime, open_pool
from api.web.forms import EmptyFieldsMiddleware
from api.web.routes import page_routes
from api.web.session import web_config
from api.web.static import api_docs_plugin, static_files_router
from infra.bootstrap import build_ledger
from infra.database import ConnectionInfo, DatabaseLimits, database
from infra.keys import dev_key_pair
from infra.migrations import migrate
from infra.rules import load_regions
from infra.settings import Settings

# Each module exposes ROUTES, a list of its route handlers.
ROUTE_MODULES = (
    "api.routes.health",
    "api.routes.clusters",
    "api.routes.commands",  # every command, from its declaration (domain.commands)
    "api.routes.eligibility", "api.routes.calendar",
    "api.routes.reads",
    "api.routes.changes",
    "api.routes.audit",
    "api.i18n.routes",  # GET /lang/{code}: the pages' language switch
)

# Each module exposes `async def start(runtime, stack: contextlib.AsyncExitStack) -> None`, run in
# the lifespan after the runtime is built (e.g. the in-process projector); stopped in reverse order.
LIFESPAN_MODULES: tuple[str, ...] = (
    "api.i18n.catalogue",  # loads the message catalogue: a bad file stops the start
    "api.projector",
    "infra.audit.checkpointer",  # signs due audit checkpoints in the background
)


def _jwt_public_key(settings: Settings) -> str:
    if settings.jwt_public_key:
        return settings.jwt_public_key
    return dev_key_pair(settings.data_dir / "keys", "jwt")[1]


@contextlib.contextmanager
def frozen_startup_heap() -> Iterator[None]:
    """Keep what start-up built (modules, routes, rulebook, calendar, pools: hundreds of
    thousands of objects that live as long as the process) out of the garbage collector's full
    passes while serving. Each full pass would otherwise walk all of them and stop every
    request meanwhile (60-80 ms pauses under load, measured). Unfrozen at shutdown."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_app(settings: Settings, *, conn: ConnectionInfo | None = None) -> Litestar:
    """Build the API. The database, the ledger and the asyncpg pool open in the lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        complete_openapi(app)  # before the document is first served
        with contextlib.ExitStack() as stack:
            if conn is not None:
                info = conn
            else:
                info = await anyio.to_thread.run_sync(stack.enter_context, database(settings))
            await anyio.to_thread.run_sync(migrate, info.url)
            ledger, calendar = await anyio.to_thread.run_sync(build_ledger, info, settings)
            stack.callback(ledger.close)
            pool = await open_pool(info, limits=DatabaseLimits.of(settings))
            try:
                runtime = Runtime(
                    settings=settings, conn=info, ledger=ledger, calendar=calendar, pool=pool
                )
                app.state.runtime = runtime
                async with contextlib.AsyncExitStack() as hooks:
                    for module_name in LIFESPAN_MODULES:
                        await importlib.import_module(module_name).start(runtime, hooks)
                    with frozen_startup_heap():
                        yield
            finally:
                await pool.close()

    verifier = TokenVerifier(
        _jwt_public_key(settings), settings.jwt_issuer, settings.jwt_audience,
        regions=load_regions(),  # the role/jurisdiction-level check of every token
    )

    def on_app_init(config: AppConfig) -> AppConfig:
        config.state["token_verifier"] = verifier
        return config

    configure_logging(json=settings.log_json)
    handlers: list[Any] = []
    for module_name in ROUTE_MODULES:
        handlers.extend(importlib.import_module(module_name).ROUTES)
    handlers.append(static_files_router())
    web = web_config(settings)  # pages: sessions, sign-in, CSRF, templates
    handlers.extend(web.route_handlers)
    handlers.extend(page_routes())  # the pages themselves (api/web/routes.py)
    return Litestar(
        route_handlers=handlers,
        dependencies=web.dependencies,
        lifespan=[lifespan],
        on_app_init=[on_app_init],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            RequestContextMiddleware,  # outermost: request ids exist before anything can fail
            BearerAuthMiddleware,  # /api/ only
            *web.middleware,  # every other route but the public ones: a session
            EmptyFieldsMiddleware,  # pages: an empty form field is a filter not given
        ],
        csrf_config=web.csrf,
        template_config=web.templates,
        before_request=refuse_deep_json,  # before any body is decoded
        # One structlog line per response, errors included; OPTIONS naming every method.
        before_send=[allow_every_method, log_request],
        openapi_config=OpenAPIConfig(
            title="Cluster Ledger API",
            version="0.1.0",
            path="/schema",
            render_plugins=[api_docs_plugin()],  # from vendored assets, no CDN
            use_handler_docstrings=True,  # handler docstrings become operation descriptions
            description=(
                "Event-sourced case management for SME characteristic industrial clusters. "
                "Send `Authorization: Bearer <JWT>` (`cluster-ledger token`). Commands on an "
                "existing case need `If-Match: \"<version>\"`; every POST accepts an "
                "`Idempotency-Key`. Errors are RFC 9457 problem details with a stable `code`."
            ),
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", bearer_format="JWT (EdDSA)"
                    )
                }
            ),
            security=[{"BearerToken": []}],
        ),
        # Over the limit -> 413 problem (Content-Length checked up front, chunked bodies as read).
        request_max_body_size=settings.max_request_bytes,
        debug=False,
    )


async def allow_every_method(message: Message, scope: Scope) -> None:
    """`before_send` hook: the `Allow` of an automatic OPTIONS answer names every method of the
    path. (Litestar builds that answer when a path's first handler is registered and keeps it
    when handlers from another module join the path: `/api/clusters` answered `OPTIONS, POST`
    without GET.)"""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    methods = scope["litestar_app"].route_handler_method_map.get(scope.get("path_template"))
    if not methods:
        return
    allow = ", ".join(sorted(methods)).encode()
    message["headers"] = [
        (name, allow if name.lower() == b"allow" else value)
        for name, value in message.get("headers") or []
    ]
