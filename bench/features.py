"""Measurements of the features built on the ledger: projection rebuild and export + offline
verify; and the real server process and the load runs against it, which the HTTP measurements
(`bench.http_runs`) use.

Each checks first that its feature is in the tree (the CLI command or the route exists) and
raises `NotAvailable` with the reason when it is not; nothing is estimated.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from psycopg.sql import SQL, Identifier

from bench import wrk
from bench.context import Context
from bench.loadgen import Result, Script, Spec
from bench.rounds import Target
from bench.server import ChildRun, Server, child_env, run_cli
from bench.stats import Figure, NotAvailable
from domain.actors import Actor, Role
from infra.settings import PROJECT_ROOT, Settings

SECTION_CMD = "1. Commands over HTTP"
SECTION_READ = "2. Reads over HTTP (16 clients)"
SECTION_PROJ = "3. Projection rebuild from the full log"
SECTION_AUDIT = "4. Export + offline verify of the full log"
SECTION_STATE = "5. State at a date / replay (1,000-event case)"
MAJOR_CHANGE_ROUTE = "/api/clusters/{cluster_id:uuid}/major-changes"


# ---- what is in the tree ---------------------------------------------------------------------


def cli_commands() -> dict[str, set[str]]:
    """Sub-commands of `cluster-ledger` and, for grouped ones, their actions."""
    from api.cli import build_parser

    found: dict[str, set[str]] = {}
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = set()
                for inner in sub._actions:
                    if isinstance(inner, argparse._SubParsersAction):
                        found[name] |= set(inner.choices)
    return found


def routes(ctx: Context) -> set[tuple[str, str]]:
    """(method, path) of every route of the app as `create_app` builds it (no server needed)."""
    cached = ctx.extras.get("routes")
    if cached is None:
        from api.app import create_app

        app = create_app(Settings(database_url=ctx.conn.url, data_dir=ctx.data_dir))
        cached = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ())}
        ctx.extras["routes"] = cached
    return cached  # type: ignore[no-any-return]


def require_routes(ctx: Context, *wanted: tuple[str, str]) -> None:
    have = routes(ctx)
    missing = [f"{m} {p}" for m, p in wanted if (m, p) not in have]
    if missing:
        raise NotAvailable(f"route {', '.join(missing)} is not in the app")


def _check(run: ChildRun, what: str) -> None:
    if run.returncode != 0:
        msg = f"{what} exited {run.returncode}: {(run.stderr or run.stdout)[-1500:]}"
        raise RuntimeError(msg)


def admin_connection(url: str, wait_seconds: float = 30) -> psycopg.Connection[Any]:
    """An autocommit connection for the bench's own statements (VACUUM, catalogue reads). The
    machine's connection slots are shared with whatever else runs on it: when they are all
    taken, wait for one (up to `wait_seconds`) rather than fail the measurement."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            if "too many clients" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1)


def _log_head(ctx: Context) -> int:
    return ctx.ledger().recorder.max_notification_id() or 0


# ---- 3. projection rebuild --------------------------------------------------------------------


# Issue 6: "≥ 0.5× the raw read+decode rate of the same log, i.e. 1,000,000 events in ≤ 30 s".
# The ratio is the target; the 30 s (33,000 events/s) is 0.34× the ~98,000 events/s of
# read+decode it names, so the ratio covers it. One run per view (not in rounds: no HTTP).
REBUILD_VS_SCAN = 0.5


def bitemporal_views(ctx: Context) -> list[str]:
    """The views that keep rows on both time axes (issue 15): one of their tables has a
    valid-time column (`valid_from`/`valid_to`, `effective_from`/..., or a `daterange`) and a
    recorded-time one (`recorded_from`/`recorded_to`, `known_...`, `system_...`, `tx_...`, or a
    `tstzrange`). The live views' `valid_until` and `recorded_status` do not count."""
    from projections.schema import VIEWS

    valid = re.compile(r"^(valid|effective)_(from|to|during|range|period)$")
    recorded = re.compile(r"^(recorded|known|system|tx|transaction)_(from|to|during|range|period)$")
    found = []
    with admin_connection(ctx.conn.url) as pg:
        for name, spec in VIEWS.items():
            rows = pg.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
                (list(spec.data_tables()),)).fetchall()
            tables: dict[str, set[str]] = {}
            for table, column, kind in rows:
                axes = tables.setdefault(table, set())
                if valid.match(column) or kind == "daterange":
                    axes.add("valid")
                if recorded.match(column) or kind == "tstzrange":
                    axes.add("recorded")
            if any(axes == {"valid", "recorded"} for axes in tables.values()):
                found.append(name)
    return found


