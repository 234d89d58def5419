"""The API process's case cache and the one-statement append, against the real PostgreSQL.

The cache (eventsourcing's LRU with fast-forward) must never serve a stale or half-changed
case: each load reads the events recorded after the cached version, and each command works on
a copy. The append (`ledger_append`, migration 4) must write the same chain links as
`infra.chain` computes, never fork the chain under concurrent writers, and store the
idempotency key with the position of the command's last event.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from uuid import UUID

import msgspec
import psycopg
import pytest

from domain.commands import Command
from domain.errors import DomainError, VersionConflict
from domain.facts import AnnualFigures, ChangeKind, ScoreStage
from infra.application import ClusterLedger
from infra.chain import GENESIS, entry_hash, event_digest
from infra.database import ConnectionInfo
from infra.recorder import IdempotencyRecord
from tests.factories import (
    QUANZHOU,
    SIMING,
    certified_fj,
    certified_xm,
    fj_dossier,
    fund_year_one,
    meta,
    score_year,
)
from tests.unit.cluster_steps import profile_of


def test_the_ledger_under_test_caches_cases(ledger: ClusterLedger) -> None:
    assert ledger.repository.cache is not None
    assert ledger.repository.fastforward


def test_a_copy_of_a_rich_case_is_equal_and_shares_nothing(ledger: ClusterLedger) -> None:
    cid = certified_xm(ledger)
    version = score_year(ledger, cid, fund_year_one(ledger, cid, 3), 2025, Decimal("88.5"))
    version = ledger.issue(
        Command.REPORT_MAJOR_CHANGE, cid, meta("county", SIMING, date(2026, 4, 1)), version,
        kind=ChangeKind.SPATIAL_SCOPE, new_value="规划范围调整",
    ).version
    cluster = ledger.get_cluster(cid)
    assert cluster.version == version
    assert cluster.case.funding
    assert cluster.case.assessments

    clone = copy.deepcopy(cluster)

    assert clone is not cluster
    assert clone.case is not cluster.case
    assert msgspec.to_builtins(clone.case) == msgspec.to_builtins(cluster.case)
    assert (clone.id, clone.version, clone.created_on, clone.modified_on) == (
        cluster.id, cluster.version, cluster.created_on, cluster.modified_on,
    )
    year_one = next(iter(clone.case.funding.values()))
    assert year_one is not next(iter(cluster.case.funding.values()))
    # Nothing that can change is shared: every list, dict and unfrozen Struct is a new object.
    mutable_ids = {id(part) for part in _mutable_parts(cluster.case)}
    assert len(mutable_ids) > 5
    assert mutable_ids.isdisjoint(id(part) for part in _mutable_parts(clone.case))
    # What no applier changes once written (frozen Structs) is shared, not copied.
    assert clone.case.changes[0] is cluster.case.changes[0]
    assert clone.case.dossier is cluster.case.dossier
    clone.case.funding.clear()
    assert cluster.case.funding  # the original is untouched


def _mutable_parts(value: object) -> Iterator[object]:
    """Every list, dict and unfrozen Struct inside `value`, itself included."""
    if isinstance(value, msgspec.Struct):
        if not type(value).__struct_config__.frozen:
            yield value
        for name in type(value).__struct_fields__:
            yield from _mutable_parts(getattr(value, name))
    elif isinstance(value, list | dict):
        yield value
        yield from (p for item in (value.values() if isinstance(value, dict) else value)
                    for p in _mutable_parts(item))
    elif isinstance(value, tuple):
        yield from (p for item in value for p in _mutable_parts(item))


def test_a_refused_command_leaves_the_cached_case_untouched(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger)
    before = msgspec.to_builtins(ledger.get_cluster(cid).case)
    with pytest.raises(DomainError):
        # A report for a year before certification is refused by the aggregate's guard.
        ledger.issue(
            Command.FILE_ANNUAL_REPORT,
            cid,
            meta("city", QUANZHOU, date(2024, 3, 1)),
            4,
            year=2020,
            figures=AnnualFigures(),
        )
    with pytest.raises(VersionConflict):
        ledger.issue(
            Command.FILE_ANNUAL_REPORT,
            cid,
            meta("city", QUANZHOU, date(2024, 3, 1)),
            3,
            year=2023,
            figures=AnnualFigures(),
        )
    # A command applied to a loaded case whose save never happens (a lost race, a crash):
    # the next load must not see it.
    loaded = ledger.get_cluster(cid)
    loaded.report_major_change(
        meta("county", fj_dossier().county_code, date(2024, 6, 1)),
        ChangeKind.SPATIAL_SCOPE,
        "未保存的变更", profile=profile_of(loaded),
    )
    assert loaded.version == 5
    assert loaded.case.changes
    cluster = ledger.get_cluster(cid)
    assert cluster.version == 4
    assert msgspec.to_builtins(cluster.case) == before


def test_a_cached_case_sees_what_another_process_wrote(
    ledger: ClusterLedger, uncached: ClusterLedger
) -> None:
    cid = certified_fj(ledger, fj_dossier(name="缓存测试产业集群"))
    assert ledger.get_cluster(cid).version == 4  # now cached at version 4
    uncached.issue(
        Command.FILE_ANNUAL_REPORT, cid,
        meta("city", QUANZHOU, date(2024, 3, 1)),
        4,
        year=2023,
        figures=AnnualFigures(total_output_yuan=5_000_000_000),
    )
    cluster = ledger.get_cluster(cid)
    assert cluster.version == 5
    assert 2023 in cluster.case.reports
    assert msgspec.to_builtins(cluster.case) == msgspec.to_builtins(
        uncached.get_cluster(cid).case
    )


def _stored_chain(url: str) -> tuple[list[tuple[int, bytes]], list[bytes]]:
    """(position, recomputed hash) for the whole log, and the stored hashes, in order."""
    with psycopg.connect(url) as conn:
        events = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM clusterledger_events ORDER BY notification_id"
        ).fetchall()
        stored = conn.execute(
            "SELECT notification_id, hash FROM ledger_chain ORDER BY notification_id"
        ).fetchall()
    previous, recomputed = GENESIS, []
    for position, originator_id, version, topic, state in events:
        digest = event_digest(UUID(str(originator_id)), version, topic, bytes(state))
        previous = entry_hash(previous, position, digest)
        recomputed.append((position, previous))
    return recomputed, [(row[0], bytes(row[1])) for row in stored]  # type: ignore[misc]


def test_concurrent_writers_extend_one_chain_that_python_recomputes(
    ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    cases = [certified_fj(ledger, fj_dossier(name=f"并发链测试产业集群{i}")) for i in range(4)]
    errors: list[BaseException] = []

    def write(cid: UUID) -> None:
        version = 4
        try:
            for k in range(8):
                version = ledger.issue(
                    Command.REPORT_MAJOR_CHANGE,
                    cid,
                    meta("county", fj_dossier().county_code, date(2024, 6, 1)),
                    version,
                    kind=ChangeKind.SPATIAL_SCOPE,
                    new_value=f"扩区 {k}",
                ).version
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(cid,)) for cid in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(ledger.get_cluster(cid).version == 12 for cid in cases)
    recomputed, stored = _stored_chain(migrated.url)
    assert len(stored) == len(recomputed) > 4 * 12
    assert stored == recomputed


def test_the_idempotency_key_is_stored_with_the_last_event_in_the_same_statement(
    ledger: ClusterLedger, migrated: ConnectionInfo
) -> None:
    cid = certified_xm(ledger)
    record = IdempotencyRecord(
        key="cache-test-key-1", user_id="city-treasurer", fingerprint="f" * 64,
        status_code=200, response={"note": "first answer"},
    )
    result = ledger.issue(
        Command.SCORE, cid, meta("county", SIMING, date(2026, 2, 10)), 3, year=2025,
        stage=ScoreStage.DISTRICT_INITIAL,
        score=Decimal("80"), idempotency=record,
    )
    with psycopg.connect(migrated.url) as conn:
        row = conn.execute(
            "SELECT fingerprint, status_code, response, notification_id FROM idempotency_keys "
            "WHERE user_id = %s AND key = %s",
            (record.user_id, record.key),
        ).fetchone()
    assert row is not None
    fingerprint, status, response, position = row
    assert (fingerprint, status, position) == (record.fingerprint, 200, result.position)
    assert response["version"] == result.version == 4
    assert response["note"] == "first answer"

    # The same key again: the primary key refuses it and nothing of the second call lands.
    with pytest.raises(VersionConflict):
        ledger.issue(
            Command.REPORT_MAJOR_CHANGE, cid, meta("county", SIMING, date(2026, 3, 1)), 4,
            kind=ChangeKind.SPATIAL_SCOPE, new_value="重复键", idempotency=record,
        )
    assert ledger.get_cluster(cid).version == 4


def test_every_stored_event_class_has_its_decoder_built_before_any_request(
    ledger: ClusterLedger,
) -> None:
    # Built in the constructing thread (infra.codec.prepare): two worker threads building the
    # same nested types' decoders at once crashed a freshly started server (SIGSEGV).
    from eventsourcing.utils import get_topic

    from infra import codec
    from infra.application import event_classes

    topics = {get_topic(cls) for cls in event_classes()}
    assert "domain.cluster:Cluster.Snapshot" in topics
    assert "domain.voucher:VoucherIndex.Registered" in topics
    assert topics <= set(codec._DECODERS)  # the cache itself is what is checked
