"""An API over the real stack: Litestar's test client, the real app, a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.auth import TokenIssuer
from domain.actors import Actor, Role
from infra.database import ConnectionInfo
from infra.keys import generate_ed25519_pem
from infra.settings import Settings

ISSUER, AUDIENCE = "cluster-ledger", "cluster-ledger-api"


@pytest.fixture(scope="session")
def jwt_keys() -> tuple[str, str]:
    return generate_ed25519_pem()


@pytest.fixture(scope="session")
def api_settings(
    migrated: ConnectionInfo, jwt_keys: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    private, public = jwt_keys
    return Settings(
        database_url=migrated.url,
        data_dir=tmp_path_factory.mktemp("data"),
        jwt_public_key=public,
        jwt_private_key=private,
        log_json=True,
    )


@pytest.fixture(scope="session")
def client(api_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def token_for(jwt_keys: tuple[str, str]) -> Callable[..., str]:
    issuer = TokenIssuer(jwt_keys[0], ISSUER, AUDIENCE)

    def mint(role: str, jurisdiction: str, user_id: str | None = None, ttl: int = 3600) -> str:
        actor = Actor(
            user_id=user_id or f"{role}-{jurisdiction}",
            role=Role(role),
            organisation=f"{role} office",
            jurisdiction=jurisdiction,
        )
        return issuer.mint(actor, ttl_seconds=ttl)

    return mint


@pytest.fixture(scope="session")
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(
        role: str, jurisdiction: str, user_id: str | None = None, **extra: str
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(role, jurisdiction, user_id)}", **extra}

    return headers
