"""Failed sign-ins are throttled per username and per client address, in PostgreSQL.

The app here allows 3 failures per username and 6 per address (`web_settings`), within
15 minutes, then refuses attempts for 15 minutes.
"""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from infra.database import ConnectionInfo
from tests.api.web_support import SESSION_COOKIE, sign_in, sql

WRONG = "not the right password at all"


def fail(pages: TestClient[Any], username: str, times: int) -> None:
    for _ in range(times):
        assert sign_in(pages, username, WRONG).status_code == 401


def test_failures_up_to_the_limit_lock_further_attempts_even_with_the_right_password(
    pages: TestClient[Any], member: str
) -> None:
    fail(pages, member, 3)
    response = sign_in(pages, member)
    assert response.status_code == 429
    assert 890 <= int(response.headers["retry-after"]) <= 900
    assert "登录失败次数过多，请 15 分钟后再试" in response.text
    assert SESSION_COOKIE not in pages.cookies


def test_one_failure_fewer_than_the_limit_still_lets_the_right_password_in(
    pages: TestClient[Any], member: str
) -> None:
    fail(pages, member, 2)
    assert sign_in(pages, member).status_code == 303


def test_the_lock_is_in_the_database_for_every_process(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    fail(pages, member, 3)
    [(failures, locked)] = sql(
        migrated.url,
        "SELECT failures, locked_until > now() FROM login_throttle WHERE key = %s",
        f"user:{member}",
    )
    assert (failures, locked) == (3, True)


def test_the_lock_ends_after_its_time(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    fail(pages, member, 3)
    sql(
        migrated.url,
        "UPDATE login_throttle SET locked_until = now() - interval '1 second',"
        " window_started_at = now() - interval '16 minutes'",
    )
    assert sign_in(pages, member).status_code == 303


def test_a_success_clears_the_usernames_count(
    pages: TestClient[Any], member: str
) -> None:
    fail(pages, member, 2)
    assert sign_in(pages, member).status_code == 303
    fail(pages, member, 2)  # would be the 4th failure without the success in between
    assert sign_in(pages, member).status_code == 303


def test_failures_from_an_ended_window_do_not_count(
    pages: TestClient[Any], member: str, migrated: ConnectionInfo
) -> None:
    fail(pages, member, 2)
    sql(
        migrated.url,
        "UPDATE login_throttle SET window_started_at = now() - interval '15 minutes 1 second'",
    )
    fail(pages, member, 2)
    assert sign_in(pages, member).status_code == 303


def test_an_unknown_username_is_locked_like_a_known_one(pages: TestClient[Any]) -> None:
    unknown = "u-" + "1" * 12
    fail(pages, unknown, 3)
    assert sign_in(pages, unknown, WRONG).status_code == 429


def test_failures_across_usernames_from_one_address_lock_the_address(
    pages: TestClient[Any], member: str
) -> None:
    for n in range(6):  # one guess at each of six names: no username reaches its limit
        fail(pages, f"u-spray{n}", 1)
    response = sign_in(pages, member)
    assert response.status_code == 429
    assert "retry-after" in response.headers


def test_a_success_does_not_clear_the_address_count(
    pages: TestClient[Any], member: str
) -> None:
    for n in range(5):
        fail(pages, f"u-spray{n}", 1)
    assert sign_in(pages, member).status_code == 303
    fail(pages, "u-spray5", 1)  # the address's 6th failure
    assert sign_in(pages, member).status_code == 429


def test_the_locked_form_is_in_english_when_asked(
    pages: TestClient[Any], member: str
) -> None:
    fail(pages, member, 3)
    response = sign_in(pages, member, **{"Accept-Language": "en"})
    assert response.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minute(s)." in response.text
