"""Ceilings measured in the same run: what the database, the library and the log scan can do at
most on this machine, for the main paths to be compared with.

- a plain asyncpg INSERT + COMMIT of a row the size of a stored command event, 1 and 16
  connections;
- a bare eventsourcing application (stock recorder, no hash chain): save, and get + command +
  save, 1 and 4 threads;
- the ledger's own verbs without HTTP (hash chain included): a new case (save) and a major
  change on an existing case (get + command + save), 1 and 4 threads;
- the notification log: raw scan, scan + msgspec decoding, and decoding with eventsourcing's
  default JSON transcoder.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from eventsourcing.application import Repository
from eventsourcing.persistence import JSONTranscoder, StoredEvent

from bench.bare import open_bare
from bench.codec_bench import default_mapper
from bench.context import Context
from bench.lifecycles import indicators
from bench.stats import Figure, run_async, run_threads
from domain.actors import Actor, EventMeta, Role
from domain.commands import Command
from domain.facts import ChangeKind, Dossier, PlanTarget
from domain.rulebook import Programme
from infra.codec import MsgspecMapper

SECTION_DB = "Ceilings: database"
SECTION_ES = "Ceilings: eventsourcing"
SECTION_SCAN = "Ceilings: notification log"
MAJOR_CHANGE_TOPIC = "domain.cluster:Cluster.MajorChangeReported"


def sample_command_event(ctx: Context) -> StoredEvent:
    """A stored MajorChangeReported: the event the command benchmarks write."""
    page = ctx.ledger().recorder.select_notifications(
        start=1, limit=1, topics=[MAJOR_CHANGE_TOPIC]
    )
    if not page:
        msg = "the data set holds no MajorChangeReported event"
        raise RuntimeError(msg)
    n = page[0]
    return StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version,
                       topic=n.topic, state=n.state)


# ---- 1. asyncpg INSERT + COMMIT ------------------------------------------------------------


async def _insert_rates(ctx: Context, state: bytes, topic: str) -> dict[int, Any]:
    kwargs = ctx.conn.asyncpg_kwargs()
    setup = await asyncpg.connect(**kwargs)
    try:
        await setup.execute(
            "CREATE TABLE IF NOT EXISTS bench_ceiling_rows (id bigserial PRIMARY KEY, "
            "originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, "
            "state bytea)"
        )
    finally:
        await setup.close()
    results: dict[int, Any] = {}
    for concurrency in (1, 16):
        pool = await asyncpg.create_pool(**kwargs, min_size=concurrency, max_size=concurrency)
        try:
            connections = [await pool.acquire() for _ in range(concurrency)]

            def make_op(i: int, conns: list[Any] = connections) -> Any:
                conn = conns[i]
                version = itertools.count()

                async def op() -> None:
                    await conn.execute(
                        "INSERT INTO bench_ceiling_rows "
                        "(originator_id, originator_version, topic, state) VALUES ($1,$2,$3,$4)",
                        uuid4(), next(version), topic, state,
                    )

                return op

            results[concurrency] = await run_async(make_op, concurrency,
                                                   seconds=ctx.load_seconds)
            for conn in connections:
                await pool.release(conn)
        finally:
            await pool.close()
    return results


def measure_insert_ceiling(ctx: Context) -> None:
    sample = sample_command_event(ctx)
    rates = asyncio.run(_insert_rates(ctx, sample.state, sample.topic))
    for concurrency, rate in rates.items():
        ctx.add(Figure(
            key=f"asyncpg_insert_{concurrency}", section=SECTION_DB,
            label=f"asyncpg INSERT+COMMIT, {concurrency} connection{'s' if concurrency > 1 else ''}"
                  f" ({len(sample.state)} B row)",
            value=rate.per_s, unit="txn/s", p50_ms=rate.p50_ms, p99_ms=rate.p99_ms,
            count=rate.count, seconds=rate.seconds,
        ))


# ---- 2. eventsourcing save, get + command + save -------------------------------------------


def measure_eventsourcing_ceiling(ctx: Context) -> None:
    """Saves of new aggregates, bare and through the ledger: measured once."""
    sample = sample_command_event(ctx)
    payload = "x" * len(sample.state)
    bare = open_bare(ctx.conn.eventsourcing_env())
    try:
        for threads in (1, 4):
            rate = run_threads(lambda _i: lambda: bare.write(payload), threads,
                               seconds=ctx.load_seconds)
            ctx.add(Figure(
                key=f"es_bare_save_{threads}", section=SECTION_ES,
                label=f"bare eventsourcing save (new aggregate), {threads} thread(s)",
                value=rate.per_s, unit="saves/s", p50_ms=rate.p50_ms, p99_ms=rate.p99_ms,
                count=rate.count, seconds=rate.seconds, ceiling="asyncpg_insert_1",
            ))
    finally:
        bare.close()
    measure_ledger_saves(ctx)


def measure_command_ceilings(ctx: Context) -> None:
    """get + command + save without HTTP, bare eventsourcing (the ceiling the HTTP commands are
    judged against) and the ledger's own verb: one round of each, in the rounds of the HTTP
    measurements (`bench.rounds`)."""
    sample = sample_command_event(ctx)
    payload = "x" * len(sample.state)
    bare = open_bare(ctx.conn.eventsourcing_env())
    try:
        for threads in (1, 4):
            # Each thread cycles over its own small aggregates, so that replay length stays
            # short (a single aggregate would grow by hundreds of events during the run).
            per_thread = 20 if ctx.quick else 200
            notes = [[bare.write(payload) for _ in range(per_thread)] for _ in range(threads)]

            def change(i: int, notes: list[list[UUID]] = notes) -> Callable[[], None]:
                cycle = itertools.cycle(notes[i])
                return lambda: bare.change(next(cycle), payload)

            rate = run_threads(change, threads, seconds=ctx.load_seconds)
            ctx.add(Figure(
                key=f"es_bare_cmd_{threads}", section=SECTION_ES,
                label=f"bare eventsourcing get + command + save, {threads} thread(s), "
                      "small aggregates (no snapshots)",
                value=rate.per_s, unit="cmd/s", p50_ms=rate.p50_ms, p99_ms=rate.p99_ms,
                count=rate.count, seconds=rate.seconds, ceiling=f"es_bare_save_{threads}",
            ))
    finally:
        bare.close()
    measure_ledger_commands(ctx)


def _dossier(i: int) -> Dossier:
    return Dossier(
        name=f"基准测试产业集群（{i}）", programme=Programme.FJ, county_code="350582",
        leading_industry="运动鞋原辅材料", indicators=indicators(6_000_000_000),
        plan_targets=(PlanTarget(indicator="total_output_100m_yuan", baseline=Decimal(60),
                                 target=Decimal(78), by_year=2029),),
        negative_list_clear=True,
    )


def major_change_meta(county: str, on: date, i: int) -> EventMeta:
    return EventMeta(
        actor=Actor(user_id=f"bench-county-{county}", role=Role.COUNTY,
                    organisation=f"{county} county", jurisdiction=county),
        effective_date=on, comment=f"园区扩区 {i}",
    )


def measure_ledger_saves(ctx: Context) -> None:
    ledger = ctx.ledger()
    counter = itertools.count()
    meta = EventMeta(
        actor=Actor(user_id="bench-county", role=Role.COUNTY, organisation="晋江市工业和信息化局",
                    jurisdiction="350582"),
        effective_date=date(2026, 3, 2),
    )
    for threads in (1, 4):
        rate = run_threads(
            lambda _i: (
                lambda: ledger.issue(
                    Command.APPLY, None, meta, None, dossier=_dossier(next(counter))
                )
            ),
            threads,
            seconds=ctx.load_seconds,
        )
        ctx.add(Figure(
            key=f"ledger_save_{threads}", section=SECTION_ES,
            label=f"ClusterLedger new case (Applied, hash chain), {threads} thread(s)",
            value=rate.per_s, unit="cmd/s", p50_ms=rate.p50_ms, p99_ms=rate.p99_ms,
            count=rate.count, seconds=rate.seconds, ceiling=f"es_bare_save_{threads}",
        ))


def measure_ledger_commands(ctx: Context) -> None:
    ledger = ctx.ledger()
    for threads in (1, 4):
        clusters = ctx.certified_clusters(threads)

        def make_op(i: int, clusters: list[UUID] = clusters) -> Any:
            cid = clusters[i]
            county = ledger.get_cluster(cid).case.dossier.county_code
            version = [ledger.get_cluster(cid).version]
            n = itertools.count()

            def op() -> None:
                k = next(n)
                result = ledger.issue(
                    Command.REPORT_MAJOR_CHANGE,
                    cid,
                    major_change_meta(county, ctx.command_date, k),
                    version[0],
                    kind=ChangeKind.SPATIAL_SCOPE,
                    new_value=f"规划范围调整 {k}",
                )
                version[0] = result.version

            return op

        rate = run_threads(make_op, threads, seconds=ctx.load_seconds)
        ctx.add(Figure(
            key=f"ledger_cmd_{threads}", section=SECTION_ES,
            label=f"ClusterLedger get + command + save (major change, case cache as served), "
                  f"{threads} thread(s)",
            value=rate.per_s, unit="cmd/s", p50_ms=rate.p50_ms, p99_ms=rate.p99_ms,
            count=rate.count, seconds=rate.seconds, ceiling=f"es_bare_cmd_{threads}",
        ))


# ---- 3. notification log scan ----------------------------------------------------------------


def scan_limit(ctx: Context) -> int:
    """How much of the log the scans read: all of it (a quick run reads what there is)."""
    return ctx.generation.events * 2 + 100_000


def measure_scan_ceiling(ctx: Context) -> None:
    recorder = ctx.ledger().recorder
    mapper = MsgspecMapper(transcoder=JSONTranscoder())
    page_size = 1000

    # One pass over the whole log, timing the page reads and the decoding separately: the
    # read+decode rate is what a single-threaded consumer of the log (a rebuild) can reach.
    position, count, raw_seconds, decode_seconds = 1, 0, 0.0, 0.0
    sample: list[Any] = []
    while True:
        t0 = time.perf_counter()
        page = recorder.select_notifications(start=position, limit=page_size)
        t1 = time.perf_counter()
        for n in page:
            mapper.to_domain_event(n)
        decode_seconds += time.perf_counter() - t1
        raw_seconds += t1 - t0
        if not page:
            break
        if len(sample) < 50_000:
            sample.extend(page[: 50_000 - len(sample)])
        count += len(page)
        position = page[-1].id + 1
    ctx.add(Figure(key="scan_raw", section=SECTION_SCAN,
                   label=f"notification log scan, raw rows (pages of {page_size})",
                   value=count / raw_seconds, unit="rows/s", count=count, seconds=raw_seconds))
    decoded_seconds = raw_seconds + decode_seconds
    ctx.add(Figure(key="scan_msgspec", section=SECTION_SCAN,
                   label="notification log scan + msgspec decoding (the ledger's mapper)",
                   value=count / decoded_seconds, unit="events/s", count=count,
                   seconds=decoded_seconds, ceiling="scan_raw"))

    # The default transcoder cannot read msgspec-stored state, so a sample of the log is
    # re-encoded with it first (untimed); its decode rate is added to the raw scan time.
    default = default_mapper()
    events = [mapper.to_domain_event(n) for n in sample]
    stored = [default.to_stored_event(e) for e in events]
    started = time.perf_counter()
    for s in stored:
        default.to_domain_event(s)
    per_event_default = (time.perf_counter() - started) / max(1, len(stored))
    started = time.perf_counter()
    for n in sample:
        mapper.to_domain_event(n)
    per_event_msgspec = (time.perf_counter() - started) / max(1, len(sample))
    per_row_raw = raw_seconds / max(1, count)
    ctx.add(Figure(
        key="scan_default_json", section=SECTION_SCAN,
        label="notification log scan + default JSON transcoder decoding (raw scan time + "
              f"decode time of a {len(sample):,}-event sample)",
        value=1 / (per_row_raw + per_event_default), unit="events/s", ceiling="scan_raw",
        note=f"decode only: default JSON {1 / per_event_default:,.0f}/s, msgspec "
             f"{1 / per_event_msgspec:,.0f}/s",
    ))


def snapshotless_repository(ctx: Context) -> Repository[Any]:
    """The ledger's event store without its snapshot store: every get replays every event."""
    return Repository(event_store=ctx.ledger().events, snapshot_store=None)

