"""A command whose expected version is the cached case's acts on it without reading the store.

The API process's cache keeps each case as last saved; a command with `If-Match` equal to the
cached version skips the fast-forward read. These tests pin what makes that safe, against the
real PostgreSQL: a command that saves acted on the latest state (the append of the next version
fails otherwise), and a command that fails on a stale cache answers what acting on the
up-to-date case answers (`stale_version`), never a refusal computed on an old state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import pytest

from domain.commands import Command
from domain.errors import RuleViolation, VersionConflict
from domain.facts import AnnualFigures, ChangeKind
from infra.application import ClusterLedger
from tests.factories import QUANZHOU, certified_fj, fj_dossier, meta


@contextmanager
def store_reads(ledger: ClusterLedger) -> Iterator[list[UUID]]:
    """The ids whose events the ledger reads from the store while inside (the real event store,
    its `get` counted)."""
    store: Any = ledger.repository.event_store
    original = store.get
    read: list[UUID] = []

    def counted(originator_id: UUID, *args: Any, **kwargs: Any) -> Any:
        read.append(originator_id)
        return original(originator_id, *args, **kwargs)

    store.get = counted
    try:
        yield read
    finally:
        del store.get  # the bound method of the class again


def _change(ledger: ClusterLedger, cid: UUID, version: int, value: str) -> int:
    return ledger.issue(
        Command.REPORT_MAJOR_CHANGE,
        cid,
        meta("county", fj_dossier().county_code, date(2024, 6, 1)),
        version,
        kind=ChangeKind.SPATIAL_SCOPE,
        new_value=value,
    ).version


def test_a_saved_case_is_cached_at_its_new_version_and_the_next_command_skips_the_read(
    ledger: ClusterLedger,
) -> None:
    cid = certified_fj(ledger, fj_dossier(name="快速路径产业集群"))
    version = _change(ledger, cid, 4, "第一次变更")
    assert ledger.repository.cache is not None
    assert ledger.repository.cache.get(cid).version == version == 5

    with store_reads(ledger) as read:
        version = _change(ledger, cid, version, "第二次变更")
    assert read == []
    assert version == 6
    stored = ledger.repository.get(cid, version=6)  # replayed from the store, not the cache
    assert [c.new_value for c in stored.case.changes] == ["第一次变更", "第二次变更"]
    assert msgspec.to_builtins(stored.case) == msgspec.to_builtins(ledger.get_cluster(cid).case)


def test_without_an_expected_version_the_store_is_read(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger, fj_dossier(name="无版本产业集群"))
    with store_reads(ledger) as read:
        ledger.issue(
            Command.REPORT_MAJOR_CHANGE,
            cid,
            meta("county", fj_dossier().county_code, date(2024, 6, 1)),
            None,
            kind=ChangeKind.SPATIAL_SCOPE,
            new_value="无版本变更",
        )
    assert cid in read


def test_a_stale_cache_and_a_stale_expected_version_answer_stale_version(
    ledger: ClusterLedger, uncached: ClusterLedger
) -> None:
    cid = certified_fj(ledger, fj_dossier(name="过期缓存产业集群"))
    assert ledger.get_cluster(cid).version == 4  # cached at 4
    _change(uncached, cid, 4, "另一进程的变更")  # version 5, written by another process

    with pytest.raises(VersionConflict) as refused:
        _change(ledger, cid, 4, "基于旧版本的变更")
    assert refused.value.code == "stale_version"
    assert refused.value.details["current_version"] == 5
    assert refused.value.details["expected_version"] == 4
    case = uncached.get_cluster(cid)
    assert case.version == 5
    assert [c.new_value for c in case.case.changes] == ["另一进程的变更"]


def test_a_refusal_on_a_stale_cache_answers_stale_version_not_the_refusal(
    ledger: ClusterLedger, uncached: ClusterLedger
) -> None:
    cid = certified_fj(ledger, fj_dossier(name="过期拒绝产业集群"))
    figures = AnnualFigures(total_output_yuan=5_000_000_000)
    assert ledger.get_cluster(cid).version == 4
    uncached.issue(
        Command.FILE_ANNUAL_REPORT,
        cid,
        meta("city", QUANZHOU, date(2024, 3, 1)),
        4,
        year=2023,
        figures=figures,
    )
    # A report for a year before certification is refused on any state; acted on the cached
    # case (version 4) it is refused, but the caller's version is stale, and that is the answer
    # acting on the up-to-date case gives.
    with pytest.raises(VersionConflict) as refused:
        ledger.issue(
            Command.FILE_ANNUAL_REPORT,
            cid,
            meta("city", QUANZHOU, date(2024, 3, 2)),
            4,
            year=2020,
            figures=figures,
        )
    assert refused.value.code == "stale_version"
    assert refused.value.details["current_version"] == 5


def test_a_refusal_on_an_up_to_date_cache_is_the_refusal(ledger: ClusterLedger) -> None:
    cid = certified_fj(ledger, fj_dossier(name="当前拒绝产业集群"))
    figures = AnnualFigures(total_output_yuan=5_000_000_000)
    version = ledger.issue(
        Command.FILE_ANNUAL_REPORT,
        cid,
        meta("city", QUANZHOU, date(2024, 3, 1)),
        4,
        year=2023,
        figures=figures,
    ).version
    with pytest.raises(RuleViolation) as refused:
        ledger.issue(
            Command.FILE_ANNUAL_REPORT,
            cid,
            meta("city", QUANZHOU, date(2024, 3, 2)),
            version,
            year=2023,
            figures=figures,
        )
    assert refused.value.code == "annual_report_already_filed"
    assert ledger.get_cluster(cid).version == version


def test_the_expected_version_another_process_reached_is_read_and_acted_on(
    ledger: ClusterLedger, uncached: ClusterLedger
) -> None:
    cid = certified_fj(ledger, fj_dossier(name="追赶产业集群"))
    assert ledger.get_cluster(cid).version == 4
    _change(uncached, cid, 4, "另一进程的变更")
    with store_reads(ledger) as read:
        version = _change(ledger, cid, 5, "本进程的变更")
    assert cid in read  # the cached case was at 4: brought up to date from the store
    assert version == 6
    changes = [c.new_value for c in uncached.get_cluster(cid).case.changes]
    assert changes == ["另一进程的变更", "本进程的变更"]
