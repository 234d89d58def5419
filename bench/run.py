"""`make bench`: build the data set, measure every main path beside its ceiling, write the report.

    python -m bench.run                 # full run (bench/results/latest.json + latest.md)
    python -m bench.run --quick         # smoke run for CI: tiny data set, every measurement once
    python -m bench.run --scale 2000    # another scale

Each measurement is one function. One whose feature is not in the tree yet is reported as
"not available: <reason>", never estimated. One that fails is reported with its error and makes
the run exit 1, so a broken harness cannot pass for a slow system.

The HTTP measurements and the ceilings they are judged against (`ROUND_MEASUREMENTS`) run in
three interleaved rounds (`bench.rounds`): each figure is the median of its rounds with their
spread, each target a ratio to a ceiling of the same round (or a latency bound).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench import features, http_runs
from bench.benchdb import bench_database
from bench.board_download import measure_board_download
from bench.ceilings import (
    measure_command_ceilings,
    measure_eventsourcing_ceiling,
    measure_insert_ceiling,
    measure_scan_ceiling,
)
from bench.context import Context
from bench.generate import DEFAULT_HORIZON, generate, open_ledger
from bench.replay import measure_replay
from bench.report import machine, new_report, write
from bench.rounds import ROUNDS, interleave
from bench.stats import Figure, NotAvailable
from infra.migrations import migrate
from infra.settings import PROJECT_ROOT

DEFAULT_SCALE = 10_000
QUICK_SCALE = 40
RESULTS = PROJECT_ROOT / "bench" / "results"
QUICK_RESULTS = PROJECT_ROOT / "var" / "bench"

Measurement = Callable[[Context], None]


def measure_codec(ctx: Context) -> None:
    from bench.codec_bench import main as codec_main

    result = codec_main(5_000 if ctx.quick else 20_000)
    section = "Codec (one Applied event, in memory)"
    for name in ("encode", "decode"):
        ctx.add(Figure(key=f"codec_default_{name}", section=section,
                       label=f"default JSON transcoder {name}",
                       value=result[f"default_json_{name}_per_s"], unit="events/s"))
        ctx.add(Figure(key=f"codec_msgspec_{name}", section=section,
                       label=f"msgspec mapper {name}", value=result[f"msgspec_{name}_per_s"],
                       unit="events/s", ceiling=f"codec_default_{name}"))


# Measured once, in order: ceilings first, then the features that are compared with them; the
# projection rebuild, the export's and verify's memory and the board download run before the
# server starts (the server's projector then only follows).
MEASUREMENTS: tuple[tuple[str, Measurement], ...] = (
    ("codec", measure_codec),
    ("insert ceiling", measure_insert_ceiling),
    ("eventsourcing ceiling", measure_eventsourcing_ceiling),
    ("notification log scan", measure_scan_ceiling),
    ("replay and python -O", measure_replay),
    ("projection rebuild", features.measure_projection_rebuild),
    ("export + verify memory", features.measure_audit_memory),
    ("board download", measure_board_download),
)

# Measured in ROUNDS interleaved rounds, in this order within a round: export and verify of the
# whole log (judged on their own rates, with no server running: the last one of a round stops
# it), the command ceilings without HTTP, the HTTP stack's ceiling,
# then the HTTP measurements, grouped by the server's mode (in-process projector, own
# projector, python -O) so that a round restarts the server twice.
ROUND_MEASUREMENTS: tuple[tuple[str, Measurement], ...] = (
    ("export + verify", features.measure_export_verify),
    ("command ceilings", measure_command_ceilings),
    ("HTTP stack ceiling", http_runs.measure_http_ceiling),
    ("HTTP commands", http_runs.measure_http_commands),
    ("HTTP reads", http_runs.measure_http_reads),
    ("board page", http_runs.measure_board_page),
    ("as-of board page", http_runs.measure_as_of_board),
    ("HTTP commands, own projector", http_runs.measure_commands_own_projector),
    ("HTTP under python -O", http_runs.measure_http_optimized),
)


def decisions(figures: dict[str, Figure]) -> list[str]:
    """The production decision on python -O, from this run's figures."""
    plain, optimized = figures.get("replay_full"), figures.get("replay_full_O")
    if not (plain and optimized and plain.value and optimized.value):
        return []
    speedup = plain.value / optimized.value
    at, at_o = figures.get("state_at_inprocess"), figures.get("state_at_inprocess_O")
    parts = [f"full replay of the long case (get() without snapshots) {speedup:.2f}× faster"]
    if at and at_o and at.value and at_o.value:
        parts.append(f"state at a date in process {at.value / at_o.value:.2f}×")
    http = {
        what: fig.ratio
        for what, key in (("HTTP commands, 16 clients", "http_cmd_16_O"),
                          ("HTTP state at a date, 1 client", "http_state_at_1_O"))
        if (fig := figures.get(key)) is not None and fig.ratio is not None
    }
    parts += [f"{what} {ratio:.2f}×" for what, ratio in http.items()]
    measured = "python -O: " + "; ".join(parts) + "."
    snapshot = figures.get("replay_snapshot")
    snap = (f" Snapshots already make get() {plain.value / snapshot.value:.0f}× faster than a "
            "full replay" if snapshot and snapshot.value else "")
    if http and all(r >= 1.15 for r in http.values()):
        verdict = (" Decision: run production with PYTHONOPTIMIZE=1 (python -O); the project's own "
                   "asserts are type-narrowing invariants only, no rule is an assert.")
    elif http:
        verdict = (" Decision: production runs without -O. The gain is in eventsourcing's "
                   "per-event protocol assert, which only full replays pay; the served paths "
                   "do not: commands load from snapshots (at most 49 events replayed) and state "
                   "at a date folds with its own appliers; end to end no consistent gain was "
                   f"measured (ratios above).{snap}; keep them on.")
    else:
        verdict = (" Decision pending: the server was not measured under -O in this run "
                   "(its features were not available).")
    return [measured + verdict]


