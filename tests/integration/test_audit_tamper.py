"""Export and verify the log; tampering done directly in PostgreSQL is caught at its position.

All in a database of its own (`audit_support.fresh_database`); every tampering runs inside a
transaction that is exported from and then rolled back.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.rows import dict_row

from infra.audit.checkpoints import create_due_checkpoints, list_checkpoints
from infra.audit.signing import CheckpointSigner
from infra.audit.verify import KEY_EMBEDDED, KEY_EMBEDDED_TRUSTED, KEY_GIVEN
from infra.chain import GENESIS, entry_hash, event_digest
from infra.database import ConnectionInfo
from infra.keys import generate_ed25519_pem
from projections.positions import wait_for_position
from projections.queries import read_summary
from projections.runner import Projector
from tests.factories import certified_fj, certified_xm, fund_year_one
from tests.integration.audit_support import (
    AuditDatabase,
    event_lines,
    export_bytes,
    fresh_database,
    tampered_export,
    verify_bytes,
)

CHECKPOINT_EVERY = 4
EVENTS = "clusterledger_events"


class Log:
    """The populated audit database: where things are in its log."""

    def __init__(self, db: AuditDatabase, signer: CheckpointSigner) -> None:
        self.db = db
        self.signer = signer
        with psycopg.connect(db.conn.url, row_factory=dict_row) as conn:
            rows = conn.execute(
                f"SELECT notification_id, originator_id, originator_version, topic FROM {EVENTS}"  # noqa: S608
                " ORDER BY notification_id"
            ).fetchall()
            self.checkpoints = list_checkpoints(conn.cursor())
        self.rows = rows
        self.head = rows[-1]["notification_id"]

    def position_of(self, topic_suffix: str) -> int:
        return int(
            next(r["notification_id"] for r in self.rows if r["topic"].endswith(topic_suffix))
        )

    def row_at(self, position: int) -> dict[str, Any]:
        return next(r for r in self.rows if r["notification_id"] == position)


@pytest.fixture(scope="module")
def audit_log(pg: ConnectionInfo) -> Iterator[Log]:
    for db in fresh_database(pg):
        ledger = db.ledger
        certified_fj(ledger)
        xm = certified_xm(ledger)
        fund_year_one(ledger, xm, 3)
        signer = CheckpointSigner(generate_ed25519_pem()[0])
        with psycopg.connect(db.conn.url) as conn, conn.transaction():
            create_due_checkpoints(conn.cursor(), signer, CHECKPOINT_EVERY, head=True)
        log = Log(db, signer)
        with Projector(db.conn):
            assert wait_for_position(db.conn.url, log.head, timeout=30)
        yield log


@pytest.fixture(scope="module")
def clean(audit_log: Log) -> bytes:
    with psycopg.connect(audit_log.db.conn.url, row_factory=dict_row) as conn:
        return export_bytes(conn.cursor(), audit_log.signer)


# ---- a clean export ------------------------------------------------------------------------------


def test_clean_export_verifies(audit_log: Log, clean: bytes) -> None:
    report = verify_bytes(clean, audit_log.signer.public_pem)
    assert report.ok, report.problems
    assert report.events == len(audit_log.rows)
    assert report.last_position == audit_log.head


def test_clean_export_verifies_every_checkpoint_signature(audit_log: Log, clean: bytes) -> None:
    report = verify_bytes(clean, audit_log.signer.public_pem)
    assert report.checkpoints == len(audit_log.checkpoints) >= 3
    assert report.checkpoints_verified == report.checkpoints


def test_clean_export_summary_equals_the_projections(audit_log: Log, clean: bytes) -> None:
    on = date(2025, 6, 30)
    report = verify_bytes(clean, audit_log.signer.public_pem, on=on)
    assert report.summary is not None
    assert report.summary == read_summary(audit_log.db.conn, on=on)
    assert sum(f.paid_fen for f in report.summary.funding) == 100_000_000


def test_summary_defaults_to_the_day_of_the_export(audit_log: Log, clean: bytes) -> None:
    report = verify_bytes(clean, audit_log.signer.public_pem)
    assert report.summary is not None
    assert report.summary_on == report.summary.on
    assert report.exported_at is not None
    assert report.summary_on.isoformat() == report.exported_at[:10]


def test_export_embeds_the_stored_state_bytes_verbatim(audit_log: Log, clean: bytes) -> None:
    with psycopg.connect(audit_log.db.conn.url) as conn:
        stored = {
            row[0]: bytes(row[1])
            for row in conn.execute(f"SELECT notification_id, state FROM {EVENTS}")  # noqa: S608
        }
    assert {line.position: bytes(line.payload) for line in event_lines(clean)} == stored


def test_export_in_small_windows_equals_one_window(
    audit_log: Log, clean: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.audit.export.WINDOW", 3)
    with psycopg.connect(audit_log.db.conn.url, row_factory=dict_row) as conn:
        small = export_bytes(conn.cursor(), audit_log.signer)
    assert small.splitlines()[1:] == clean.splitlines()[1:]  # all but the header's time


def test_export_reads_ahead_in_order_and_passes_errors_on() -> None:
    """The export reads the next window in a thread while it writes this one."""
    from infra.prefetch import prefetched

    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("the database went away")

    with pytest.raises(ValueError, match="went away"):
        list(prefetched(failing()))
    reader = prefetched(iter(range(1000)), depth=1)
    assert next(reader) == 0
    reader.close()  # stops and joins the reading thread


def test_partial_export_verifies_from_its_anchor(audit_log: Log) -> None:
    after = audit_log.position_of("Certified")
    with psycopg.connect(audit_log.db.conn.url, row_factory=dict_row) as conn:
        data = export_bytes(conn.cursor(), audit_log.signer, after=after)
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.ok, report.problems
    assert report.first_position == after + 1
    assert not report.complete
    assert report.summary is None


# ---- tampering in the database -------------------------------------------------------------------


def test_altered_payment_amount_is_caught_at_its_position(audit_log: Log) -> None:
    paid = audit_log.position_of("SubsidyPaid")
    data = tampered_export(
        audit_log.db.conn, audit_log.signer,
        (
            f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, 'UTF8'),"  # noqa: S608
            " '\"amount_fen\":100000000', '\"amount_fen\":900000000'), 'UTF8')"
            " WHERE notification_id = %s",
            (paid,),
        ),
    )
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert not report.ok
    assert report.first_bad_position == paid
    assert [p.code for p in report.problems] == ["chain_mismatch"]


def test_deleted_event_is_caught_at_its_position(audit_log: Log) -> None:
    certified = audit_log.position_of("Certified")
    data = tampered_export(
        audit_log.db.conn, audit_log.signer,
        (f"DELETE FROM {EVENTS} WHERE notification_id = %s", (certified,)),  # noqa: S608
    )
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.first_bad_position == certified
    assert report.problems[0].code == "event_missing"


def test_event_deleted_with_its_chain_entry_is_caught_at_the_next_position(
    audit_log: Log,
) -> None:
    recommended = audit_log.position_of("Recommended")
    assert recommended not in {c.position for c in audit_log.checkpoints}
    data = tampered_export(
        audit_log.db.conn, audit_log.signer,
        (f"DELETE FROM {EVENTS} WHERE notification_id = %s", (recommended,)),  # noqa: S608
        ("DELETE FROM ledger_chain WHERE notification_id = %s", (recommended,)),
    )
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.first_bad_position == recommended + 1
    assert report.problems[0].code == "chain_mismatch"
    assert (
        f"between positions {recommended - 1} and {recommended + 1}" in report.problems[0].message
    )


def test_deleted_entry_pinned_by_a_checkpoint_is_named_by_it(audit_log: Log) -> None:
    pinned = audit_log.checkpoints[0].position
    data = tampered_export(
        audit_log.db.conn, audit_log.signer,
        (f"DELETE FROM {EVENTS} WHERE notification_id = %s", (pinned,)),  # noqa: S608
        ("DELETE FROM ledger_chain WHERE notification_id = %s", (pinned,)),
    )
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.first_bad_position == pinned
    assert report.problems[0].code == "checkpoint_without_entry"


def test_appended_event_without_chain_entry_is_caught_at_its_position(audit_log: Log) -> None:
    paid = audit_log.row_at(audit_log.position_of("SubsidyPaid"))
    data = tampered_export(
        audit_log.db.conn, audit_log.signer,
        (
            f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state)"  # noqa: S608
            f" SELECT originator_id, 99, topic, state FROM {EVENTS} WHERE notification_id = %s",
            (paid["notification_id"],),
        ),
    )
    inserted = event_lines(data)[-1]
    assert inserted.position > audit_log.head
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.first_bad_position == inserted.position
    assert report.problems[0].code == "no_chain_entry"


def test_event_inserted_in_the_middle_is_caught_at_its_position(audit_log: Log) -> None:
    """Later events are moved up to make room, and a forged payment takes the freed position."""
    paid = audit_log.position_of("SubsidyPaid")
    target = audit_log.position_of("Recommended")
    data = tampered_export(
        audit_log.db.conn, audit_log.signer,
        (
            f"UPDATE {EVENTS} SET notification_id = notification_id + 1000"  # noqa: S608
            " WHERE notification_id > %s",
            (target,),
        ),
        (
            f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state,"  # noqa: S608
            " notification_id)"
            f" SELECT originator_id, 99, topic, state, %s FROM {EVENTS}"
            " WHERE notification_id = %s",
            (target + 1, paid + 1000),
        ),
    )
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.first_bad_position == target + 1
    assert report.problems[0].code == "chain_mismatch"


def test_reordered_events_are_caught_at_the_first_swapped_position(audit_log: Log) -> None:
    first = audit_log.position_of("Recommended")
    second = audit_log.position_of("Shortlisted")
    swap = f"UPDATE {EVENTS} SET notification_id = %s WHERE notification_id = %s"  # noqa: S608
    data = tampered_export(
        audit_log.db.conn, audit_log.signer,
        (swap, (-1, first)), (swap, (first, second)), (swap, (second, -1)),
    )
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.first_bad_position == first
    assert [p.position for p in report.problems if p.code == "chain_mismatch"] == [first, second]


def test_rewritten_chain_is_caught_by_the_next_signed_checkpoint(audit_log: Log) -> None:
    """The alterer recomputes the whole chain table: only a signed checkpoint can tell."""
    altered = audit_log.position_of("Recommended")
    with psycopg.connect(audit_log.db.conn.url, row_factory=dict_row) as db:
        cur = db.cursor()
        cur.execute(
            f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, 'UTF8'),"  # noqa: S608
            " '\"onsite_verified\":true', '\"onsite_verified\":false'), 'UTF8')"
            " WHERE notification_id = %s",
            (altered,),
        )
        _recompute_chain(cur)
        data = export_bytes(cur, audit_log.signer)
        db.rollback()
    report = verify_bytes(data, audit_log.signer.public_pem)
    next_checkpoint = min(c.position for c in audit_log.checkpoints if c.position >= altered)
    assert report.problems[0].code == "checkpoint_mismatch"
    assert report.first_bad_position == next_checkpoint
    assert all(p.code == "checkpoint_mismatch" for p in report.problems)


def _recompute_chain(cur: psycopg.Cursor[Any]) -> None:
    rows = cur.execute(
        f"SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS}"  # noqa: S608
        " ORDER BY notification_id"
    ).fetchall()
    previous = GENESIS
    for row in rows:
        digest = event_digest(
            UUID(str(row["originator_id"])), row["originator_version"], row["topic"],
            bytes(row["state"]),
        )
        previous = entry_hash(previous, row["notification_id"], digest)
        cur.execute(
            "UPDATE ledger_chain SET hash = %s WHERE notification_id = %s",
            (previous, row["notification_id"]),
        )


# ---- tampering with the file ------------------------------------------------------------------


def test_edited_payload_in_the_file_is_caught(audit_log: Log, clean: bytes) -> None:
    paid = audit_log.position_of("SubsidyPaid")
    lines = clean.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if f'"position":{paid},'.encode() in line)
    lines[index] = lines[index].replace(b'"voucher_number":"XM', b'"voucher_number":"XX')
    report = verify_bytes(b"".join(lines), audit_log.signer.public_pem)
    assert report.first_bad_position == paid
    assert report.problems[0].code == "chain_mismatch"


def test_edited_copy_field_in_the_file_is_caught(audit_log: Log, clean: bytes) -> None:
    certified = audit_log.position_of("Certified")
    lines = clean.splitlines(keepends=True)
    index = next(
        i for i, line in enumerate(lines) if f'"position":{certified},'.encode() in line
    )
    lines[index] = lines[index].replace(b'"effective_date":"2023-05-22"',
                                        b'"effective_date":"2023-01-02"', 1)
    report = verify_bytes(b"".join(lines), audit_log.signer.public_pem)
    assert [(p.code, p.position) for p in report.problems] == [("fields_disagree", certified)]


def test_truncated_file_is_caught(audit_log: Log, clean: bytes) -> None:
    lines = clean.splitlines(keepends=True)
    report = verify_bytes(b"".join(lines[:-3]), audit_log.signer.public_pem)
    assert [p.code for p in report.problems] == ["truncated"]


def test_checkpoint_signed_by_another_key_is_refused(audit_log: Log, clean: bytes) -> None:
    other = CheckpointSigner(generate_ed25519_pem()[0])
    report = verify_bytes(clean, other.public_pem)
    assert not report.ok
    assert {p.code for p in report.problems} == {"unknown_checkpoint_key"}


def test_forged_signature_is_refused(audit_log: Log, clean: bytes) -> None:
    lines = clean.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(b'{"kind":"checkpoint"'))
    forged = lines[index].replace(b'"signature":"', b'"signature":"AAAA', 1)
    lines[index] = forged
    report = verify_bytes(b"".join(lines), audit_log.signer.public_pem)
    assert [p.code for p in report.problems] == ["bad_signature"]


def test_without_a_public_key_the_file_key_is_used_and_the_result_is_unpinned(
    audit_log: Log, clean: bytes
) -> None:
    report = verify_bytes(clean, None)
    assert report.problem_count == 0
    assert report.checkpoints_verified == report.checkpoints
    assert report.key_source == KEY_EMBEDDED
    assert report.key_fingerprint == audit_log.signer.fingerprint
    assert report.result == "unpinned"
    assert not report.ok


def test_trusting_the_file_key_explicitly_is_ok_and_reported(
    audit_log: Log, clean: bytes
) -> None:
    report = verify_bytes(clean, None, trust_embedded_key=True)
    assert report.result == "ok"
    assert report.ok
    assert report.key_source == KEY_EMBEDDED_TRUSTED
    assert report.key_fingerprint == audit_log.signer.fingerprint


def test_a_key_given_is_used_even_when_the_file_key_is_trusted(clean: bytes) -> None:
    other = CheckpointSigner(generate_ed25519_pem()[0])
    report = verify_bytes(clean, other.public_pem, trust_embedded_key=True)
    assert report.key_source == KEY_GIVEN
    assert report.result == "failed"
    assert {p.code for p in report.problems} == {"unknown_checkpoint_key"}


def test_a_file_key_that_is_not_a_key_is_a_problem_not_a_crash(clean: bytes) -> None:
    lines = clean.splitlines(keepends=True)
    header = msgspec.json.decode(lines[0])
    header["public_key"] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    lines[0] = msgspec.json.encode(header) + b"\n"
    report = verify_bytes(b"".join(lines), None, trust_embedded_key=True)
    assert report.result == "failed"
    assert report.problems[0].code == "invalid_embedded_key"
    assert report.key_source is None


def test_clean_export_with_a_signed_head_is_signed_through_its_end(
    audit_log: Log, clean: bytes
) -> None:
    report = verify_bytes(clean, audit_log.signer.public_pem)
    assert report.signed_through == audit_log.head
    assert report.chain_only_from is None
    assert report.chain_only_events == 0


def test_events_after_the_last_checkpoint_are_counted_and_the_export_still_passes(
    audit_log: Log,
) -> None:
    signed = audit_log.checkpoints[0].position
    to = signed + 2
    assert to not in {c.position for c in audit_log.checkpoints}
    with psycopg.connect(audit_log.db.conn.url, row_factory=dict_row) as conn:
        data = export_bytes(conn.cursor(), audit_log.signer, to=to)
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.result == "ok"
    assert report.signed_through == signed
    assert report.chain_only_from == signed + 1
    after_signed = [r for r in audit_log.rows if signed < r["notification_id"] <= to]
    assert report.chain_only_events == len(after_signed) >= 1


def test_range_without_a_signed_checkpoint_is_unsigned(audit_log: Log) -> None:
    first_signed = audit_log.checkpoints[0].position
    after = 1
    with psycopg.connect(audit_log.db.conn.url, row_factory=dict_row) as conn:
        data = export_bytes(conn.cursor(), audit_log.signer, after=after, to=first_signed - 1)
    report = verify_bytes(data, audit_log.signer.public_pem)
    assert report.problem_count == 0
    assert report.checkpoints == 0
    assert report.result == "unsigned"
    assert not report.ok
    assert report.signed_through is None
    assert report.chain_only_from == report.first_position == after + 1
    assert report.chain_only_events == report.events == first_signed - 1 - after


def test_checkpoint_message_is_what_the_documentation_says(audit_log: Log) -> None:
    checkpoint = audit_log.checkpoints[0]
    created = checkpoint.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message = f"cluster-ledger/checkpoint/v1|{checkpoint.position}|{checkpoint.hash}|{created}"
    key = serialization.load_pem_public_key(audit_log.signer.public_pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode(checkpoint.signature), message.encode())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert checkpoint.key_fingerprint == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_checkpoints_are_due_every_n_chain_entries(audit_log: Log) -> None:
    positions = [c.position for c in audit_log.checkpoints]
    chain = [r["notification_id"] for r in audit_log.rows]
    due = chain[CHECKPOINT_EVERY - 1::CHECKPOINT_EVERY]
    assert positions[: len(due)] == due
    assert positions[-1] == audit_log.head  # the head, signed on request


def test_creating_checkpoints_again_signs_nothing_new(audit_log: Log) -> None:
    with psycopg.connect(audit_log.db.conn.url) as conn:
        made = create_due_checkpoints(conn.cursor(), audit_log.signer, CHECKPOINT_EVERY)
        conn.rollback()
    assert made == []