def view_size(ctx: Context, tables: tuple[str, ...]) -> tuple[float, int]:
    """Tables, indexes and TOAST of a view's data tables, in MB; and the rows of its first
    (main) table."""
    with admin_connection(ctx.conn.url) as pg:
        row = pg.execute(
            "SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest(%s::text[]) t",
            (list(tables),)).fetchone()
        rows = pg.execute(SQL("SELECT count(*) FROM {}").format(Identifier(tables[0]))).fetchone()
    return (float(row[0] or 0) / 1e6 if row else 0.0), (int(rows[0]) if rows else 0)


def measure_projection_rebuild(ctx: Context) -> None:
    if "rebuild" not in cli_commands().get("project", set()):
        raise NotAvailable("`cluster-ledger project rebuild` is not in the CLI")
    try:
        from projections.schema import VIEWS
    except ImportError as exc:
        raise NotAvailable(f"projections.schema.VIEWS: {exc}") from None
    head = _log_head(ctx)
    startup = run_cli(ctx.conn, ctx.data_dir, "project", "status")
    _check(startup, "project status")
    ctx.extras["cli_startup_s"] = startup.seconds
    bitemporal = bitemporal_views(ctx)
    total_seconds = 0.0
    for name, spec in VIEWS.items():
        run = run_cli(ctx.conn, ctx.data_dir, "project", "rebuild", name)
        _check(run, f"project rebuild {name}")
        match = re.search(r"from (\d+) events", run.stdout)
        events = int(match.group(1)) if match else head
        total_seconds += run.seconds
        rate = events / run.seconds
        size, rows = view_size(ctx, spec.data_tables())
        per_cluster = rows / max(1, ctx.generation.clusters + 1)  # + the long case
        figure = ctx.add(Figure(
            key=f"rebuild_{name}", section=SECTION_PROJ,
            label=(f"rebuild {'the bitemporal view (issue 15)' if name in bitemporal else 'view'}"
                   f" `{name}` (cluster-ledger project rebuild, own process)"),
            value=rate, unit="events/s", count=events, seconds=run.seconds,
            ceiling="scan_msgspec", target=f"≥ {REBUILD_VS_SCAN}× read+decode",
            met=None, note=f"view size {size:,.0f} MB ({', '.join(spec.data_tables())}, with "
                           f"indexes; {rows:,} rows in {spec.data_tables()[0]}, "
                           f"{per_cluster:,.1f} per case); peak RSS {run.max_rss_mb:,.0f} MB; "
                           f"1M events in "
                           f"{1_000_000 / rate:,.0f} s; wall time includes process start-up "
                           f"(`project status` takes {startup.seconds:.1f} s)",
        ))
        figure.met = (figure.ratio or 0) >= REBUILD_VS_SCAN
    if not bitemporal:
        ctx.unavailable(
            "rebuild_bitemporal", SECTION_PROJ,
            "rebuild of the bitemporal view (issue 15): rate and size",
            f"no view in projections.schema.VIEWS ({', '.join(VIEWS)}) keeps rows with valid- "
            "and recorded-time columns")
    ctx.add(Figure(
        key="rebuild_all", section=SECTION_PROJ,
        label=f"all {len(VIEWS)} views rebuilt one after another ({', '.join(VIEWS)})",
        value=head / total_seconds if total_seconds else None, unit="log events/s",
        seconds=total_seconds, count=head, ceiling="scan_msgspec",
        note=f"1M events in {1_000_000 * total_seconds / max(1, head):,.0f} s",
    ))


