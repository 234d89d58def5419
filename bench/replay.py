"""Replay of one 1,000-event case: `get()` with and without snapshots, state at a date, and
whether `python -O` is worth running in production.

    python [-O] -m bench.replay URL CLUSTER_ID REPEAT   # the probe run in a child process

eventsourcing's `mutate` checks each event against a runtime protocol with `assert
isinstance(...)`; `-O` strips asserts. The probe measures the same replays in a child process
with and without `-O` so both figures come from the same data in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from bench.context import Context
from bench.stats import Figure, percentile, timed
from infra.database import parse_url

SECTION = "5. State at a date / replay (1,000-event case)"


def _ms(samples: list[float], q: float) -> float | None:
    value = percentile(samples, q)
    return value * 1000 if value is not None else None


def replay_probe(url: str, cluster_id: UUID, repeat: int) -> dict[str, Any]:
    """Latencies (ms) of full replays, snapshot gets and state-at-date folds of one case."""
    from eventsourcing.application import Repository

    from bench.generate import open_ledger

    ledger = open_ledger(parse_url(url), batching=False,
                         env={"CREATE_TABLE": "no", "POSTGRES_POOL_SIZE": "1"})
    try:
        bare = Repository(event_store=ledger.events, snapshot_store=None)
        events = len(list(ledger.events.get(cluster_id)))
        bare.get(cluster_id)  # warm caches (decoders, topics)
        full = timed(lambda: bare.get(cluster_id), repeat)
        snap = timed(lambda: ledger.repository.get(cluster_id), repeat * 4)
        stored = list(ledger.events.get(cluster_id))
        decode_only = timed(lambda: list(ledger.events.get(cluster_id)), repeat)
        result: dict[str, Any] = {
            "optimized": not __debug__, "events": events,
            "full_p50_ms": _ms(full, 50), "full_p99_ms": _ms(full, 99),
            "snapshot_p50_ms": _ms(snap, 50), "snapshot_p99_ms": _ms(snap, 99),
            "load_p50_ms": _ms(decode_only, 50),
        }
        try:
            from domain.history import LoggedEvent, case_at
        except ImportError:
            return result
        middle: Any = stored[len(stored) // 2].meta.effective_date  # type: ignore[attr-defined]
        today = datetime.now(UTC).date()

        def state_at() -> object:
            loaded = [LoggedEvent(e) for e in ledger.events.get(cluster_id)]
            return case_at(cluster_id, loaded, today=today, as_of=middle)

        at = timed(state_at, repeat)
        result |= {"as_of": middle.isoformat(), "state_at_p50_ms": _ms(at, 50),
                   "state_at_p99_ms": _ms(at, 99)}
        served = _served_state_at(url, ledger, cluster_id, middle, today, repeat)
        result |= {"served_used": served["used"], "served_p50_ms": _ms(served["samples"], 50),
                   "served_p99_ms": _ms(served["samples"], 99)}
        return result
    finally:
        ledger.close()


def _served_state_at(url: str, ledger: Any, cluster_id: UUID, as_of: Any, today: Any,
                     repeat: int) -> dict[str, Any]:
    """The API's path (`infra.case_history.case_at_date`) with the API's head cache at its
    default size: after the first look-up (not timed) only the events recorded since are
    read for the heads, then the snapshot the filters keep whole and the events folded after
    it; CPU work run inline here (the server runs it in a worker thread)."""
    import asyncio
    import time

    import asyncpg

    from infra.case_history import case_at_date
    from infra.event_heads import HeadCache
    from infra.settings import Settings

    heads = HeadCache(Settings().history_cache)

    async def inline(fn: Any, *args: Any) -> Any:
        return fn(*args)

    async def probe() -> dict[str, Any]:
        pool = await asyncpg.create_pool(**parse_url(url).asyncpg_kwargs(), min_size=1,
                                         max_size=1)
        try:
            async def once() -> Any:
                return await case_at_date(pool, inline, ledger.mapper, cluster_id,
                                          lambda _county: None, today=today, as_of=as_of,
                                          known_at=None, heads=heads)
            first = await once()
            samples = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await once()
                samples.append(time.perf_counter() - t0)
            return {"samples": samples, "used": len(first.used)}
        finally:
            await pool.close()

    return asyncio.run(probe())


def _run_probe(ctx: Context, *, optimize: bool, repeat: int) -> dict[str, Any]:
    command = [sys.executable, *(["-O"] if optimize else []), "-m", "bench.replay",
               ctx.conn.url, str(ctx.long_case_id), str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        msg = f"replay probe failed ({' '.join(command[:3])}): {done.stderr[-2000:]}"
        raise RuntimeError(msg)
    probe: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return probe


def measure_replay(ctx: Context) -> None:
    repeat = 5 if ctx.quick else 40
    # Alternated twice and the faster of each kept, so a burst of other load on the machine
    # does not decide the -O comparison.
    rounds = 1 if ctx.quick else 2
    runs = [(_run_probe(ctx, optimize=False, repeat=repeat),
             _run_probe(ctx, optimize=True, repeat=repeat)) for _ in range(rounds)]
    plain = min((r[0] for r in runs), key=lambda r: r["full_p50_ms"])
    optimized = min((r[1] for r in runs), key=lambda r: r["full_p50_ms"])
    n = plain["events"]
    ctx.add(Figure(
        key="replay_full", section=SECTION,
        label=f"get() without snapshots: replay all {n} events",
        value=plain["full_p50_ms"], unit="ms (p50)", p50_ms=plain["full_p50_ms"],
        p99_ms=plain["full_p99_ms"], count=repeat,
        note=f"{plain['full_p50_ms'] * 1000 / n:.1f} µs/event incl. loading and decoding; "
             f"loading+decoding alone {plain['load_p50_ms']:.1f} ms",
    ))
    ctx.add(Figure(
        key="replay_snapshot", section=SECTION, label="get() with snapshots (every 50 events)",
        value=plain["snapshot_p50_ms"], unit="ms (p50)", p50_ms=plain["snapshot_p50_ms"],
        p99_ms=plain["snapshot_p99_ms"], count=repeat * 4,
        note=f"{plain['full_p50_ms'] / plain['snapshot_p50_ms']:.0f}× faster than full replay",
    ))
    ctx.add(Figure(
        key="replay_full_O", section=SECTION,
        label=f"get() without snapshots under python -O ({n} events)",
        value=optimized["full_p50_ms"], unit="ms (p50)", p50_ms=optimized["full_p50_ms"],
        p99_ms=optimized["full_p99_ms"], count=repeat,
        ratio=plain["full_p50_ms"] / optimized["full_p50_ms"],
        note="ratio = speed-up over the same replay without -O",
    ))
    if "state_at_p50_ms" in plain:
        ctx.add(Figure(
            key="state_at_inprocess", section=SECTION,
            label=f"state at a date, full fold in process (load and decode all {n} events + "
                  f"domain.history.case_at, as_of {plain['as_of']}; `full=true` on the API)",
            value=plain["state_at_p50_ms"], unit="ms (p50)", p50_ms=plain["state_at_p50_ms"],
            p99_ms=plain["state_at_p99_ms"], count=repeat,
        ))
        ctx.add(Figure(
            key="state_at_served", section=SECTION,
            label=f"state at a date as served (infra.case_history with the API's head cache: "
                  f"the heads of {n} events kept, the state from the latest usable snapshot, "
                  f"as_of {plain['as_of']}, {plain['served_used']} events used)",
            value=plain["served_p50_ms"], unit="ms (p50)", p50_ms=plain["served_p50_ms"],
            p99_ms=plain["served_p99_ms"], count=repeat, target="p99 ≤ 20 ms",
            met=plain["served_p99_ms"] <= 20,
        ))
        ctx.add(Figure(
            key="state_at_inprocess_O", section=SECTION,
            label="state at a date, in process, under python -O",
            value=optimized["state_at_p50_ms"], unit="ms (p50)",
            p50_ms=optimized["state_at_p50_ms"], p99_ms=optimized["state_at_p99_ms"],
            count=repeat, ratio=plain["state_at_p50_ms"] / optimized["state_at_p50_ms"],
            note="ratio = speed-up over the same fold without -O",
        ))
    else:
        ctx.unavailable("state_at_inprocess", SECTION, "state at a date, in process",
                        "domain.history (state at a date) is not in the tree")


def main(argv: list[str]) -> int:
    url, cluster_id, repeat = argv[0], UUID(argv[1]), int(argv[2])
    print(json.dumps(replay_probe(url, cluster_id, repeat), default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
