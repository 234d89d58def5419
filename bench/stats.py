"""Figures, percentiles and bounded load loops (threads and asyncio) for the benchmarks.

A load loop runs one operation repeatedly from `concurrency` workers until a deadline or a count
is reached, whichever comes first, and records each operation's latency. Nothing here asserts
a timing: figures are measured, reported and compared, never tested.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from bench.rounds import Target, Verdict


class NotAvailable(Exception):
    """The feature a measurement needs is not in the tree (yet); the report says why.

    `key`, `section` and `label` name the report's slot for it (default: the measurement's
    name under "Not available yet")."""

    def __init__(self, reason: str, *, key: str | None = None, section: str | None = None,
                 label: str | None = None) -> None:
        super().__init__(reason)
        self.key, self.section, self.label = key, section, label


class Figure(msgspec.Struct, kw_only=True, omit_defaults=True):
    key: str
    section: str
    label: str
    value: float | None = None
    unit: str = ""
    p50_ms: float | None = None
    p99_ms: float | None = None
    count: int | None = None
    seconds: float | None = None
    ceiling: str | None = None  # key of the figure this one is compared with
    ratio: float | None = None  # value / ceiling value
    target: str | None = None
    met: bool | None = None
    available: bool = True
    note: str = ""
    # Measured in rounds (`bench.rounds`): value, p50 and p99 above are the medians of the
    # rounds, `ratio` the median of the per-round ratios to the ceiling's same round.
    rounds: list[float] | None = None  # the value in each round
    low: float | None = None  # lowest and highest round
    high: float | None = None
    p99_low: float | None = None
    p99_high: float | None = None
    ratio_rounds: list[float] | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    targets: list[Target] = msgspec.field(default_factory=list)  # judged after the rounds
    verdicts: list[Verdict] = msgspec.field(default_factory=list)
    straddles: bool | None = None


class Rate(msgspec.Struct, kw_only=True):
    count: int
    seconds: float
    errors: int
    p50_ms: float | None
    p99_ms: float | None

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def percentile(samples: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `samples`; None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rate_of(latencies: list[float], seconds: float, errors: int = 0) -> Rate:
    """A Rate from per-operation latencies in seconds."""
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return Rate(
        count=len(latencies), seconds=seconds, errors=errors,
        p50_ms=p50 * 1000 if p50 is not None else None,
        p99_ms=p99 * 1000 if p99 is not None else None,
    )


def run_threads(
    make_op: Callable[[int], Callable[[], object]], threads: int, *, seconds: float,
    max_ops: int = 1_000_000,
) -> Rate:
    """Run `make_op(worker)()` repeatedly in `threads` threads for `seconds` (or `max_ops`).

    An operation that raises counts as an error; the first error is re-raised at the end so a
    broken measurement cannot pass for a slow one.
    """
    ops = [make_op(i) for i in range(threads)]
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    budget = [max_ops]
    start_gate = threading.Barrier(threads + 1)

    def worker(op: Callable[[], object]) -> None:
        own: list[float] = []
        start_gate.wait()
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            t0 = time.perf_counter()
            try:
                op()
            except Exception as exc:  # noqa: BLE001 - recorded and re-raised below
                with lock:
                    errors.append(exc)
                break
            own.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(own)

    workers = [threading.Thread(target=worker, args=(op,), daemon=True) for op in ops]
    for t in workers:
        t.start()
    started = time.perf_counter()
    deadline = started + seconds  # read by the workers only after the gate opens
    start_gate.wait()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return rate_of(latencies, elapsed)


async def run_async(
    make_op: Callable[[int], Callable[[], Awaitable[object]]], concurrency: int, *,
    seconds: float, max_ops: int = 1_000_000,
) -> Rate:
    """The asyncio counterpart of `run_threads`: `concurrency` tasks on one event loop."""
    latencies: list[float] = []
    budget = [max_ops]
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(op: Callable[[], Awaitable[object]]) -> None:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            t0 = time.perf_counter()
            await op()
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker(make_op(i)) for i in range(concurrency)))
    return rate_of(latencies, time.perf_counter() - started)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Latencies in seconds of `repeat` sequential calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out