# ---- 4. export + verify ------------------------------------------------------------------------


# The project owner's decision on issue 6's "export + offline verify ≥ 100,000 events/s": export
# and verify are judged EACH ON ITS OWN, at ≥ 100,000 events/s with memory flat in the log's
# length. The one absolute bound of the bench (every other target is a ratio to a ceiling of the
# same run): the read+decode ceiling is given beside each as a ratio, for orientation. The end to
# end export + verify figure is information, not a target. The rates run in the rounds
# (`measure_export_verify`, before the command ceilings of each round: no server running), the
# memory once (`measure_audit_memory`).
AUDIT_RATE = 100_000
EXPORT_RATE = Target(measure="value", op=">=", limit=AUDIT_RATE, unit="events/s",
                     text="export of the full log ≥ 100,000 events/s (project owner's decision "
                          "on issue 6: export and verify each on its own)")
VERIFY_RATE = Target(measure="value", op=">=", limit=AUDIT_RATE, unit="events/s",
                     text="offline verify of the export (as shipped: 2 processes) ≥ 100,000 "
                          "events/s (project owner's decision on issue 6)")


def _audit_commands() -> None:
    commands = cli_commands()
    missing = [c for c in ("export", "verify", "checkpoint") if c not in commands]
    if missing:
        raise NotAvailable(f"`cluster-ledger {'/'.join(missing)}` not in the CLI")


def _sign_head(ctx: Context) -> None:
    signed = run_cli(ctx.conn, ctx.data_dir, "checkpoint", "--head")
    _check(signed, "checkpoint --head")


def measure_export_verify(ctx: Context) -> None:
    """One round: `cluster-ledger export` of the whole log, then `cluster-ledger verify` of the
    file as shipped (two processes), each timed in its own process; the head signed first (the
    previous round's commands appended to the log)."""
    _audit_commands()
    stop_server(ctx)  # the machine to the two of them, as the command ceilings have it
    _sign_head(ctx)
    workdir = Path(tempfile.mkdtemp(prefix="cluster-ledger-export-"))
    try:
        events, export, verify, size = _export_verify(ctx, workdir / "full.ndjson", None)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ctx.add(Figure(
        key="export", section=SECTION_AUDIT,
        label="export the full log (cluster-ledger export, own process) — ratio = vs "
              "read+decode of the log, for orientation",
        value=events / export.seconds, unit="events/s", count=events, seconds=export.seconds,
        ceiling="scan_msgspec", targets=[EXPORT_RATE],
        target="≥ 100,000 events/s (memory: the peak RSS rows)",
        note=f"{events:,} events; file {size / 1e6:,.0f} MB; peak RSS {export.max_rss_mb:,.0f} MB",
    ))
    ctx.add(Figure(
        key="verify", section=SECTION_AUDIT,
        label="verify the export offline (chain, signatures, replay, summary; as shipped: 2 "
              "processes) — ratio = vs read+decode of the log, for orientation",
        value=events / verify.seconds, unit="events/s", count=events, seconds=verify.seconds,
        ceiling="scan_msgspec", targets=[VERIFY_RATE],
        target="≥ 100,000 events/s (memory: the peak RSS rows)",
        note=f"peak RSS of the main process {verify.max_rss_mb:,.0f} MB (it holds part of the "
             "cases; the one-process run below holds them all)",
    ))
    ctx.add(Figure(
        key="export_verify", section=SECTION_AUDIT,
        label="export + verify, end to end (information, no target) — ratio = vs read+decode",
        value=events / (export.seconds + verify.seconds), unit="events/s", count=events,
        seconds=export.seconds + verify.seconds, ceiling="scan_msgspec",
    ))


