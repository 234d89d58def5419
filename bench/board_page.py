"""The board page against the JSON list, alone: both at 1 and 16 clients, in interleaved rounds,
on a data set that is already there (`python -m bench.generate --scale N` into DATABASE_URL),
and optionally a profile of the server while it serves the board.

    DATABASE_URL=postgresql://…/db python -m bench.board_page                # 3 rounds, 6 s runs
    DATABASE_URL=… python -m bench.board_page --profile var/board.prof       # + a cProfile
    DATABASE_URL=… python -m bench.board_page --floor      # + what an empty page costs

The same server (`cluster-ledger serve`), users, filters, page size and load client (wrk when
installed) as `make bench`'s board-page figure (`bench.http_runs.measure_board_page`); it adds
the 1-client pair, and a round takes seconds instead of regenerating the data. Issue 13's
target: the board's time per page ≤ 2× the JSON list's (ratio = list req/s ÷ board req/s).
"""

from __future__ import annotations

import argparse
import os
import pstats
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import http_runs
from bench.benchdb import BenchDatabase, server_version
from bench.context import Context
from bench.features import load, server, stop_server, token
from bench.generate import GenerationResult
from bench.loadgen import Get, Script
from bench.server import child_env, free_port
from domain.actors import Role
from infra.database import parse_url
from infra.settings import PROJECT_ROOT

CLIENTS = (1, 16)


def _scripts(paths: list[str], clients: int, *, bearer: str = "", cookie: str = "") -> list[Script]:
    return [Script(gets=[Get(path=p, token=bearer, cookie=cookie)
                         for p in http_runs._rotated(paths, i)])
            for i in range(clients)]


def server_cpu_seconds(ctx: Context) -> float:
    """User + system CPU time the server process has used so far (Linux /proc)."""
    pid = server(ctx).process.pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(ctx: Context, rounds: int, *, floor: bool = False,
            ) -> dict[tuple[str, str, int], list[float]]:
    """Per client count and round, of the JSON list and of the board page: req/s, and the
    server process's CPU time per request (which other processes on the machine disturb far
    less than the rate)."""
    province = token(ctx, Role.PROVINCE, "350000", "bench-province")
    cookie = http_runs.page_session(ctx)
    http_runs._check_pages(ctx, http_runs.board_paths(), cookie, "<table")
    runs = {
        "list": lambda n: _scripts(http_runs.json_list_paths(), n, bearer=province),
        "board": lambda n: _scripts(http_runs.board_paths(), n, cookie=cookie),
    }
    if floor:
        # What any page costs before its content: the same session cookie, the base template
        # and a session look-up (/account), and /health (no session, no template, no database).
        runs["account"] = lambda n: _scripts(["/account"], n, cookie=cookie)
        runs["health"] = lambda n: _scripts(["/health"], n)
    for make in runs.values():  # warm-up, unmeasured: the runs below have none (quick)
        load(ctx, make(16), seconds=2)
    figures: dict[tuple[str, str, int], list[float]] = {}
    for round_ in range(1, rounds + 1):
        for clients in CLIENTS:
            for what, make in runs.items():
                scripts = make(clients)
                server(ctx).wait_idle()
                cpu = server_cpu_seconds(ctx)
                result = load(ctx, scripts)
                cpu_ms = (server_cpu_seconds(ctx) - cpu) * 1000 / max(1, result.count)
                rate = result.count / result.seconds
                figures.setdefault(("req/s", what, clients), []).append(rate)
                figures.setdefault(("cpu", what, clients), []).append(cpu_ms)
                print(f"round {round_} {what:5} {clients:2} client(s): {rate:8,.0f} req/s, "
                      f"server CPU {cpu_ms:.2f} ms/req, p50 {result.p50_ms or 0:.1f} ms, "
                      f"p99 {result.p99_ms or 0:.1f} ms, "
                      f"{result.bytes_per_request / 1024:,.1f} KB", flush=True)
    return figures


def _spread(values: list[float], fmt: str) -> str:
    return (f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})")


def report(figures: dict[tuple[str, str, int], list[float]]) -> None:
    print("\nmedian of rounds (low-high); ratio = board's time per request ÷ the list's, per "
          "round: list req/s ÷ board req/s, board CPU ÷ list CPU")
    for clients in CLIENTS:
        lists, boards = figures[("req/s", "list", clients)], figures[("req/s", "board", clients)]
        cpu_l, cpu_b = figures[("cpu", "list", clients)], figures[("cpu", "board", clients)]
        ratios = [a / b for a, b in zip(lists, boards, strict=True)]
        cpu_ratios = [b / a for a, b in zip(cpu_l, cpu_b, strict=True)]
        print(f"{clients:2} client(s): list {_spread(lists, ',.0f')} req/s, board "
              f"{_spread(boards, ',.0f')} req/s, ratio {_spread(ratios, '.2f')}×; server CPU "
              f"per request: list {_spread(cpu_l, '.2f')} ms, board {_spread(cpu_b, '.2f')} ms, "
              f"ratio {_spread(cpu_ratios, '.2f')}×")
        for what in ("account", "health"):
            if ("cpu", what, clients) in figures:
                print(f"    {what}: {_spread(figures[('req/s', what, clients)], ',.0f')} req/s, "
                      f"server CPU {_spread(figures[('cpu', what, clients)], '.2f')} ms")


def profile(ctx: Context, out: Path, seconds: float, top: int) -> None:
    """The server under cProfile while 16 clients load the board page; the top functions by
    own time and by cumulative time."""
    cookie = http_runs.page_session(ctx)  # before the profiled server starts: not profiled
    stop_server(ctx)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "api.cli", "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=child_env(ctx.conn, ctx.data_dir), cwd=PROJECT_ROOT,
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/ready", timeout=5).close()  # noqa: S310
                break
            except OSError:
                time.sleep(0.3)
        from bench import wrk

        paths = http_runs.board_paths()
        result = wrk.run_wrk(base, paths, "", cookie=cookie, connections=16, seconds=seconds,
                             warmup_seconds=1)
        print(f"profiled: {result.count:,} board pages in {result.seconds:.1f} s")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.board_page", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0, help="each load run")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile output file")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--floor", action="store_true",
                        help="also /account (a signed-in page with no content) and /health")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("bench.board_page: set DATABASE_URL to a generated data set", file=sys.stderr)
        return 2
    db = BenchDatabase(conn=parse_url(url), server="DATABASE_URL",
                       server_version=server_version(url))
    ctx = Context(db, GenerationResult(clusters=0, events=0, seconds=0, workers=0, batch=0,
                                       horizon_year=0), quick=True)
    ctx.load_seconds = args.seconds  # quick: no warm-up inside a run (one before the rounds)
    try:
        if args.rounds:
            report(measure(ctx, args.rounds, floor=args.floor))
        if args.profile:
            profile(ctx, args.profile, args.seconds, args.top)
    finally:
        stop_server(ctx)
        ctx.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
