"""Build a synthetic national-scale history through the real commands.

    python -m bench.generate --scale 1000            # into DATABASE_URL (or the embedded server)
    python -m bench.generate --scale 1000 --force    # add to a store that already holds events

Every event is produced by a `ClusterLedger` verb (authorisation, version check, rulebook,
calendar, aggregate rules), exactly as the API produces it. What differs is only how often it
commits: with `batch > 0` a worker keeps the commands' aggregates in memory and writes the whole
history of `batch` clusters in one `save()` — one transaction, with the audit hash chain and
snapshots as usual — instead of one transaction per command. That is what makes a million events
possible in minutes: one transaction per command is bounded by the store's serialised writers
(a few hundred commits a second on 2 cores, see the ceilings), which is measured separately.
`batch=0` commits per command, as the API does.

Workers are separate processes (the work is CPU-bound Python; the table lock serialises only the
inserts). Each case's history depends only on (seed, index), not on the worker that plays it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application

from bench.lifecycles import play_case, play_long_case
from domain.cluster import Cluster
from infra.application import ClusterLedger, Services
from infra.calendar_store import CalendarStore
from infra.database import ConnectionInfo, parse_url
from infra.rules import load_programmes, load_regions, load_rulebook

DEFAULT_HORIZON = 2066  # ~40 years of history: ~100 events per cluster on average
CHUNK = 25  # cases handed to a worker at a time


class GenerationResult(msgspec.Struct, kw_only=True):
    clusters: int
    events: int  # cluster events written (voucher index aggregates not counted)
    seconds: float
    workers: int
    batch: int
    horizon_year: int
    long_case_id: str | None = None
    long_case_events: int = 0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class BatchingLedger(ClusterLedger):
    """A `ClusterLedger` whose `save()` holds aggregates in memory until `flush()`.

    The verbs run unchanged: `get_cluster` returns the held aggregate (with its pending events
    and current version), and `flush()` saves all held aggregates in one transaction through
    the real recorder (events, hash chain, then snapshots at the usual interval).
    """

    name = ClusterLedger.name  # the same tables as the application's

    def __init__(self, env: dict[str, str], services: Services, snapshot_interval: int = 50):
        super().__init__(env, services, snapshot_interval=snapshot_interval)
        self._held: dict[UUID, Any] = {}

    def get_cluster(self, cluster_id: UUID) -> Cluster:
        held = self._held.get(cluster_id)
        if held is not None:
            return held  # type: ignore[no-any-return]
        return super().get_cluster(cluster_id)

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        if kwargs:
            return Application.save(self, *objs, **kwargs)
        for obj in objs:
            if obj is not None:
                self._held[obj.id] = obj
        return []

    def flush(self) -> None:
        held, self._held = list(self._held.values()), {}
        if held:
            Application.save(self, *held)


def open_ledger(conn: ConnectionInfo, *, batching: bool, snapshot_interval: int = 50,
                env: dict[str, str] | None = None, cache_size: int = 0) -> ClusterLedger:
    """A ledger on `conn` with the shipped rulebook, regions and calendar."""
    calendar = CalendarStore(conn.url)
    services = Services(rulebook=load_rulebook(), regions=load_regions(),
        programmes=load_programmes(), calendar=calendar.current)
    full_env = {**conn.eventsourcing_env(), **(env or {})}
    if batching:
        return BatchingLedger(full_env, services, snapshot_interval=snapshot_interval)
    return ClusterLedger(full_env, services, snapshot_interval=snapshot_interval,
                         cache_size=cache_size)


# One ledger per worker process, reused for every range it plays (few connections).
_WORKER_LEDGERS: dict[tuple[str, bool], ClusterLedger] = {}
# A single-threaded worker needs one connection (the server may be shared and has a limit).
_WORKER_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "1"}


def _worker_ledger(url: str, batching: bool) -> ClusterLedger:
    ledger = _WORKER_LEDGERS.get((url, batching))
    if ledger is None:
        # The parent created the tables: concurrent CREATE OR REPLACE FUNCTION would race.
        ledger = open_ledger(parse_url(url), batching=batching,
                             env={"CREATE_TABLE": "no", **_WORKER_POOL})
        _WORKER_LEDGERS[(url, batching)] = ledger
    return ledger


def _close_worker_ledgers() -> None:
    while _WORKER_LEDGERS:
        _WORKER_LEDGERS.popitem()[1].close()


def _play_range(url: str, start: int, stop: int, seed: int, horizon_year: int,
                batch: int) -> tuple[int, int]:
    """Worker: play cases [start, stop); return (cases, events)."""
    ledger = _worker_ledger(url, batch > 0)
    regions = ledger.services.regions
    events = 0
    for index in range(start, stop):
        events += play_case(ledger, regions, seed, index, horizon_year).events
        flush_now = batch > 0 and (index - start + 1) % batch == 0
        if flush_now and isinstance(ledger, BatchingLedger):
            ledger.flush()
    if isinstance(ledger, BatchingLedger):
        ledger.flush()
    return stop - start, events


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(total, start + size)


def generate(
    conn: ConnectionInfo, *, clusters: int, seed: int = 1, horizon_year: int = DEFAULT_HORIZON,
    workers: int = 2, batch: int = 5, long_case_events: int = 1000,
    report: Callable[[str], None] | None = None,
) -> GenerationResult:
    """Play `clusters` cases (plus, with `long_case_events`, one long XM case) into `conn`.

    The schema must exist (`infra.migrations.migrate` and the ledger's own tables).
    """
    say = report or (lambda _: None)
    started = time.perf_counter()
    done = events = 0
    long_id, long_events = None, 0
    if long_case_events:
        ledger = open_ledger(conn, batching=batch > 0, env=_WORKER_POOL)
        try:
            driver = play_long_case(ledger, ledger.services.regions, long_case_events, horizon_year)
            if isinstance(ledger, BatchingLedger):
                ledger.flush()
            long_id, long_events = str(driver.cluster_id), driver.events
            events += driver.events
        finally:
            ledger.close()
    chunks = list(_chunks(clusters, CHUNK))
    if workers <= 1:
        try:
            for start, stop in chunks:
                n, e = _play_range(conn.url, start, stop, seed, horizon_year, batch)
                done, events = done + n, events + e
                say(_progress(done, clusters, events, started))
        finally:
            _close_worker_ledgers()
    else:
        context = multiprocessing.get_context("spawn")
        with _optimized_children(), ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(_play_range, conn.url, start, stop, seed, horizon_year, batch)
                for start, stop in chunks
            ]
            for future in as_completed(futures):
                n, e = future.result()
                done, events = done + n, events + e
                say(_progress(done, clusters, events, started))
    return GenerationResult(
        clusters=clusters + (1 if long_case_events else 0), events=events,
        seconds=time.perf_counter() - started, workers=workers, batch=batch,
        horizon_year=horizon_year, long_case_id=long_id, long_case_events=long_events,
    )


@contextmanager
def _optimized_children() -> Iterator[None]:
    """Spawned workers run under python -O (inherited through the environment): eventsourcing's
    per-event runtime-protocol asserts cost a third of their CPU. The events are the same."""
    saved = os.environ.get("PYTHONOPTIMIZE")
    os.environ["PYTHONOPTIMIZE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONOPTIMIZE", None)
        else:
            os.environ["PYTHONOPTIMIZE"] = saved


def _progress(done: int, total: int, events: int, started: float) -> str:
    elapsed = time.perf_counter() - started
    return (f"generate: {done:,}/{total:,} clusters, {events:,} events, "
            f"{events / elapsed:,.0f} events/s, {elapsed:,.0f} s")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, required=True, help="number of clusters")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                        help="last year of synthetic history (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--batch", type=int, default=5,
                        help="clusters per transaction; 0 commits every command (as the API)")
    parser.add_argument("--long-case-events", type=int, default=1000,
                        help="also build one XM case with this many events (0: none)")
    parser.add_argument("--force", action="store_true",
                        help="add to a store that already holds events")


def run_from_args(args: argparse.Namespace, conn: ConnectionInfo) -> GenerationResult:
    from infra.migrations import migrate

    migrate(conn.url)
    open_ledger(conn, batching=False).close()  # creates eventsourcing's tables
    stream = sys.stderr
    result = generate(
        conn, clusters=args.scale, seed=args.seed, horizon_year=args.horizon,
        workers=args.workers, batch=args.batch, long_case_events=args.long_case_events,
        report=lambda line: print(line, file=stream, flush=True),
    )
    print(f"generated {result.clusters:,} clusters, {result.events:,} events in "
          f"{result.seconds:,.1f} s ({result.events_per_s:,.0f} events/s); "
          f"long case {result.long_case_id} with {result.long_case_events} events")
    return result


def main(argv: list[str] | None = None) -> int:
    from infra.database import database
    from infra.settings import Settings

    args = build_parser().parse_args(argv)
    with database(Settings.from_env()) as conn:
        if not args.force and (head := _head(conn)):
            print(f"bench.generate: the store already holds {head} events; use --force to add "
                  "to it", file=sys.stderr)
            return 1
        run_from_args(args, conn)
    return 0


def _head(conn: ConnectionInfo) -> int:
    """The store's last notification id (0 when empty or not created yet)."""
    from infra.migrations import migrate

    migrate(conn.url)
    ledger = open_ledger(conn, batching=False)  # creates eventsourcing's tables
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


if __name__ == "__main__":
    raise SystemExit(main())