def notes(ctx: Context) -> list[str]:
    out = []
    load = ctx.extras.get("loadavg")
    if load:
        out.append(
            f"Load average (1 min) at the start of the measurements {load[0]:.2f}, at the end "
            f"{os.getloadavg()[0]:.2f}: other processes on the machine share its 2 cores and "
            "lower every figure; compare ratios rather than absolutes across runs."
        )
    if "server_stack" in ctx.extras:
        out.append(f"HTTP figures: `cluster-ledger serve` in its own process ("
                   f"{ctx.extras['server_stack']}, in-process projector and checkpointer "
                   "on), loaded over 127.0.0.1 by a client process on the same 2 cores.")
    if "clients" in ctx.extras:
        out.append("HTTP load clients used: " + ", ".join(sorted(ctx.extras["clients"])) + ".")
    if "server_rss_mb" in ctx.extras:
        rss = ctx.extras["server_rss_mb"]
        out.append(f"Server peak RSS after the command runs: {rss:,.0f} MB.")
    out.append(f"Each load run: {ctx.load_seconds:g} s after a warm-up, bounded in count too.")
    rounds = max((len(f.rounds or []) for f in ctx.figures.values()), default=0)
    if rounds:
        out.append(
            f"Rounds: the HTTP measurements, the command ceilings without HTTP, and export and "
            f"verify of the whole log ran in {rounds} "
            "interleaved rounds (round 1 of every one, then round 2, ...). A figure measured in "
            "rounds is the median of its rounds, with the lowest and highest in brackets; its "
            "ratio is the median of the per-round ratios to the ceiling measured in the same "
            "round. Targets are judged on those ratios (or, for latency bounds, on each round's "
            "p99), never on an absolute rate, except export and verify: the project owner set "
            "them at ≥ 100,000 events/s each, judged on each round's rate (read+decode beside "
            "them for orientation); \"straddles\" marks a target whose rounds fall on both "
            "sides of it. Other figures are one run each.")
    if "vacuumed_views" in ctx.extras:
        out.append(ctx.extras["vacuumed_views"])
    out.extend(
        "The server closed a keep-alive connection before answering; the load generator "
        f"reconnected and sent the request again: {line}."
        for line in ctx.extras.get("reconnects", [])
    )
    return out


