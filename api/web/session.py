"""Signing in to the pages: the session middleware, CSRF, /login, /logout, /account, and
`web_config(settings)`, which `create_app` applies.

Who is who:
- `/api/...` answers bearer tokens only (`api.auth`); a session cookie there is ignored, so a
  request with only the cookie gets 401.
- Every other route is a page and needs a session, except `PAGE_EXEMPT` (health, readiness, the
  API docs, static files) and the sign-in routes themselves. A page request without a live
  session is sent to `/login?next=<the page>` (303, `api.errors.sign_in_redirect`). A page
  handler gets the signed-in `Actor` as `request.user`, or as its `actor` parameter (the
  `actor` dependency): the same role x jurisdiction the API's checks take, so a page shows what
  the API would. `request.auth` is the `WebSession`.
- Every form is a POST protected by Litestar's CSRF middleware (a signed token in a cookie and
  the same token in the form's `_csrf_token` field or the `X-CSRFToken` header; templates put
  it in with `csrf_token()`); GET handlers change nothing.

Why not Litestar's `ServerSideSessionConfig` + `SessionAuth`: its backend writes the session
to the store on every response (a write and a commit per page view), creates and stores a
session for every anonymous visitor of a page its authentication skips (the sign-in form),
keeps the session id a request's cookie names when data is first stored (session fixation at
sign-in), and hands the store opaque bytes, so "end every session of this account" (`user
disable`) would need the store to parse them. The middleware here is Litestar's
`AbstractAuthenticationMiddleware` (as the bearer tokens use) over `infra.sessions`: one
statement per page view, a new id at each sign-in, and columns for issuer and subject.

Cookies: HttpOnly; SameSite=Lax, so that a link from the intranet portal or an e-mail to a
page arrives signed in (Strict would show the sign-in form every time), while a form posted
from another site carries no cookie (and no CSRF token either); Secure and the `__Host-` prefix
(no subdomain can set or shadow them) when `CLUSTER_LEDGER_COOKIE_SECURE` says the service is
behind TLS. The session cookie has no Max-Age: closing the browser forgets it, and the server
ends the session on its own after the idle or absolute time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from litestar import Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.middleware import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
    DefineMiddleware,
)
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, ControllerRouterHandler

from api.errors import PAGE_CHALLENGE, SignInRequired
from api.i18n import LANGUAGE_TAGS, Locale, negotiate, t
from api.paths import NOT_PAGES_PATTERNS
from api.runtime import runtime_of
from api.web.page import NAV
from api.web.static import HTMX_URL
from api.web.templates import template_config
from domain.actors import Actor
from infra.accounts import USERNAME, Passwords, lookup_name
from infra.keys import dev_secret
from infra.sessions import SessionPolicy, SessionStore, WebSession
from infra.settings import Settings
from infra.sign_in import Locked, Refused, SignIn

# Routes that are not pages: no session needed, and no CSRF token (none has a form).
PAGE_EXEMPT = NOT_PAGES_PATTERNS
MAX_NEXT_LENGTH = 2000
SIGN_IN_PATHS = frozenset({"/login", "/logout"})

def page_lang(request: Request[Any, Any, Any]) -> Locale:
    return negotiate(request, "zh")


def local_path(value: str | None) -> str:
    """`value` if it is a path on this site to return to after signing in, else "/". Refused:
    anything with a scheme or host (`https://x`, `//x`), a backslash (browsers read `/\\x` as
    `//x`), control characters (browsers drop tab and newline: `/\\t/x` would become `//x`),
    and the sign-in routes themselves."""
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/"):
        return "/"
    if value.startswith("//") or "\\" in value or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in SIGN_IN_PATHS:
        return "/"
    return value


@dataclass(frozen=True)
class CookieNames:
    session: str
    csrf: str
    secure: bool

    @classmethod
    def of(cls, settings: Settings) -> CookieNames:
        prefix = "__Host-" if settings.cookie_secure else ""
        return cls(f"{prefix}cl_session", f"{prefix}cl_csrf", settings.cookie_secure)

    def session_cookie(self, value: str) -> Cookie:
        return self._cookie(self.session, value)

    def cleared(self, key: str) -> Cookie:
        return self._cookie(key, "", max_age=0)

    def _cookie(self, key: str, value: str, max_age: int | None = None) -> Cookie:
        return Cookie(
            key=key, value=value, path="/", httponly=True, secure=self.secure,
            samesite="lax", max_age=max_age,
        )


@dataclass(frozen=True)
class WebAuth:
    """What the session middleware and the sign-in routes share (one per app)."""

    cookies: CookieNames
    sessions: SessionStore
    sign_in: SignIn


Web = NamedDependency[WebAuth]  # the sign-in routes' `web` parameter
SignedInActor = NamedDependency[Actor]  # a page handler's `actor` parameter


class PageSessionMiddleware(AbstractAuthenticationMiddleware):
    """Every page needs a live session; see the module's docstring."""

    def __init__(self, app: ASGIApp, *, web: WebAuth) -> None:
        super().__init__(app, exclude=list(PAGE_EXEMPT), scopes={ScopeType.HTTP})
        self.web = web

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        session_id = connection.cookies.get(self.web.cookies.session)
        if session_id:
            pool = connection.app.state.runtime.pool
            session = await self.web.sessions.resolve(pool, session_id)
            if session is not None:
                return AuthenticationResult(user=session.actor, auth=session)
            stale = self.web.cookies.cleared(self.web.cookies.session)
            raise SignInRequired(headers={"Set-Cookie": stale.to_header(header="")})
        raise SignInRequired


