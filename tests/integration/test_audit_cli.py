"""The auditor's commands end to end: `checkpoint`, `export FILE`, `verify FILE --public-key`,
and the background checkpointer of the API process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import psycopg
import pytest

from api.cli import main
from infra.audit.checkpointer import SIGNER_KEY, start
from infra.audit.checkpoints import list_checkpoints
from infra.database import ConnectionInfo
from infra.keys import generate_ed25519_pem
from infra.settings import Settings
from tests.factories import certified_fj, certified_xm, fj_dossier, fund_year_one
from tests.integration.audit_support import AuditDatabase, fresh_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _public_key(cli_env, capsys)
    export = tmp_path / "log.ndjson"
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
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    assert main(
        ["verify", str(export), "--json", "--on", "2025-06-30", "--trust-embedded-key"]
    ) == 0
    report = msgspec.json.decode(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["result"] == "ok"
    assert report["summary"]["on"] == "2025-06-30"
    assert report["key_source"] == "export file (--trust-embedded-key; not pinned)"


def test_verify_without_a_public_key_is_unpinned_and_exits_3(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    assert main(["verify", str(export)]) == 3
    out = capsys.readouterr().out
    assert "RESULT: OK" not in out
    assert _result_line(out).startswith(
        "RESULT: UNPINNED — no problem found, but the signatures were not checked against a "
        "pinned key"
    )
    assert main(["verify", str(export), "--json"]) == 3
    report = msgspec.json.decode(capsys.readouterr().out)
    assert (report["ok"], report["result"]) == (False, "unpinned")
    assert report["key_source"] == "export file (not pinned)"


def test_verify_trusting_the_embedded_key_says_so_in_the_result(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    assert main(["verify", str(export), "--trust-embedded-key"]) == 0
    assert _result_line(capsys.readouterr().out) == (
        "RESULT: OK (signatures checked against the key embedded in the file, "
        "--trust-embedded-key; not pinned)"
    )


def test_verify_refuses_a_public_key_together_with_trusting_the_embedded_one(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _public_key(cli_env, capsys)
    with pytest.raises(SystemExit) as exited:
        main(["verify", "log.ndjson", "--public-key", str(key), "--trust-embedded-key"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def _first_checkpoint(db: AuditDatabase) -> int:
    with psycopg.connect(db.conn.url) as conn:
        return min(c.position for c in list_checkpoints(conn.cursor()))


def test_export_of_a_range(
    cli_env: Path, cli_db: AuditDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _public_key(cli_env, capsys)
    export = cli_env / "part.ndjson"
    signed = _first_checkpoint(cli_db)
    first, last = signed - 1, signed + 1
    assert main(["export", str(export), "--from", str(first), "--to", str(last)]) == 0
    lines = [msgspec.json.decode(line) for line in export.read_bytes().splitlines()]
    assert [line["position"] for line in lines if line["kind"] == "event"] == [
        first, signed, last
    ]
    assert lines[0]["anchor"]["position"] == first - 1
    capsys.readouterr()
    # The event after the checkpoint is covered by the chain only: the result says so, and
    # the export passes (the tail of a live log is always after its last checkpoint).
    assert main(["verify", str(export), "--public-key", str(key)]) == 0
    assert _result_line(capsys.readouterr().out) == (
        f"RESULT: OK — positions {last}..{last} (1 event) after the last signed checkpoint "
        f"(position {signed}) are covered by the chain only"
    )


def test_verify_of_a_range_without_a_signed_checkpoint_is_unsigned_and_exits_4(
    cli_env: Path, cli_db: AuditDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _public_key(cli_env, capsys)
    export = cli_env / "unsigned.ndjson"
    last = _first_checkpoint(cli_db) - 1
    assert main(["export", str(export), "--to", str(last)]) == 0
    capsys.readouterr()
    assert main(["verify", str(export), "--public-key", str(key)]) == 4
    assert _result_line(capsys.readouterr().out) == (
        f"RESULT: UNSIGNED — no signed checkpoint covers positions 1..{last} ({last} events): "
        "they are covered by the chain only"
    )
    assert main(["verify", str(export), "--public-key", str(key), "--json"]) == 4
    report = msgspec.json.decode(capsys.readouterr().out)
    assert (report["ok"], report["result"], report["problem_count"]) == (False, "unsigned", 0)


def _result_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("RESULT:"))


# ---- files that cannot be used: one line, exit 2 ---------------------------------------------


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("name", "reason"),
    [("missing.ndjson", "No such file or directory"), (".", "Is a directory")],
)
def test_verify_of_a_file_it_cannot_read_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    path = tmp_path / name
    assert main(["verify", str(path)]) == 2
    captured = capsys.readouterr()
    assert _one_line(captured.err) == f"cluster-ledger verify: cannot read {path}: {reason}"
    assert captured.out == ""


def test_verify_with_a_missing_key_file_is_one_line_and_exit_2(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    key = tmp_path / "no-such-key.pem"
    assert main(["verify", str(export), "--public-key", str(key)]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"cluster-ledger verify: cannot read {key}: No such file or directory"
    )


@pytest.mark.parametrize("content", ["private key", "export", "binary", "empty"])
def test_verify_with_a_key_file_that_is_not_a_public_key_is_one_line_and_exit_2(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    export = tmp_path / "log.ndjson"
    assert main(["export", str(export)]) == 0
    capsys.readouterr()
    key = tmp_path / "wrong-key.pem"
    key.write_bytes({
        "private key": generate_ed25519_pem()[0].encode(),  # a likely mix-up
        "export": export.read_bytes(),
        "binary": bytes(range(256)),
        "empty": b"",
    }[content])
    assert main(["verify", str(export), "--public-key", str(key)]) == 2
    captured = capsys.readouterr()
    assert _one_line(captured.err) == (
        f"cluster-ledger verify: cannot read {key}: not an Ed25519 public key (PEM)"
    )
    assert captured.out == ""


def test_verify_with_a_date_that_is_not_one_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify", str(tmp_path / "log.ndjson"), "--on", "2025-13-01"])
    assert exited.value.code == 2
    assert "not a date (YYYY-MM-DD): '2025-13-01'" in capsys.readouterr().err


# ---- export never overwrites, never leaves half a file ---------------------------------------


def test_export_refuses_to_overwrite_an_existing_file(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = cli_env / "kept.ndjson"
    export.write_text("an earlier export\n", encoding="utf-8")
    assert main(["export", str(export)]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"cluster-ledger export: {export} already exists (pass --force to overwrite it)"
    )
    assert export.read_text(encoding="utf-8") == "an earlier export\n"
    assert sorted(p.name for p in cli_env.iterdir() if p.name.startswith(".")) == []


def test_export_with_force_overwrites_an_existing_file(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = cli_env / "replaced.ndjson"
    export.write_text("an earlier export\n", encoding="utf-8")
    assert main(["export", str(export), "--force"]) == 0
    assert export.read_bytes().startswith(b'{"kind":"header"')
    assert export.read_bytes().rstrip().splitlines()[-1].startswith(b'{"kind":"end"')


@pytest.mark.parametrize(
    ("name", "reason"),
    [("no-such-dir/log.ndjson", "No such file or directory"), (".", "Is a directory")],
)
def test_export_to_a_path_it_cannot_write_is_one_line_and_exit_2(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    path = tmp_path / name
    assert main(["export", str(path)]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"cluster-ledger export: cannot write {path}: {reason}"
    )


_FILE_LIMIT_BLOCKS = 4  # `ulimit -f`: 512- or 1024-byte blocks, by shell: at most 4 KiB


@pytest.mark.parametrize("existing", [False, True])
def test_export_that_fails_midway_leaves_no_half_written_file(
    cli_env: Path, tmp_path: Path, existing: bool
) -> None:
    """The file system refuses the file midway (here: a file-size limit, as a full disk
    would): nothing is left at the path, and an earlier file there stays as it was."""
    whole = tmp_path / "whole.ndjson"
    assert main(["export", str(whole)]) == 0
    assert whole.stat().st_size > 2 * 1024 * _FILE_LIMIT_BLOCKS
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    export = out_dir / "log.ndjson"
    if existing:
        export.write_text("an earlier export\n", encoding="utf-8")
    args = ["export", str(export), *(["--force"] if existing else [])]
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        ["/bin/sh", "-c", f'ulimit -f {_FILE_LIMIT_BLOCKS} && exec "$0" "$@"',
         sys.executable, "-m", "api.cli", *args],
        capture_output=True, text=True, check=False, cwd=PROJECT_ROOT, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert _one_line(done.stderr) == f"cluster-ledger export: cannot write {export}: File too large"
    if existing:
        assert [p.name for p in out_dir.iterdir()] == ["log.ndjson"]
        assert export.read_text(encoding="utf-8") == "an earlier export\n"
    else:
        assert list(out_dir.iterdir()) == []


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
