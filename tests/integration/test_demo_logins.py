"""`cluster-ledger demo` makes a sign-in for each demo user (only with the demo data, into an
empty store), and `serve` prints where the pages are and those sign-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.cli import main
from api.cli.core import DEMO_USERS, pages_banner
from infra.accounts import Passwords
from infra.database import ConnectionInfo
from infra.demo import read_demo_logins
from infra.settings import Settings
from tests.api.web_support import sql


@pytest.fixture
def empty_store(
    pg: ConnectionInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ConnectionInfo]:
    name = "cluster_ledger_demo_logins_test"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    info = pg.with_dbname(name)
    monkeypatch.setenv("DATABASE_URL", info.url)
    monkeypatch.setenv("CLUSTER_LEDGER_DATA_DIR", str(tmp_path))
    try:
        yield info
    finally:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_demo_makes_a_random_password_for_each_demo_user_in_a_file_serve_prints(
    empty_store: ConnectionInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    path = tmp_path / "demo-logins.txt"
    assert f"passwords in {path}" in capsys.readouterr().out
    assert path.stat().st_mode & 0o777 == 0o600
    logins = read_demo_logins(path)
    assert [(x.username, x.role, x.jurisdiction, x.organisation) for x in logins] == [
        (user, str(role), jurisdiction, org) for user, role, jurisdiction, org in DEMO_USERS
    ]
    assert len({x.password for x in logins}) == len(logins)
    assert all(len(x.password) >= 15 for x in logins)
    hashes = dict(sql(empty_store.url, "SELECT username, password_hash FROM accounts"))
    for login in logins:
        assert Passwords().verify(hashes[login.username], login.password)
    lines = pages_banner(Settings(data_dir=tmp_path), "http://127.0.0.1:8000")
    assert "pages on http://127.0.0.1:8000/" in lines[0]
    assert "http://127.0.0.1:8000/login" in lines[1]
    for login in logins:
        assert any(login.username in line and login.password in line for line in lines)


def test_the_demo_leaves_accounts_and_their_file_alone_when_the_store_is_not_empty(
    empty_store: ConnectionInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    path = tmp_path / "demo-logins.txt"
    before = path.read_text()
    hashes = sql(empty_store.url, "SELECT username, password_hash FROM accounts ORDER BY 1")
    capsys.readouterr()
    assert main(["demo"]) == 0
    assert capsys.readouterr().out == "demo data: store not empty, skipped\n"
    assert path.read_text() == before
    assert sql(empty_store.url, "SELECT username, password_hash FROM accounts ORDER BY 1") == (
        hashes
    )


def test_without_demo_sign_ins_serve_says_how_to_create_a_user(tmp_path: Path) -> None:
    text = "\n".join(pages_banner(Settings(data_dir=tmp_path), "http://127.0.0.1:8000"))
    assert "pages on http://127.0.0.1:8000/" in text
    assert "cluster-ledger user add NAME" in text
