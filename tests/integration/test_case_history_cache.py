"""State at a date with cached event heads (`infra.event_heads`), against the real PostgreSQL.

The cache may only save reading: every answer must equal the one read without it (and the fold
from the first event), events another writer appends after a case was cached must be seen, the
cache must hold no more heads than its bound, and a cached case must still be refused to a
reader outside its jurisdiction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import anyio.to_thread
import asyncpg
import msgspec
import pytest

from domain.commands import Command
from domain.errors import NotAllowed
from domain.facts import ChangeKind
from domain.history import CaseAtDate, LoggedEvent, case_at
from domain.permissions import check_may_read
from infra.application import ClusterLedger
from infra.bootstrap import build_ledger
from infra.case_history import case_at_date
from infra.database import ConnectionInfo
from infra.event_heads import HeadCache
from infra.settings import Settings
from tests.factories import JINJIANG, QUANZHOU, actor, certified_fj, fj_dossier, meta

TODAY = date(2026, 1, 15)


@pytest.fixture
async def pool(migrated: ConnectionInfo) -> AsyncIterator[asyncpg.Pool]:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        **migrated.asyncpg_kwargs(), min_size=1, max_size=2
    )
    yield pool
    await pool.close()


@pytest.fixture
def other_writer(migrated: ConnectionInfo) -> Iterator[ClusterLedger]:
    """A second ledger on the same store: another process appending, in effect."""
    app, _ = build_ledger(migrated, Settings(database_url=migrated.url, aggregate_cache=0))
    yield app
    app.close()


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """What the API's `runtime.call` does: the synchronous work in a worker thread."""
    return await anyio.to_thread.run_sync(lambda: fn(*args))


def _effective(i: int) -> date:
    # Back and forth over a year after certification (2023-05-22): never monotonic.
    return date(2023, 6, 1) + timedelta(days=(i * 37) % 365)


def _case(ledger: ClusterLedger, changes: int) -> tuple[UUID, int]:
    cid = certified_fj(ledger, fj_dossier(name=f"缓存测试产业集群-{uuid4().hex[:6]}"))
    return cid, _change(ledger, cid, 4, range(changes))


def _change(ledger: ClusterLedger, cid: UUID, version: int, steps: range) -> int:
    for i in steps:
        version = ledger.issue(
            Command.REPORT_MAJOR_CHANGE, cid, meta("county", JINJIANG, _effective(i)), version,
            kind=ChangeKind.SPATIAL_SCOPE, new_value=f"规划范围调整 {i}",
        ).version
    return version


async def _state(
    pool: asyncpg.Pool,
    ledger: ClusterLedger,
    cid: UUID,
    heads: HeadCache | None,
    *,
    authorise: Callable[[str], None] = lambda _county: None,
    **filters: Any,
) -> CaseAtDate:
    filters = {"as_of": None, "known_at": None, **filters}
    return await case_at_date(
        pool, in_thread, ledger.mapper, cid, authorise, today=TODAY, heads=heads, **filters
    )


def _plain(state: CaseAtDate) -> Any:
    return msgspec.to_builtins(state)


def _essentials(state: CaseAtDate) -> Any:
    """What a fold of the decoded events gives too (it does not know log positions)."""
    return (
        state.version, state.status, msgspec.to_builtins(state.case),
        [(r.version, r.type, r.effective_date, r.recorded_at) for r in state.used],
        [(r.version, r.reason) for r in state.excluded],
    )


def _reference(ledger: ClusterLedger, cid: UUID, **filters: Any) -> CaseAtDate:
    events = [LoggedEvent(event) for event in ledger.events.get(cid)]
    return case_at(cid, events, today=TODAY, **filters)


async def test_cached_heads_answer_as_without_the_cache_on_every_date(
    pool: asyncpg.Pool, ledger: ClusterLedger
) -> None:
    cid, _ = _case(ledger, 70)  # 74 events: a snapshot at 50
    heads = HeadCache(10_000)
    await _state(pool, ledger, cid, heads)
    assert cid in heads
    days = sorted({_effective(i) + timedelta(days=k) for i in range(70) for k in (-1, 0)})
    for day in [None, date(2023, 2, 28), *days]:
        cached = await _state(pool, ledger, cid, heads, as_of=day)
        assert _plain(cached) == _plain(await _state(pool, ledger, cid, None, as_of=day)), day
        assert _plain(cached) == _plain(
            await _state(pool, ledger, cid, heads, as_of=day, full=True)
        ), day
        assert _essentials(cached) == _essentials(_reference(ledger, cid, as_of=day)), day


