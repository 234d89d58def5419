"""`cluster-ledger user add | passwd | disable | list` against the session database."""

from __future__ import annotations

import io
import uuid

import pytest

from api.cli import main
from infra.accounts import Passwords
from infra.database import ConnectionInfo
from tests.api.web_support import sql

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli_env(migrated: ConnectionInfo, monkeypatch: pytest.MonkeyPatch) -> ConnectionInfo:
    monkeypatch.setenv("DATABASE_URL", migrated.url)
    return migrated


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return monkeypatch


def typed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def name() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"


def add(username: str, *extra: str, role: str = "county", jurisdiction: str = "350582") -> int:
    return main([
        "user", "add", username, "--role", role, "--jurisdiction", jurisdiction,
        "--password-stdin", *extra,
    ])


def test_user_add_stores_an_argon2id_hash_role_jurisdiction_and_organisation(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    username = name()
    typed(stdin, PASSWORD + "\n")
    assert add(username, "--organisation", "晋江市工业和信息化局") == 0
    assert capsys.readouterr().out == f"user {username} added: county, jurisdiction 350582\n"
    [(role, jurisdiction, organisation, password_hash, disabled)] = sql(
        cli_env.url,
        "SELECT role, jurisdiction, organisation, password_hash, disabled FROM accounts"
        " WHERE username = %s", username,
    )
    assert (role, jurisdiction, organisation, disabled) == (
        "county", "350582", "晋江市工业和信息化局", False,
    )
    assert password_hash.startswith("$argon2id$")
    assert Passwords().verify(password_hash, PASSWORD)  # the line ending is not part of it


def test_user_list_shows_every_account_without_any_hash(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    username = name()
    typed(stdin, PASSWORD + "\n")
    add(username, "--organisation", "晋江市工业和信息化局")
    capsys.readouterr()
    assert main(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "user", "role", "jurisdiction", "status", "created", "(UTC)", "organisation",
    ]
    line = next(line for line in out.splitlines() if line.startswith(username))
    assert line.split()[1:4] == ["county", "350582", "active"]
    assert line.endswith("晋江市工业和信息化局")
    assert "$argon2" not in out


@pytest.mark.parametrize(
    ("arguments", "password", "code"),
    [
        (["--role", "mayor", "--jurisdiction", "350582"], PASSWORD, "unknown_role"),
        (["--role", "county", "--jurisdiction", "350500"], PASSWORD, "jurisdiction_level_mismatch"),
        (["--role", "province", "--jurisdiction", "350582"], PASSWORD,
         "jurisdiction_level_mismatch"),
        (["--role", "county", "--jurisdiction", "999999"], PASSWORD, "unknown_jurisdiction"),
        (["--role", "county", "--jurisdiction", "350582"], "fourteen chars", "password_too_short"),
        (["--role", "county", "--jurisdiction", "350582"], "", "password_too_short"),
    ],
)
def test_user_add_refuses_with_one_line_and_exit_status_2(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    arguments: list[str], password: str, code: str,
) -> None:
    username = name()
    typed(stdin, password + "\n")
    assert main(["user", "add", username, *arguments, "--password-stdin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cluster-ledger: [{code}] ")
    assert err.count("\n") == 1
    assert sql(cli_env.url, "SELECT 1 FROM accounts WHERE username = %s", username) == []


def test_user_add_refuses_a_name_that_exists(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    username = name()
    typed(stdin, PASSWORD + "\n")
    assert add(username) == 0
    typed(stdin, "another long password\n")
    assert add(username, role="city", jurisdiction="350500") == 2
    assert capsys.readouterr().err.startswith("cluster-ledger: [user_exists] ")
    assert sql(cli_env.url, "SELECT role FROM accounts WHERE username = %s", username) == [
        ("county",)
    ]


def test_user_add_refuses_a_username_with_capitals(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed(stdin, PASSWORD + "\n")
    assert add("Alice") == 2
    assert capsys.readouterr().err.startswith("cluster-ledger: [invalid_username] ")


def test_user_passwd_replaces_the_password_and_ends_the_sessions(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    username = name()
    typed(stdin, PASSWORD + "\n")
    add(username)
    sql(
        cli_env.url,
        "INSERT INTO web_sessions (id_hash, issuer, subject, claims)"
        " VALUES (sha256('s1'), 'local', %s, '{}')", username,
    )
    capsys.readouterr()
    typed(stdin, "a new passphrase for spring\r\n")
    assert main(["user", "passwd", username, "--password-stdin"]) == 0
    assert capsys.readouterr().out == f"password of {username} changed; 1 session(s) ended\n"
    [(password_hash,)] = sql(
        cli_env.url, "SELECT password_hash FROM accounts WHERE username = %s", username
    )
    assert Passwords().verify(password_hash, "a new passphrase for spring")
    assert not Passwords().verify(password_hash, PASSWORD)


def test_user_passwd_refuses_a_weak_password_and_keeps_the_old_one(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    username = name()
    typed(stdin, PASSWORD + "\n")
    add(username)
    typed(stdin, f"{username}-and-more\n")
    assert main(["user", "passwd", username, "--password-stdin"]) == 2
    assert capsys.readouterr().err.startswith("cluster-ledger: [password_contains_username] ")
    [(password_hash,)] = sql(
        cli_env.url, "SELECT password_hash FROM accounts WHERE username = %s", username
    )
    assert Passwords().verify(password_hash, PASSWORD)


def test_user_disable_sets_the_flag_and_ends_the_sessions_at_once(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    username = name()
    typed(stdin, PASSWORD + "\n")
    add(username)
    for n in range(2):
        sql(
            cli_env.url,
            "INSERT INTO web_sessions (id_hash, issuer, subject, claims)"
            " VALUES (sha256(%s::bytea), 'local', %s, '{}')", f"d{n}{username}".encode(), username,
        )
    capsys.readouterr()
    assert main(["user", "disable", username]) == 0
    assert capsys.readouterr().out == f"user {username} disabled; 2 session(s) ended\n"
    assert sql(cli_env.url, "SELECT disabled FROM accounts WHERE username = %s", username) == [
        (True,)
    ]
    assert sql(cli_env.url, "SELECT 1 FROM web_sessions WHERE subject = %s", username) == []
    assert main(["user", "list"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(username))
    assert line.split()[3] == "disabled"


@pytest.mark.parametrize("action", [["passwd", "--password-stdin"], ["disable"]])
def test_changing_an_unknown_user_is_refused(
    cli_env: ConnectionInfo, stdin: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    action: list[str],
) -> None:
    typed(stdin, PASSWORD + "\n")
    assert main(["user", action[0], "c-nobody", *action[1:]]) == 2
    assert capsys.readouterr().err.startswith("cluster-ledger: [user_not_found] ")
