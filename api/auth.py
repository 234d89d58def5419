"""Bearer-token authentication: signed JWTs (EdDSA / Ed25519), expiry enforced.

Deny by default: the middleware authenticates every route under `API_PREFIX` (the pages
outside it use a session instead, `api.web.session`, and a session cookie is no credential
here); a missing or bad token is 401 before any handler runs, and so is a token whose
role may not hold its jurisdiction's level (a "county" naming the province: 401
`invalid_token_claims`, from the domain's table `JURISDICTION_LEVELS`). Guards then refuse, before
the body is even read, a role that may never issue the route's command (`may_issue`, from the
domain's permission table) or a non-administrator on an administrator's route (`admin_only`).
The application service checks again, per programme and jurisdiction, when the command runs.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Receive, Scope, Send

from api.errors import ApiError
from domain.actors import Actor, Role
from domain.commands import Command
from domain.errors import InvalidInput, NotAllowed
from domain.permissions import RegionLookup, check_jurisdiction_level

ALGORITHM = "EdDSA"
API_PREFIX = "/api/"


class TokenIssuer:
    def __init__(self, private_pem: str, issuer: str, audience: str) -> None:
        self._key = private_pem
        self._issuer = issuer
        self._audience = audience

    def mint(self, actor: Actor, ttl_seconds: int = 8 * 3600) -> str:
        now = int(time.time())
        claims = {
            "sub": actor.user_id,
            "role": str(actor.role),
            "org": actor.organisation,
            "jur": actor.jurisdiction,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class InvalidTokenClaims(ApiError, NotAuthorizedException):
    """401 `invalid_token_claims`: a validly signed token whose claims do not fit together."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, "invalid_token_claims", f"invalid token: {detail}")


class _Verified(msgspec.Struct, frozen=True):
    actor: Actor
    not_before: float  # the token's `iat` / `nbf`, whichever is later (-inf if neither)
    expires: int  # the token's `exp`


class TokenVerifier:
    """Verifies bearer tokens: signature, issuer, audience, required claims, expiry, and that
    the role may hold the jurisdiction's level (`regions`: the region table).

    A token is an immutable string: once its signature and claims have been verified, only the
    clock can change the verdict. So the verifier keeps the last `cache_size` tokens it accepted,
    keyed by the exact token string, with their time bounds; a token seen again is accepted from
    the cache only while `iat`/`nbf` <= now < `exp` (PyJWT's rules, no leeway), and verified in
    full otherwise, which also gives the exact error. Rejected tokens are never cached.
    """

    def __init__(
        self, public_pem: str, issuer: str, audience: str, *, regions: RegionLookup,
        cache_size: int = 1024,
    ) -> None:
        self._key: Any = public_pem
        with contextlib.suppress(jwt.PyJWTError, ValueError, TypeError):
            # Parse the PEM once; a key PyJWT would reject stays a string and fails per request.
            self._key = jwt.get_algorithm_by_name(ALGORITHM).prepare_key(public_pem)
        self._issuer = issuer
        self._audience = audience
        self._regions = regions
        self._cache_size = cache_size
        self._cache: dict[str, _Verified] = {}

    def verify(self, token: str) -> Actor:
        hit = self._cache.get(token)
        if hit is not None and hit.not_before <= time.time() < hit.expires:
            return hit.actor
        verified = self._verify(token)
        cache = self._cache
        cache.pop(token, None)
        if len(cache) >= self._cache_size:
            del cache[next(iter(cache))]  # the oldest entry
        cache[token] = verified
        return verified.actor

    def _verify(self, token: str) -> _Verified:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthorizedException("token expired") from None
        except jwt.PyJWTError as exc:
            raise NotAuthorizedException(f"invalid token: {exc}") from None
        try:
            actor = Actor(
                user_id=str(claims["sub"]),
                role=Role(claims["role"]),
                organisation=str(claims.get("org", "")),
                jurisdiction=str(claims["jur"]),
            )
        except (KeyError, ValueError):
            raise NotAuthorizedException("token lacks a valid role or jurisdiction") from None
        try:
            check_jurisdiction_level(actor.role, actor.jurisdiction, self._regions)
        except InvalidInput as exc:
            raise InvalidTokenClaims(exc.message) from None
        # jwt.decode has checked that these are integers where present.
        bounds = [int(claims[c]) for c in ("iat", "nbf") if c in claims]
        return _Verified(
            actor=actor, not_before=max(bounds, default=-math.inf), expires=int(claims["exp"])
        )


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith(API_PREFIX):
            await super().__call__(scope, receive, send)
        else:  # not the API: health, docs, static files, or a page (its own middleware)
            await self.app(scope, receive, send)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("a bearer token is required")
        verifier: TokenVerifier = connection.app.state.token_verifier
        actor = verifier.verify(token.strip())
        return AuthenticationResult(user=actor, auth=token)


def may_issue(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard of a command route: its `opt["command"]` names the domain command."""
    command: Command = handler.opt["command"]
    actor: Actor = connection.user
    roles = connection.app.state.runtime.ledger.services.programmes.issuable_roles(command)
    if actor.role not in roles:
        raise NotAllowed(
            "role_not_permitted",
            f"role {actor.role} may not {command}; allowed: {', '.join(sorted(roles))}",
            command=str(command),
            role=str(actor.role),
            allowed=sorted(roles),
        )


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    actor: Actor = connection.user
    if actor.role != Role.ADMIN:
        raise NotAllowed(
            "role_not_permitted",
            f"only an administrator may do this; the caller is {actor.role}",
            role=str(actor.role),
            allowed=[str(Role.ADMIN)],
        )
