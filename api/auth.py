"""Bearer-token authentication: signed JWTs (EdDSA / Ed25519), expiry enforced.

Deny by default: the middleware authenticates every route except the public ones listed in
`PUBLIC_PATHS`; a missing or bad token is 401 before any handler runs. Guards then refuse, before
the body is even read, a role that may never issue the route's command (`may_issue`, from the
domain's permission table) or a non-administrator on an administrator's route (`admin_only`).
The application service checks again, per programme and jurisdiction, when the command runs.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from domain.actors import Actor, Role
from domain.errors import NotAllowed
from domain.permissions import Command, allowed_roles
from domain.rulebook import Programme

ALGORITHM = "EdDSA"
PUBLIC_PATHS = ("/health", "/ready", "/schema")


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


class TokenVerifier:
    def __init__(self, public_pem: str, issuer: str, audience: str) -> None:
        self._key = public_pem
        self._issuer = issuer
        self._audience = audience

    def verify(self, token: str) -> Actor:
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
            return Actor(
                user_id=str(claims["sub"]),
                role=Role(claims["role"]),
                organisation=str(claims.get("org", "")),
                jurisdiction=str(claims["jur"]),
            )
        except (KeyError, ValueError):
            raise NotAuthorizedException("token lacks a valid role or jurisdiction") from None


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
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


def issuable_roles(command: Command) -> frozenset[Role]:
    """Every role that may issue `command` in some programme."""
    roles: frozenset[Role] = frozenset()
    for programme in Programme:
        roles |= allowed_roles(command, programme)
    return roles


def may_issue(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard of a command route: its `opt["command"]` names the domain command."""
    command: Command = handler.opt["command"]
    actor: Actor = connection.user
    roles = issuable_roles(command)
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
