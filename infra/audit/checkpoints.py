"""Signed checkpoints in PostgreSQL (`audit_checkpoints`, migration 200).

A checkpoint is due every `settings.checkpoint_every` chain entries: the N-th, 2N-th, ... entry
counted from the last checkpoint (positions have gaps, so entries are counted, not ids).
`create_due_checkpoints` signs every due one; it is idempotent and safe to run from several
processes at once (an advisory lock serialises them; the position is the primary key). It runs

- in the API process, a few seconds after events are written (`infra.audit.checkpointer`);
- from `cluster-ledger checkpoint` (cron, or by hand before an export); `--head` also pins the
  latest entry, so an auditor's export ends on a signed checkpoint.

The signature covers (position, chain hash, created_at): see `infra.audit.signing`.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from psycopg import Cursor

from infra.audit.signing import Checkpoint, CheckpointSigner
from infra.keys import dev_key_pair
from infra.settings import Settings

CHECKPOINT_LOCK = 72710200  # pg_advisory_xact_lock key: one checkpoint writer at a time

def signer_for(settings: Settings) -> CheckpointSigner:
    """The configured checkpoint key; in development, a key generated under data_dir/keys."""
    private = settings.checkpoint_private_key
    if not private:
        private = dev_key_pair(settings.data_dir / "keys", "checkpoint")[0]
    return CheckpointSigner(private)


def _store(cur: Cursor[Any], checkpoint: Checkpoint, signature: bytes) -> None:
    cur.execute(
        "INSERT INTO audit_checkpoints (position, hash, created_at, signature, key_fingerprint)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (position) DO NOTHING",
        (
            checkpoint.position, bytes.fromhex(checkpoint.hash), checkpoint.created_at,
            signature, checkpoint.key_fingerprint,
        ),
    )


def _sign_and_store(
    cur: Cursor[Any], signer: CheckpointSigner, position: int, chain_hash: bytes
) -> Checkpoint:
    checkpoint = signer.sign(position, chain_hash, datetime.now(UTC))
    _store(cur, checkpoint, base64.b64decode(checkpoint.signature))
    return checkpoint


def _row(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def create_due_checkpoints(
    cur: Cursor[Any], signer: CheckpointSigner, every: int, *, head: bool = False
) -> list[Checkpoint]:
    """Sign every checkpoint that is due (and, with `head`, the latest entry). Call inside a
    transaction: the advisory lock is held until it ends."""
    if every < 1:
        raise ValueError("checkpoint_every must be at least 1")
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (CHECKPOINT_LOCK,))
    last = _row(cur.execute("SELECT coalesce(max(position), 0) FROM audit_checkpoints").fetchone())
    after = int(last[0])
    made: list[Checkpoint] = []
    while True:
        found = cur.execute(
            "SELECT notification_id, hash FROM ledger_chain WHERE notification_id > %s"
            " ORDER BY notification_id OFFSET %s LIMIT 1",
            (after, every - 1),
        ).fetchone()
        if found is None:
            break
        position, chain_hash = _row(found)
        made.append(_sign_and_store(cur, signer, int(position), bytes(chain_hash)))
        after = int(position)
    if head:
        latest = cur.execute(
            "SELECT notification_id, hash FROM ledger_chain WHERE notification_id > %s"
            " ORDER BY notification_id DESC LIMIT 1",
            (after,),
        ).fetchone()
        if latest is not None:
            position, chain_hash = _row(latest)
            made.append(_sign_and_store(cur, signer, int(position), bytes(chain_hash)))
    return made


def list_checkpoints(cur: Cursor[Any], after: int = 0, limit: int = 1000) -> list[Checkpoint]:
    rows = cur.execute(
        "SELECT position, hash, created_at, signature, key_fingerprint FROM audit_checkpoints"
        " WHERE position > %s ORDER BY position LIMIT %s",
        (after, limit),
    ).fetchall()
    checkpoints = []
    for row in rows:
        position, chain_hash, created_at, signature, fingerprint = _row(row)
        checkpoints.append(
            Checkpoint(
                position=int(position), hash=bytes(chain_hash).hex(), created_at=created_at,
                signature=base64.b64encode(bytes(signature)).decode("ascii"),
                key_fingerprint=fingerprint,
            )
        )
    return checkpoints
