"""Helpers for the pages' tests: accounts, the sign-in form, a session's stored times."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import psycopg
from litestar.testing import TestClient

from infra.accounts import AccountStore, Passwords
from infra.rules import load_regions

PASSWORD = "correct horse battery staple"  # a test account's password (test data only)
SESSION_COOKIE, CSRF_COOKIE = "cl_session", "cl_csrf"


def new_account(
    url: str,
    *,
    role: str = "city",
    jurisdiction: str = "350200",
    password: str = PASSWORD,
    passwords: Passwords | None = None,
) -> str:
    """A new account with a unique username; returns the username."""
    from domain.actors import Role

    username = f"u-{uuid.uuid4().hex[:12]}"
    AccountStore(url, load_regions(), passwords).add(
        username, role=Role(role), jurisdiction=jurisdiction, organisation="厦门市工业和信息化局",
        password=password,
    )
    return username


def csrf_token(client: TestClient[Any]) -> str:
    """The CSRF token of the client's cookie (a page view sets one when there is none)."""
    if CSRF_COOKIE not in client.cookies:
        client.get("/login")
    return client.cookies[CSRF_COOKIE]


def sign_in(
    client: TestClient[Any], username: str, password: str = PASSWORD, next_path: str = "",
    **headers: str,
) -> httpx.Response:
    form = {
        "username": username, "password": password, "next": next_path,
        "_csrf_token": csrf_token(client),
    }
    return client.post("/login", data=form, headers=headers)


def set_cookie(client: TestClient[Any], name: str, value: str) -> None:
    """Put a cookie in the client's jar as the server would have set it (host-only, path /)."""
    client.cookies.set(name, value, domain="testserver.local", path="/")


def sql(url: str, statement: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def hidden_field(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no hidden field {name}"
    return match.group(1)
