"""Bearer-token authentication: signed JWTs (EdDSA / Ed25519), expiry enforced.

Deny by default: the middleware authenticates every route except the public ones listed in
`PUBLIC_PATHS`; a missing or bad token is 401 before any handler runs.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from domain.actors import Actor, Role

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
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("a bearer token is required")
        verifier: TokenVerifier = connection.app.state.token_verifier
        actor = verifier.verify(token.strip())
        return AuthenticationResult(user=actor, auth=token)