def measure_audit_memory(ctx: Context) -> None:
    """Peak RSS (the child's kernel high-water mark) of export and of verify, full log against its
    first 10 %: memory flat in the log's length. `verify --processes 2` (the default) holds
    part of the cases in a child process, whose memory the child's VmHWM does not count; so the
    verify figures come from `--processes 1`, which holds every case in the process measured."""
    _audit_commands()
    _sign_head(ctx)
    head = _log_head(ctx)
    workdir = Path(tempfile.mkdtemp(prefix="cluster-ledger-export-"))
    try:
        events, export, one, _ = _export_verify(ctx, workdir / "full.ndjson", None, processes=1)
        p_events, p_export, p_verify, _ = _export_verify(
            ctx, workdir / "part.ndjson", max(1, head // 10), processes=1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ctx.add(Figure(
        key="verify_one_process", section=SECTION_AUDIT,
        label="verify the export offline, one process (`verify --processes 1`), one run — "
              "ratio = speed-up of the default two processes (median of the rounds) over it",
        value=events / one.seconds, unit="events/s", count=events, seconds=one.seconds,
        note=f"peak RSS {one.max_rss_mb:,.0f} MB",
    ))
    clusters = ctx.generation.clusters
    for key, what, full_run, part_run in (("export_memory", "export", export, p_export),
                                          ("verify_memory", "verify (one process)", one,
                                           p_verify)):
        peak, small = full_run.max_rss_mb, part_run.max_rss_mb
        per_cluster_kb = (peak - small) * 1024 / max(1, clusters * 0.9)
        ctx.add(Figure(
            key=key, section=SECTION_AUDIT,
            label=f"{what} peak RSS, full log ({events:,} events) vs its first 10% "
                  f"({p_events:,} events, ~10% of the clusters)",
            value=peak, unit="MB", ratio=peak / small if small else None,
            target="flat in the log's length", met=peak <= small * 1.25 + 20,
            note=f"ratio = full / 10%; growth ≈ {per_cluster_kb:,.1f} KB per cluster "
                 "(a prefix of the log grows clusters and events together)",
        ))


def annotate_audit(ctx: Context) -> None:
    """After the rounds: the speed-up of verify's two processes over one."""
    one, two = ctx.figures.get("verify_one_process"), ctx.figures.get("verify")
    if one is not None and two is not None and one.value and two.value:
        one.ratio = two.value / one.value


def _verify(ctx: Context, path: Path, processes: int = 2, *, may_be_unsigned: bool = False
            ) -> ChildRun:
    # The export was just made here, with this run's key: trusting the key the file names does
    # the same checks as pinning it.
    verify = run_cli(
        ctx.conn, ctx.data_dir, "verify", str(path), "--json", "--processes", str(processes),
        "--trust-embedded-key",
    )
    if not (may_be_unsigned and verify.returncode == 4):  # 4: UNSIGNED, after the same work
        _check(verify, "verify")
    return verify


def _export_verify(
    ctx: Context, path: Path, to: int | None, processes: int = 2
) -> tuple[int, ChildRun, ChildRun, int]:
    args = ["export", str(path)] + (["--to", str(to)] if to else [])
    export = run_cli(ctx.conn, ctx.data_dir, *args)
    _check(export, "export")
    match = re.search(r"exported (\d+) events", export.stderr + export.stdout)
    events = int(match.group(1)) if match else (to or _log_head(ctx))
    # A first tenth of a small log may hold no checkpoint (one every
    # CLUSTER_LEDGER_CHECKPOINT_EVERY entries; the head is signed): verify ends UNSIGNED.
    verify = _verify(ctx, path, processes, may_be_unsigned=to is not None)
    return events, export, verify, path.stat().st_size


# ---- the server --------------------------------------------------------------------------------