async def test_events_another_writer_appends_are_seen(
    pool: asyncpg.Pool, ledger: ClusterLedger, other_writer: ClusterLedger
) -> None:
    cid, version = _case(ledger, 44)  # 48 events: no snapshot yet
    heads = HeadCache(10_000)
    before = await _state(pool, ledger, cid, heads)
    assert before.version == version == 48

    # The other writer crosses the snapshot interval: versions 49..53, a snapshot at 50.
    appended = _change(other_writer, cid, version, range(44, 49))
    assert appended == 53
    assert other_writer.snapshots is not None
    assert [s.originator_version for s in other_writer.snapshots.get(cid)] == [50]

    after = await _state(pool, ledger, cid, heads)
    assert after.version == 53
    cached = heads.get(cid)
    assert cached is not None
    assert cached.last_version == 53
    assert [ref.version for ref in cached.refs] == list(range(1, 54))
    for day in [None, _effective(46), _effective(47), _effective(48)]:
        state = await _state(pool, ledger, cid, heads, as_of=day)
        assert _plain(state) == _plain(await _state(pool, ledger, cid, None, as_of=day)), day
        assert _essentials(state) == _essentials(_reference(ledger, cid, as_of=day)), day


async def test_known_at_before_an_append_excludes_it_from_the_cached_case(
    pool: asyncpg.Pool, ledger: ClusterLedger, other_writer: ClusterLedger
) -> None:
    cid, version = _case(ledger, 3)
    heads = HeadCache(10_000)
    await _state(pool, ledger, cid, heads)
    between = (await _state(pool, ledger, cid, heads)).used[-1].recorded_at
    _change(other_writer, cid, version, range(3, 5))

    known: datetime = between
    state = await _state(pool, ledger, cid, heads, known_at=known)
    assert state.version == version
    assert [ref.version for ref in state.excluded] == [version + 1, version + 2]
    assert _plain(state) == _plain(await _state(pool, ledger, cid, None, known_at=known))


async def test_the_cache_holds_at_most_its_bound_of_heads(
    pool: asyncpg.Pool, ledger: ClusterLedger
) -> None:
    (a, _), (b, _), (c, _) = (_case(ledger, 4) for _ in range(3))  # 8 events each
    heads = HeadCache(20)
    await _state(pool, ledger, a, heads)
    await _state(pool, ledger, b, heads)
    assert heads.heads == 16
    await _state(pool, ledger, a, heads)  # a is now used more recently than b
    await _state(pool, ledger, c, heads)

    assert heads.heads == 16
    assert (a in heads, b in heads, c in heads) == (True, False, True)
    assert len(heads) == 2


async def test_a_case_longer_than_the_bound_is_answered_but_not_kept(
    pool: asyncpg.Pool, ledger: ClusterLedger
) -> None:
    short, _ = _case(ledger, 4)
    long, _ = _case(ledger, 20)  # 24 events
    heads = HeadCache(20)
    await _state(pool, ledger, short, heads)

    state = await _state(pool, ledger, long, heads, as_of=_effective(10))

    assert long not in heads
    assert short in heads
    assert heads.heads == 8
    assert _plain(state) == _plain(await _state(pool, ledger, long, None, as_of=_effective(10)))


async def test_a_cached_case_is_still_refused_outside_the_jurisdiction(
    pool: asyncpg.Pool, ledger: ClusterLedger
) -> None:
    cid, _ = _case(ledger, 2)
    regions = ledger.services.regions
    heads = HeadCache(10_000)

    def reader(jurisdiction: str) -> Callable[[str], None]:
        who = actor("city", jurisdiction)
        return lambda county: check_may_read(who, county, regions)

    await _state(pool, ledger, cid, heads, authorise=reader(QUANZHOU))
    assert cid in heads
    with pytest.raises(NotAllowed) as refused:
        await _state(pool, ledger, cid, heads, authorise=reader("350200"))  # Xiamen
    assert refused.value.code == "outside_jurisdiction"
