"""An API over the real stack: Litestar's test client, the real app, a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import psycopg
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


# ---- pages: a client of its own (cookies), small failed sign-in limits ----------------------


@pytest.fixture(scope="session")
def web_settings(api_settings: Settings) -> Settings:
    return msgspec.structs.replace(
        api_settings, login_max_failures=3, login_max_failures_per_address=6
    )


@pytest.fixture(scope="session")
def web_app_client(web_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(web_settings), raise_server_exceptions=False) as test_client:
        test_client.follow_redirects = False  # the tests look at each redirect
        yield test_client


@pytest.fixture
def pages(web_app_client: TestClient[Any], migrated: ConnectionInfo) -> TestClient[Any]:
    """The pages' client with no cookies, and no failed sign-ins counted from other tests."""
    web_app_client.cookies.clear()
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        conn.execute("DELETE FROM login_throttle")
    return web_app_client


@pytest.fixture(scope="session")
def _member_name(migrated: ConnectionInfo) -> str:
    from tests.api.web_support import new_account

    return new_account(migrated.url)


@pytest.fixture
def member(_member_name: str, migrated: ConnectionInfo) -> str:
    """An account shared by the tests that do not change it (each argon2 hash costs a fifth of
    a second): enabled, and with no session left from another test."""
    with psycopg.connect(migrated.url, autocommit=True) as conn:
        conn.execute("DELETE FROM web_sessions WHERE subject = %s", (_member_name,))
    return _member_name