def _measure(ctx: Context, name: str, measurement: Measurement, failures: list[str], *,
             round_: int | None = None) -> bool:
    """Run one measurement (one round of it); False when its feature is not in the tree."""
    t0 = time.perf_counter()
    print(f"== {name}" + (f" (round {round_})" if round_ else ""), flush=True)
    available = True
    try:
        measurement(ctx)
    except NotAvailable as exc:
        ctx.round = None  # the slot is reported once, not as a round
        ctx.unavailable(exc.key or name.replace(" ", "_"), exc.section or "Not available yet",
                        exc.label or name, str(exc))
        print(f"   not available: {exc}")
        available = False
    except Exception as exc:  # noqa: BLE001 - reported, and the run exits 1
        traceback.print_exc()
        where = f" (round {round_})" if round_ else ""
        failures.append(f"{name}{where}: {type(exc).__name__}: {exc}")
        if round_:
            features.stop_server(ctx)  # the next one starts afresh
    print(f"   {time.perf_counter() - t0:,.1f} s", flush=True)
    return available


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    scale = QUICK_SCALE if args.quick and args.scale is None else (args.scale or DEFAULT_SCALE)
    failures: list[str] = []
    with bench_database(keep=args.keep_db) as db:
        print(f"bench database: {db.conn.dbname} on {db.server} ({db.server_version})")
        migrate(db.conn.url)
        open_ledger(db.conn, batching=False).close()  # eventsourcing's tables
        generation = generate(
            db.conn, clusters=scale, horizon_year=args.horizon, workers=args.workers,
            long_case_events=1000, report=lambda line: print(line, flush=True),
        )
        print(f"generated {generation.events:,} events in {generation.seconds:,.1f} s")
        # Planner statistics as autovacuum would leave them on a live database: without them
        # PostgreSQL may sort the rest of the log for every page a scan reads, which would
        # understate the scan ceilings the rebuild is compared with.
        with psycopg.connect(db.conn.url, autocommit=True) as pg:
            pg.execute("ANALYZE")
        ctx = Context(db, generation, quick=args.quick)
        ctx.extras["loadavg"] = os.getloadavg()
        ctx.extras["client"] = args.client
        ctx.add(Figure(
            key="generate", section="Data at scale",
            label=f"generation through the real commands, {generation.workers} worker "
                  f"processes, {generation.batch} clusters per transaction",
            value=generation.events_per_s, unit="events/s", count=generation.events,
            seconds=generation.seconds,
        ))
        try:
            for name, measurement in MEASUREMENTS:
                if not args.only or name in args.only:
                    _measure(ctx, name, measurement, failures)
            unavailable: set[str] = set()
            wanted = [(n, m) for n, m in ROUND_MEASUREMENTS if not args.only or n in args.only]
            by_name = dict(wanted)
            for round_, name in interleave([n for n, _ in wanted], args.rounds):
                if name in unavailable:
                    continue
                ctx.round = round_
                if not _measure(ctx, name, by_name[name], failures, round_=round_):
                    unavailable.add(name)  # not in the tree: the same in every round
            features.stop_server(ctx)
            ctx.finish_rounds()
            http_runs.annotate(ctx)
            features.annotate_audit(ctx)
        finally:
            features.stop_server(ctx)
            ctx.close()
    figures = list(ctx.figures.values())
    per_cluster = (generation.events - generation.long_case_events) / max(1, scale)
    report = new_report(
        quick=args.quick,
        scale={"clusters": scale, "events": generation.events,
               "events_per_cluster": per_cluster, "horizon_year": generation.horizon_year,
               "long_case_events": generation.long_case_events, "seconds": generation.seconds,
               "workers": generation.workers, "note": args.note or ""},
        machine=machine(db.server_version, db.server), seconds=time.perf_counter() - started,
        figures=figures, failures=failures, decisions=decisions(ctx.figures),
        notes=notes(ctx),
    )
    directory = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    stem = "quick" if args.quick else "latest"
    json_path, md_path = write(report, Path(directory), stem)
    print((md_path).read_text(encoding="utf-8"))
    print(f"written: {json_path} {md_path}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny data set, brief runs (CI)")
    parser.add_argument("--scale", type=int, default=None,
                        help=f"clusters (default {DEFAULT_SCALE:,}; quick {QUICK_SCALE})")
    parser.add_argument("--horizon", type=int, default=DEFAULT_HORIZON)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"interleaved rounds of the HTTP measurements (default {ROUNDS})")
    parser.add_argument("--only", type=lambda s: s.split(","), default=None,
                        help="comma-separated measurement names")
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    parser.add_argument("--client", choices=("auto", "loadgen"), default="auto",
                        help="GET load client: wrk when installed (auto), or bench/loadgen.py")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database")
    parser.add_argument("--note", default=None, help="a line for the report")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
