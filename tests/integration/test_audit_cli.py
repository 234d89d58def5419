"""The auditor's commands end to end: `checkpoint`, `export FILE`, `verify FILE --public-key`,
and the background checkpointer of the API process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import psycopg
import pytest

from infra.audit.checkpointer import SIGNER_KEY, start
from infra.audit.checkpoints import list_checkpoints
from infra.cli import main
from infra.database import ConnectionInfo
from infra.settings import Settings
from tests.factories import certified_fj, certified_xm, fj_dossier, fund_year_one
from tests.integration.audit_support import AuditDatabase, fresh_database


@pytest.fixture(scope="module")
def cli_db(pg: ConnectionInfo) -> Iterator[AuditDatabase]:
    for db in fresh_database(pg):
        certified_fj(db.ledger)
        xm = certified_xm(db.ledger)
        fund_year_one(db.ledger, xm, 3)
        yield db


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One publisher key (under data_dir/keys) for every command of this module."""
    return tmp_path_factory.mktemp("ledger-data")


@pytest.fixture
def cli_env(cli_db: AuditDatabase, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", cli_db.conn.url)
    monkeypatch.setenv("CLUSTER_LEDGER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLUSTER_LEDGER_CHECKPOINT_EVERY", "5")
    return data_dir


def _public_key(directory: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["checkpoint", "--public-key"]) == 0
    path = directory / "checkpoint.pub.pem"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    return path


def test_export_then_verify_with_the_public_key_succeeds(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["checkpoint", "--head"]) == 0
    key = _public_key(cli_env, capsys)
    export = cli_env / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    assert main(["verify", str(export), "--public-key", str(key)]) == 0
    out = capsys.readouterr().out
    assert "RESULT: OK" in out
    assert "(argument)" in out
    assert "Clusters by status" in out


def test_verify_of_an_altered_file_exits_non_zero_naming_the_position(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _public_key(cli_env, capsys)
    export = cli_env / "log.ndjson"
    assert main(["export", str(export)]) == 0
    lines = export.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if b'"type":"SubsidyPaid"' in line)
    position = msgspec.json.decode(lines[index])["position"]
    lines[index] = lines[index].replace(b'"amount_fen":100000000', b'"amount_fen":100000001')
    export.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert main(["verify", str(export), "--public-key", str(key)]) == 1
    out = capsys.readouterr().out
    assert f"first bad position: {position}" in out
    assert "[chain_mismatch]" in out


def test_verify_json_report_is_machine_readable(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = cli_env / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    assert main(["verify", str(export), "--json", "--on", "2025-06-30"]) == 0
    report = msgspec.json.decode(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["summary"]["on"] == "2025-06-30"
    assert report["key_source"] == "export file (not pinned)"


def test_export_of_a_range(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = cli_env / "part.ndjson"
    assert main(["export", str(export), "--from", "3", "--to", "6"]) == 0
    lines = [msgspec.json.decode(line) for line in export.read_bytes().splitlines()]
    assert [line["position"] for line in lines if line["kind"] == "event"] == [3, 4, 5, 6]
    assert lines[0]["anchor"]["position"] == 2
    capsys.readouterr()
    assert main(["verify", str(export)]) == 0


def test_verify_accepts_the_keys_of_before_and_after_a_rotation(
    cli_env: Path, cli_db: AuditDatabase, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    assert main(["checkpoint", "--head"]) == 0
    old_key = _public_key(cli_env, capsys)
    monkeypatch.setenv("CLUSTER_LEDGER_DATA_DIR", str(tmp_path))  # a new key from now on
    certified_fj(cli_db.ledger, fj_dossier("晋江市（换钥）产业集群"))
    assert main(["checkpoint", "--head"]) == 0
    new_key = _public_key(tmp_path, capsys)
    export = tmp_path / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    assert main(["verify", str(export), "--public-key", str(new_key)]) == 1
    assert "[unknown_checkpoint_key]" in capsys.readouterr().out
    assert main(
        ["verify", str(export), "--public-key", str(old_key), "--public-key", str(new_key)]
    ) == 0


def test_checkpoint_signs_every_fifth_entry(
    cli_env: Path, cli_db: AuditDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["checkpoint"]) == 0
    with psycopg.connect(cli_db.conn.url) as conn:
        positions = [c.position for c in list_checkpoints(conn.cursor())]
    assert {5, 10} <= set(positions)


# ---- the API process's background checkpointer ---------------------------------------------------


class _Runtime:
    """What the checkpointer uses of the API runtime: settings, ledger, extras and `call`."""

    def __init__(self, settings: Settings, ledger: Any) -> None:
        self.settings = settings
        self.ledger = ledger
        self.extras: dict[str, Any] = {}

    async def call(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args))


def test_background_checkpointer_signs_due_checkpoints(
    cli_db: AuditDatabase, tmp_path: Path
) -> None:
    certified_fj(cli_db.ledger, fj_dossier("晋江市（检查点）产业集群"))  # 4 more events
    settings = Settings(database_url=cli_db.conn.url, data_dir=tmp_path, checkpoint_every=2)
    runtime = _Runtime(settings, cli_db.ledger)

    async def run() -> None:
        async with contextlib.AsyncExitStack() as hooks:
            await start(runtime, hooks, interval=0.01)
            for _ in range(500):
                await anyio.sleep(0.01)
                if _count(cli_db, runtime.extras[SIGNER_KEY].fingerprint) >= 2:
                    break

    anyio.run(run)
    assert _count(cli_db, runtime.extras[SIGNER_KEY].fingerprint) >= 2


def _count(db: AuditDatabase, fingerprint: str) -> int:
    with psycopg.connect(db.conn.url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_checkpoints WHERE key_fingerprint = %s", (fingerprint,)
        ).fetchone()
    return int(row[0]) if row else 0
