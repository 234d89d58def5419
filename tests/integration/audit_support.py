"""A separate, fresh database for the audit tests that tamper with the log.

Tampering is done inside a transaction that is rolled back, and on a database of its own
(created on the session's server, dropped at the end), so no other test ever sees a broken
chain.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row

from infra.application import ClusterLedger
from infra.audit.export import write_export
from infra.audit.format import LINE_DECODER, EventLine
from infra.audit.signing import CheckpointSigner
from infra.bootstrap import build_ledger
from infra.database import ConnectionInfo
from infra.migrations import migrate
from infra.rules import load_programmes, load_regions, load_rulebook
from infra.settings import Settings
from projections import audit_replay as replay_module
from projections.audit_replay import VerifyReport, verify_file, verify_lines
from projections.folds import Rules


class AuditDatabase(msgspec.Struct, kw_only=True):
    conn: ConnectionInfo
    ledger: ClusterLedger


def fresh_database(pg: ConnectionInfo) -> Iterator[AuditDatabase]:
    name = f"cluster_ledger_audit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    info = pg.with_dbname(name)
    try:
        migrate(info.url)
        ledger, _ = build_ledger(info, Settings(database_url=info.url))
        try:
            yield AuditDatabase(conn=info, ledger=ledger)
        finally:
            ledger.close()
    finally:
        with psycopg.connect(pg.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rules() -> Rules:
    return Rules(rulebook=load_rulebook(), programmes=load_programmes(), regions=load_regions())


def export_bytes(cur: psycopg.Cursor[Any], signer: CheckpointSigner, after: int = 0,
                 to: int | None = None) -> bytes:
    out = io.BytesIO()
    write_export(
        cur, out, after=after, to=to, public_pem=signer.public_pem,
        fingerprint=signer.fingerprint,
    )
    return out.getvalue()


def verify_bytes(
    data: bytes, public_pem: str | None, on: date | None = None, *,
    trust_embedded_key: bool = False,
) -> VerifyReport:
    """The report of one pass over `data`; it also checks that the other ways `verify` can run
    give the very same report: the file split over two processes (`verify_file`), and every
    case packed away between two of its events (`_Cases` with one live case, growing or
    not)."""
    keys = [public_pem] if public_pem else []
    trust = trust_embedded_key
    report = verify_lines(
        data.splitlines(keepends=True), rules(), public_keys=keys, trust_embedded_key=trust,
        on=on,
    )
    expected = msgspec.json.encode(report)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.ndjson"
        path.write_bytes(data)
        split = verify_file(
            path, rules(), public_keys=keys, trust_embedded_key=trust, on=on, processes=2
        )
    assert msgspec.json.encode(split) == expected
    hot, stretch = replay_module._HOT_CASES, replay_module._STRETCH
    for every in (stretch, 2):  # 2: the live set grows as the log interleaves
        replay_module._HOT_CASES, replay_module._STRETCH = 1, every
        try:
            packed = verify_lines(
                data.splitlines(keepends=True), rules(), public_keys=keys,
                trust_embedded_key=trust, on=on,
            )
        finally:
            replay_module._HOT_CASES, replay_module._STRETCH = hot, stretch
        assert msgspec.json.encode(packed) == expected
    return report


def tampered_export(
    conn: ConnectionInfo, signer: CheckpointSigner, *statements: tuple[str, tuple[Any, ...]]
) -> bytes:
    """Run `statements` directly in PostgreSQL, export what the database then holds, and roll
    everything back."""
    with psycopg.connect(conn.url, row_factory=dict_row) as db:
        cur = db.cursor()
        for sql, params in statements:
            cur.execute(sql, params)  # type: ignore[arg-type]
        data = export_bytes(cur, signer)
        db.rollback()
    return data


def event_lines(data: bytes) -> list[EventLine]:
    lines = [LINE_DECODER.decode(line) for line in data.splitlines()]
    return [line for line in lines if isinstance(line, EventLine)]