def signed_in_actor(request: Request[Actor, Any, Any]) -> Actor:
    """The `actor` dependency: who is signed in (a page) or whose token it is (the API)."""
    return request.user


# ---- routes --------------------------------------------------------------------------------


def _form_text(value: object) -> str:
    return value if isinstance(value, str) else ""  # a file where text belongs: nothing typed


def _login_page(
    request: Request[Any, Any, Any],
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    lang = page_lang(request)
    return Template(
        template_name="login.html",
        context={
            "lang": lang, "html_lang": LANGUAGE_TAGS[lang], "next": next_path,
            "username": username,
            "error": error,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


@get("/login", opt={"exclude_from_auth": True}, sync_to_thread=False)
def login_form(request: Request[Any, Any, Any]) -> Template:
    """The sign-in form; `next` is the page to go to afterwards (a path on this site)."""
    return _login_page(request, next_path=local_path(request.query_params.get("next")))


@post("/login", opt={"exclude_from_auth": True}, status_code=303)
async def login(request: Request[Any, Any, Any], web: Web) -> Response[Any]:
    """Check the password; on success a new session, and 303 to `next`."""
    form = await request.form()
    next_path = local_path(_form_text(form.get("next")))
    username = _form_text(form.get("username"))
    address = request.client.host if request.client else "unknown"
    pool = runtime_of(request).pool
    outcome = await web.sign_in.sign_in(pool, username, _form_text(form.get("password")), address)
    lang = page_lang(request)
    log = structlog.get_logger("api.sign_in").bind(
        # What was typed, if it can be a username (never a password typed in the wrong field).
        username=name if USERNAME.match(name := lookup_name(username)) else "(not a username)",
        address=address,
    )
    if isinstance(outcome, Locked):
        log.warning("sign_in_locked", retry_after=outcome.retry_after)
        minutes = math.ceil(outcome.retry_after / 60)
        return _login_page(
            request, next_path=next_path, username=username,
            error=t(lang, "signin.locked", minutes=minutes), status_code=429,
            headers={"Retry-After": str(outcome.retry_after)},
        )
    if isinstance(outcome, Refused):
        log.warning("sign_in_refused")
        return _login_page(
            request, next_path=next_path, username=username, error=t(lang, "signin.refused"),
            status_code=401, headers={"WWW-Authenticate": PAGE_CHALLENGE},
        )
    log.info("signed_in", user=outcome.actor.user_id, role=str(outcome.actor.role))
    if previous := request.cookies.get(web.cookies.session):
        await web.sessions.end(pool, previous)
    return Redirect(
        path=next_path,
        status_code=303,
        cookies=[
            web.cookies.session_cookie(outcome.session_id),
            # A new CSRF token after signing in: one planted before cannot be used after.
            web.cookies.cleared(web.cookies.csrf),
        ],
    )


@post("/logout", opt={"exclude_from_auth": True}, status_code=303)
async def logout(request: Request[Any, Any, Any], web: Web) -> Redirect:
    """End the session (if any) and go to the sign-in form."""
    if session_id := request.cookies.get(web.cookies.session):
        await web.sessions.end(runtime_of(request).pool, session_id)
    return Redirect(
        path="/login", status_code=303, cookies=[web.cookies.cleared(web.cookies.session)]
    )


@get("/account", sync_to_thread=False)
def account(request: Request[Actor, WebSession, Any], actor: SignedInActor) -> Template:
    """Who is signed in, until when, and the sign-out button."""
    lang = page_lang(request)
    return Template(
        template_name="account.html",
        context={
            "lang": lang, "html_lang": LANGUAGE_TAGS[lang], "actor": actor,
            "session": request.auth, "nav": NAV, "path": "/account", "htmx_url": HTMX_URL,
        },
        headers={"Cache-Control": "no-store"},
    )


# ---- wiring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebConfig:
    """What `create_app` passes to Litestar for the pages."""

    route_handlers: list[ControllerRouterHandler]
    middleware: list[DefineMiddleware]
    csrf: CSRFConfig
    templates: TemplateConfig[JinjaTemplateEngine]
    dependencies: dict[str, Provide]


def web_config(settings: Settings) -> WebConfig:
    cookies = CookieNames.of(settings)
    sessions = SessionStore(SessionPolicy.of(settings))
    web = WebAuth(
        cookies=cookies,
        sessions=sessions,
        sign_in=SignIn(settings, Passwords(), sessions),
    )
    secret = settings.csrf_secret or dev_secret(settings.data_dir / "keys", "csrf")

    def provide_web() -> WebAuth:
        return web

    sign_in_router = Router(
        path="/",
        route_handlers=[login_form, login, logout, account],
        dependencies={"web": Provide(provide_web, use_cache=True, sync_to_thread=False)},
        include_in_schema=False,
    )
    return WebConfig(
        route_handlers=[sign_in_router],
        middleware=[DefineMiddleware(PageSessionMiddleware, web=web)],
        csrf=CSRFConfig(
            secret=secret.strip(),
            cookie_name=cookies.csrf,
            cookie_secure=cookies.secure,
            cookie_httponly=True,  # templates put the token in; no script needs to read it
            cookie_samesite="lax",
            exclude=list(PAGE_EXEMPT),
        ),
        templates=template_config(),
        dependencies={"actor": Provide(signed_in_actor, sync_to_thread=False)},
    )