def server(ctx: Context, *, optimize: bool = False, own_projector: bool = False) -> Server:
    """The running server in the wanted mode (restarted if it runs in another one)."""
    mode = (optimize, own_projector)
    running = ctx.extras.get("server")
    if running is not None and ctx.extras.get("server_mode") != mode:
        stop_server(ctx)
        running = None
    if running is None:
        env = {"CLUSTER_LEDGER_RUN_PROJECTOR": "0"} if own_projector else {}
        if own_projector:
            ctx.extras["projector"] = subprocess.Popen(  # its own process, stopped by pid
                [sys.executable, "-m", "api.cli", "project", "run"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT,
                env=child_env(ctx.conn, ctx.data_dir),
            )
        running = Server(ctx.conn, ctx.data_dir, ctx.data_dir / "server.log", optimize=optimize,
                         env=env)
        ctx.extras["server"] = running
        ctx.extras["server_mode"] = mode
        running.wait_ready()
    return running  # type: ignore[no-any-return]


def stop_server(ctx: Context) -> None:
    running = ctx.extras.pop("server", None)
    if running is not None:
        running.stop()
    projector = ctx.extras.pop("projector", None)
    if projector is not None and projector.poll() is None:
        projector.send_signal(signal.SIGINT)
        try:
            projector.wait(timeout=20)
        except subprocess.TimeoutExpired:
            projector.kill()
            projector.wait()


def issuer(ctx: Context) -> Any:
    from api.auth import TokenIssuer
    from infra.keys import dev_key_pair

    settings = Settings()
    private = dev_key_pair(ctx.data_dir / "keys", "jwt")[0]
    return TokenIssuer(private, settings.jwt_issuer, settings.jwt_audience)


def token(ctx: Context, role: Role, jurisdiction: str, user: str) -> str:
    minted: str = issuer(ctx).mint(
        Actor(user_id=user, role=role, organisation=f"bench {jurisdiction}",
              jurisdiction=jurisdiction), ttl_seconds=4 * 3600)
    return minted


def load(ctx: Context, scripts: list[Script], seconds: float | None = None, *,
         optimize: bool = False, own_projector: bool = False) -> Result:
    """Run the load against the server: wrk for GETs when installed, else (and for commands)
    the Python load generator in its own process. `ctx.extras["clients"]` records which.
    Each run starts once the projections have caught up with the previous one."""
    running = server(ctx, optimize=optimize, own_projector=own_projector)
    running.wait_idle()
    # wrk sends the same headers on every connection: one token or one session cookie.
    identities = {(g.token, g.cookie) for s in scripts for g in s.gets}
    use_wrk = ctx.extras.get("client", "auto") != "loadgen" and wrk.available()
    if use_wrk and all(s.command is None for s in scripts) and len(identities) == 1:
        paths = list(dict.fromkeys(g.path for s in scripts for g in s.gets))
        bearer, cookie = identities.pop()
        result = wrk.run_wrk(running.base, paths, bearer, cookie=cookie, connections=len(scripts),
                             seconds=seconds or ctx.load_seconds,
                             warmup_seconds=0 if ctx.quick else 1)
        ctx.extras.setdefault("clients", set()).add("wrk (GET)")
        return _checked(result)
    ctx.extras.setdefault("clients", set()).add(
        "bench/loadgen.py (commands)" if any(s.command for s in scripts) else
        "bench/loadgen.py (GET)")
    spec = Spec(host="127.0.0.1", port=running.port, seconds=seconds or ctx.load_seconds,
                warmup_seconds=0.3 if ctx.quick else 1.0, scripts=scripts)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        f.write(msgspec.json.encode(spec))
        spec_path = f.name
    try:
        done = subprocess.run([sys.executable, "-m", "bench.loadgen", spec_path],
                              capture_output=True, text=True, check=False, cwd=PROJECT_ROOT,
                              timeout=spec.seconds + 120)
    finally:
        Path(spec_path).unlink(missing_ok=True)
    if done.returncode != 0:
        exited = running.process.poll()
        state = "running" if exited is None else f"exited with {exited}"
        msg = f"load generator failed (server {state}): {done.stderr[-2000:]}"
        raise RuntimeError(msg)
    result = msgspec.json.decode(done.stdout.strip().splitlines()[-1], type=Result)
    if result.reconnects:
        ctx.extras.setdefault("reconnects", []).append(
            f"{result.reconnects} (first: {result.first_reconnect})")
    return _checked(result)


def _checked(result: Result) -> Result:
    if result.count == 0 or result.errors > result.count // 100:
        msg = (f"{result.errors} errors in {result.count + result.errors} requests "
               f"(statuses {result.statuses}); first: {result.first_error}")
        raise RuntimeError(msg)
    return result
