"""Signing in to the pages: the form, sessions and their expiry, CSRF, `next`, and the line
between pages (a session cookie) and the JSON API (bearer tokens only)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient
from structlog.testing import capture_logs

from infra.accounts import AccountStore
from infra.database import ConnectionInfo
from infra.rules import load_regions
from tests.api.web_support import (
    CSRF_COOKIE,
    PASSWORD,
    SESSION_COOKIE,
    csrf_token,
    hidden_field,
    new_account,
    set_cookie,
    sign_in,
    sql,
)


def signed_in(pages: TestClient[Any], username: str) -> str:
    assert sign_in(pages, username).status_code == 303
    return username


def test_an_anonymous_page_request_is_sent_to_the_sign_in_form_with_the_page_as_next(
    pages: TestClient[Any],
) -> None:
    response = pages.get("/account?tab=2")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/account?tab=2"]}


def test_the_sign_in_form_has_its_fields_a_csrf_token_and_keeps_next(
    pages: TestClient[Any],
) -> None:
    response = pages.get("/login", params={"next": "/board?status=certified"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert 'name="username"' in html
    assert 'name="password" type="password"' in html
    assert hidden_field(html, "_csrf_token") == pages.cookies[CSRF_COOKIE]
    assert hidden_field(html, "next") == "/board?status=certified"
    assert "用户名" in html
    assert response.headers["cache-control"] == "no-store"
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie


def test_the_sign_in_form_is_in_english_when_the_browser_asks_for_it(
    pages: TestClient[Any],
) -> None:
    html = pages.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}).text
    assert '<html lang="en">' in html
    assert "Username" in html


def test_signing_in_sets_an_httponly_lax_session_cookie_and_goes_to_next(
    pages: TestClient[Any], member: str
) -> None:
    response = sign_in(pages, member, next_path="/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    session_cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")
    )
    assert "HttpOnly" in session_cookie
    assert "SameSite=lax" in session_cookie
    assert "Secure" not in session_cookie  # CLUSTER_LEDGER_COOKIE_SECURE is off here
    assert "Max-Age" not in session_cookie  # closing the browser forgets it
    page = pages.get("/account")
    assert page.status_code == 200
    assert member in page.text
    assert "350200" in page.text


def test_without_next_signing_in_goes_to_the_overview(
    pages: TestClient[Any], member: str
) -> None:
    response = sign_in(pages, member)
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    "next_path", ["https://evil.example/", "//evil.example/board", "/\\evil.example"]
)
def test_a_next_that_is_not_a_path_on_this_site_is_ignored(
    pages: TestClient[Any], member: str, next_path: str
) -> None:
    assert hidden_field(pages.get("/login", params={"next": next_path}).text, "next") == "/"
    response = sign_in(pages, member, next_path=next_path)
    assert response.headers["location"] == "/"


def test_only_the_sha256_of_the_session_id_is_stored_with_issuer_subject_and_claims(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    signed_in(pages, member)
    session_id = pages.cookies[SESSION_COOKIE]
    assert len(session_id) >= 43  # secrets.token_urlsafe(32)
    rows = sql(
        migrated.url,
        "SELECT id_hash, issuer, claims FROM web_sessions WHERE subject = %s", member,
    )
    assert len(rows) == 1
    id_hash, issuer, claims = rows[0]
    assert bytes(id_hash) == hashlib.sha256(session_id.encode()).digest()
    assert issuer == "local"
    assert claims == {
        "user_id": member, "role": "city", "organisation": "厦门市工业和信息化局",
        "jurisdiction": "350200",
    }
    stored = json.dumps(sql(migrated.url, "SELECT * FROM web_sessions"), default=str)
    assert session_id not in stored


def test_signing_in_draws_a_new_session_id_whatever_cookie_came_with_it(
    pages: TestClient[Any], member: str
) -> None:
    planted = "x" * 43
    set_cookie(pages, SESSION_COOKIE, planted)
    sign_in(pages, member)
    assert pages.cookies[SESSION_COOKIE] != planted


def test_signing_in_again_ends_the_previous_session(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    signed_in(pages, member)
    sign_in(pages, member)
    assert sql(migrated.url, "SELECT count(*) FROM web_sessions WHERE subject = %s", member) == [
        (1,)
    ]


def test_signing_in_replaces_the_csrf_token(
    pages: TestClient[Any], member: str
) -> None:
    before = csrf_token(pages)
    response = sign_in(pages, member)
    assert f'{CSRF_COOKIE}=""' in response.headers["set-cookie"] or any(
        c.startswith(f"{CSRF_COOKIE}=") and "Max-Age=0" in c
        for c in response.headers.get_list("set-cookie")
    )
    assert csrf_token(pages) != before


def test_a_post_without_the_csrf_token_is_refused_403(
    pages: TestClient[Any], member: str
) -> None:
    csrf_token(pages)  # the cookie is there; the form field is not
    response = pages.post("/login", data={"username": member, "password": PASSWORD})
    assert response.status_code == 403
    assert SESSION_COOKIE not in pages.cookies
    signed_in(pages, member)
    assert pages.post("/logout").status_code == 403
    assert pages.get("/account").status_code == 200  # still signed in


def test_a_csrf_token_from_another_browser_is_refused(
    pages: TestClient[Any], member: str
) -> None:
    mine = csrf_token(pages)
    pages.cookies.clear()
    csrf_token(pages)  # another cookie, another token
    form = {"username": member, "password": PASSWORD, "_csrf_token": mine}
    assert pages.post("/login", data=form).status_code == 403


def test_signing_out_ends_the_session_and_goes_to_the_sign_in_form(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    signed_in(pages, member)
    session_id = pages.cookies[SESSION_COOKIE]
    response = pages.post("/logout", data={"_csrf_token": csrf_token(pages)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert SESSION_COOKIE not in pages.cookies
    assert sql(migrated.url, "SELECT count(*) FROM web_sessions WHERE subject = %s", member) == [
        (0,)
    ]
    set_cookie(pages, SESSION_COOKIE, session_id)  # the old cookie, replayed
    assert pages.get("/account").status_code == 303


def test_an_idle_session_ends(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    signed_in(pages, member)
    sql(
        migrated.url,
        "UPDATE web_sessions SET last_seen_at = now() - interval '30 minutes 1 second'"
        " WHERE subject = %s", member,
    )
    response = pages.get("/account")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert SESSION_COOKIE not in pages.cookies  # the stale cookie is cleared


def test_a_session_used_within_the_idle_time_lives_on_and_its_use_is_recorded(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    signed_in(pages, member)
    sql(
        migrated.url,
        "UPDATE web_sessions SET last_seen_at = now() - interval '29 minutes' WHERE subject = %s",
        member,
    )
    assert pages.get("/account").status_code == 200
    [(idle,)] = sql(
        migrated.url,
        "SELECT now() - last_seen_at < interval '1 minute' FROM web_sessions WHERE subject = %s",
        member,
    )
    assert idle


def test_a_session_ends_at_its_absolute_time_however_busy(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    signed_in(pages, member)
    sql(
        migrated.url,
        "UPDATE web_sessions SET created_at = now() - interval '12 hours 1 second',"
        " last_seen_at = now() WHERE subject = %s", member,
    )
    assert pages.get("/account").status_code == 303


def test_a_session_just_inside_its_absolute_time_still_works(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    signed_in(pages, member)
    sql(
        migrated.url,
        "UPDATE web_sessions SET created_at = now() - interval '11 hours 59 minutes'"
        " WHERE subject = %s", member,
    )
    assert pages.get("/account").status_code == 200


def test_disabling_an_account_ends_its_sessions_at_once(
    pages: TestClient[Any], migrated: ConnectionInfo
) -> None:
    username = signed_in(pages, new_account(migrated.url))
    assert pages.get("/account").status_code == 200
    assert AccountStore(migrated.url, load_regions()).disable(username) == 1
    assert pages.get("/account").status_code == 303


def test_a_session_of_a_disabled_account_is_refused_even_if_its_row_remains(
    pages: TestClient[Any], migrated: ConnectionInfo
) -> None:
    username = signed_in(pages, new_account(migrated.url))
    sql(migrated.url, "UPDATE accounts SET disabled = true WHERE username = %s", username)
    assert pages.get("/account").status_code == 303


def test_the_api_does_not_accept_the_session_cookie(
    pages: TestClient[Any], member: str
) -> None:
    signed_in(pages, member)
    response = pages.get("/api/clusters")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_page_does_not_accept_a_bearer_token(
    pages: TestClient[Any], auth: Callable[..., dict[str, str]]
) -> None:
    response = pages.get("/account", headers=auth("city", "350200"))
    assert response.status_code == 303


def test_the_api_still_takes_bearer_tokens(
    pages: TestClient[Any], auth: Callable[..., dict[str, str]]
) -> None:
    assert pages.get("/api/clusters", headers=auth("city", "350200")).status_code == 200


def test_an_htmx_request_without_a_session_is_told_to_load_the_sign_in_form(
    pages: TestClient[Any],
) -> None:
    response = pages.get("/account", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/login?next=%2Faccount"


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(
    pages: TestClient[Any], member: str
) -> None:
    unknown = "u-" + "0" * 12
    wrong = sign_in(pages, member, "not the right password at all")
    nobody = sign_in(pages, unknown, "not the right password at all")
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.text.replace(member, "NAME") == nobody.text.replace(unknown, "NAME")
    assert "用户名或密码不正确" in wrong.text
    assert "set-cookie" not in wrong.headers
    assert "set-cookie" not in nobody.headers
    assert SESSION_COOKIE not in pages.cookies


def test_a_disabled_account_with_the_right_password_is_answered_like_a_wrong_password(
    pages: TestClient[Any], migrated: ConnectionInfo
) -> None:
    username = new_account(migrated.url)
    AccountStore(migrated.url, load_regions()).disable(username)
    disabled = sign_in(pages, username)
    wrong = sign_in(pages, username, "not the right password at all")
    assert disabled.status_code == wrong.status_code == 401
    assert disabled.text == wrong.text


def test_the_username_is_not_case_sensitive_at_sign_in(
    pages: TestClient[Any], member: str
) -> None:
    assert sign_in(pages, f"  {member.upper()} ").status_code == 303
    assert member in pages.get("/account").text


def test_a_full_width_password_typed_by_an_input_method_matches(
    pages: TestClient[Any], member: str
) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) if c != " " else "\u3000" for c in PASSWORD)
    assert sign_in(pages, member, full_width).status_code == 303


def test_health_readiness_and_the_api_docs_need_no_session(pages: TestClient[Any]) -> None:
    for path in ("/health", "/ready", "/schema/openapi.json"):
        assert pages.get(path).status_code == 200, path


def test_pages_are_not_in_the_api_document(pages: TestClient[Any]) -> None:
    paths = pages.get("/schema/openapi.json").json()["paths"]
    assert not {"/login", "/logout", "/account"} & set(paths)


def test_sign_ins_are_logged_with_the_username_and_address_but_never_the_password(
    pages: TestClient[Any], member: str
) -> None:
    with capture_logs() as logs:
        sign_in(pages, member, "not the right password at all")
        sign_in(pages, "correct horse battery staple")  # a password typed as the username
        sign_in(pages, member)
    events = [e for e in logs if e["event"] in {"sign_in_refused", "signed_in"}]
    assert [(e["event"], e["username"], e["address"]) for e in events] == [
        ("sign_in_refused", member, "testclient"),
        ("sign_in_refused", "(not a username)", "testclient"),
        ("signed_in", member, "testclient"),
    ]
    assert "not the right password" not in str(logs)
    assert PASSWORD not in str(logs)


def test_a_locked_sign_in_is_logged(pages: TestClient[Any], member: str) -> None:
    for _ in range(3):
        sign_in(pages, member, "not the right password at all")
    with capture_logs() as logs:
        sign_in(pages, member)
    (locked,) = [e for e in logs if e["event"] == "sign_in_locked"]
    assert (locked["username"], locked["log_level"]) == (member, "warning")
    assert locked["retry_after"] > 0


def test_a_page_address_with_chinese_in_its_query_survives_the_sign_in(
    pages: TestClient[Any], member: str
) -> None:
    first = pages.get("/account?q=%E6%99%8B%E6%B1%9F")  # ?q=晋江, as a browser sends it
    next_path = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    assert next_path == "/account?q=%E6%99%8B%E6%B1%9F"
    response = sign_in(pages, member, next_path=next_path)
    assert response.headers["location"] == "/account?q=%E6%99%8B%E6%B1%9F"
    assert sign_in(pages, member, next_path="/account?q=晋江").headers["location"] == (
        "/account?q=%E6%99%8B%E6%B1%9F"
    )


def test_what_was_typed_is_shown_back_escaped(pages: TestClient[Any]) -> None:
    typed = '"><script>alert(1)</script>'
    response = sign_in(pages, typed, next_path='/account?x="><b>')
    assert response.status_code == 401
    assert "<script>alert(1)" not in response.text
    assert "&#34;&gt;&lt;script&gt;" in response.text
    assert '"><b>' not in response.text
