"""Where the sign-in form may send the browser afterwards (`next`), the cookies' names and
flags, and the settings of the pages' sessions. Pure: no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.web.session import CookieNames, local_path, web_config
from domain.errors import ConfigError
from infra.settings import Settings


@pytest.mark.parametrize(
    "value",
    ["/", "/board", "/board?status=certified&page=2", "/clusters/6a1c/history#t", "/a//b"],
)
def test_a_path_on_this_site_is_kept(value: str) -> None:
    assert local_path(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None, "", "board", "https://evil.example/", "//evil.example", "///evil.example",
        "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
        "javascript:alert(1)", "/login", "/login?next=/x", "/logout", "/" + "a" * 2000,
    ],
)
def test_anything_else_becomes_the_overview(value: str | None) -> None:
    assert local_path(value) == "/"


def test_behind_tls_the_cookies_are_secure_and_host_only() -> None:
    names = CookieNames.of(Settings(cookie_secure=True))
    assert (names.session, names.csrf) == ("__Host-cl_session", "__Host-cl_csrf")
    header = names.session_cookie("abc").to_header(header="")
    assert "Secure" in header
    assert "HttpOnly" in header
    assert "SameSite=lax" in header
    assert "Path=/" in header
    assert "Domain" not in header


def test_without_tls_the_cookies_are_not_marked_secure() -> None:
    names = CookieNames.of(Settings())
    assert (names.session, names.csrf) == ("cl_session", "cl_csrf")
    assert "Secure" not in names.session_cookie("abc").to_header(header="")


def test_the_csrf_cookie_follows_the_tls_setting(tmp_path: Path) -> None:
    secure = web_config(Settings(cookie_secure=True, data_dir=tmp_path)).csrf
    assert (secure.cookie_name, secure.cookie_secure, secure.cookie_httponly) == (
        "__Host-cl_csrf", True, True,
    )
    plain = web_config(Settings(data_dir=tmp_path)).csrf
    assert (plain.cookie_name, plain.cookie_secure) == ("cl_csrf", False)


def test_the_csrf_secret_is_a_setting_or_a_development_key_kept_in_the_data_dir(
    tmp_path: Path,
) -> None:
    configured = "s" * 40
    assert web_config(Settings(csrf_secret=configured, data_dir=tmp_path)).csrf.secret == configured
    first = web_config(Settings(data_dir=tmp_path)).csrf.secret
    assert first == web_config(Settings(data_dir=tmp_path)).csrf.secret  # kept, not redrawn
    key_file = tmp_path / "keys" / "csrf.secret"
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_session_and_sign_in_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env({
        "CLUSTER_LEDGER_SESSION_IDLE_SECONDS": "600",
        "CLUSTER_LEDGER_SESSION_ABSOLUTE_SECONDS": "3600",
        "CLUSTER_LEDGER_COOKIE_SECURE": "1",
        "CLUSTER_LEDGER_CSRF_SECRET": "c" * 32,
        "CLUSTER_LEDGER_LOGIN_MAX_FAILURES": "4",
        "CLUSTER_LEDGER_LOGIN_MAX_FAILURES_PER_ADDRESS": "50",
        "CLUSTER_LEDGER_LOGIN_WINDOW_SECONDS": "300",
        "CLUSTER_LEDGER_LOGIN_LOCK_SECONDS": "1200",
    })
    assert (
        settings.session_idle_seconds, settings.session_absolute_seconds, settings.cookie_secure,
        settings.csrf_secret, settings.login_max_failures,
        settings.login_max_failures_per_address, settings.login_window_seconds,
        settings.login_lock_seconds,
    ) == (600, 3600, True, "c" * 32, 4, 50, 300, 1200)


def test_the_defaults_are_30_minutes_idle_12_hours_absolute_5_failures_in_15_minutes() -> None:
    settings = Settings.from_env({})
    assert (
        settings.session_idle_seconds, settings.session_absolute_seconds, settings.cookie_secure,
        settings.login_max_failures, settings.login_window_seconds, settings.login_lock_seconds,
    ) == (1800, 43200, False, 5, 900, 900)


@pytest.mark.parametrize(
    "variable", ["CLUSTER_LEDGER_SESSION_IDLE_SECONDS", "CLUSTER_LEDGER_LOGIN_MAX_FAILURES"]
)
def test_a_session_setting_of_zero_is_refused(variable: str) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({variable: "0"})


def test_a_short_csrf_secret_is_refused() -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"CLUSTER_LEDGER_CSRF_SECRET": "too short"})
