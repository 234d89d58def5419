"""Measurements of the features built on the ledger: projection rebuild, export + offline verify,
commands and reads over HTTP against a real server process.

Each checks first that its feature is in the tree (the CLI command or the route exists) and
raises `NotAvailable` with the reason when it is not; nothing is estimated.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import psycopg

from bench import wrk
from bench.context import Context
from bench.loadgen import CommandLoop, Get, Result, Script, Spec
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


def _log_head(ctx: Context) -> int:
    return ctx.ledger().recorder.max_notification_id() or 0


# ---- 3. projection rebuild --------------------------------------------------------------------


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
    total_seconds = 0.0
    rates = []
    for name in VIEWS:
        run = run_cli(ctx.conn, ctx.data_dir, "project", "rebuild", name)
        _check(run, f"project rebuild {name}")
        match = re.search(r"from (\d+) events", run.stdout)
        events = int(match.group(1)) if match else head
        total_seconds += run.seconds
        rate = events / run.seconds
        rates.append(rate)
        ctx.add(Figure(
            key=f"rebuild_{name}", section=SECTION_PROJ,
            label=f"rebuild view `{name}` (cluster-ledger project rebuild, own process)",
            value=rate, unit="events/s", count=events, seconds=run.seconds,
            ceiling="scan_msgspec", target="≥ 0.5× read+decode; 1M events ≤ 30 s",
            met=None, note=f"peak RSS {run.max_rss_mb:,.0f} MB; 1M events in "
                           f"{1_000_000 / rate:,.0f} s; wall time includes process start-up "
                           f"(`project status` takes {startup.seconds:.1f} s)",
        ))
        figure = ctx.figures[f"rebuild_{name}"]
        figure.met = (figure.ratio or 0) >= 0.5 and rate * 30 >= 1_000_000
    ctx.add(Figure(
        key="rebuild_all", section=SECTION_PROJ,
        label=f"all {len(VIEWS)} views rebuilt one after another ({', '.join(VIEWS)})",
        value=head / total_seconds if total_seconds else None, unit="log events/s",
        seconds=total_seconds, count=head, ceiling="scan_msgspec",
        note=f"1M events in {1_000_000 * total_seconds / max(1, head):,.0f} s",
    ))


# ---- 4. export + verify ------------------------------------------------------------------------


def measure_export_verify(ctx: Context) -> None:
    commands = cli_commands()
    missing = [c for c in ("export", "verify", "checkpoint") if c not in commands]
    if missing:
        raise NotAvailable(f"`cluster-ledger {'/'.join(missing)}` not in the CLI")
    signed = run_cli(ctx.conn, ctx.data_dir, "checkpoint", "--head")
    _check(signed, "checkpoint --head")
    head = _log_head(ctx)
    workdir = Path(tempfile.mkdtemp(prefix="cluster-ledger-export-"))
    try:
        full = _export_verify(ctx, workdir / "full.ndjson", None)
        # Memory: `verify --processes 2` (the default) holds part of the cases in a child
        # process, whose memory the child's VmHWM does not count; so the memory figures come
        # from `--processes 1`, which holds every case in the process measured.
        one = _verify(ctx, workdir / "full.ndjson", processes=1)
        part = _export_verify(ctx, workdir / "part.ndjson", max(1, head // 10), processes=1)
    finally:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    events, export, verify, size = full
    p_events, p_export, p_verify, _ = part
    ctx.add(Figure(
        key="export", section=SECTION_AUDIT, label="export the full log (cluster-ledger export)",
        value=events / export.seconds, unit="events/s", count=events, seconds=export.seconds,
        note=f"peak RSS {export.max_rss_mb:,.0f} MB (10% of the log: "
             f"{p_export.max_rss_mb:,.0f} MB); file {size / 1e6:,.0f} MB",
    ))
    ctx.add(Figure(
        key="verify", section=SECTION_AUDIT,
        label="verify the export offline (chain, signatures, replay, summary; 2 processes)",
        value=events / verify.seconds, unit="events/s", count=events, seconds=verify.seconds,
        note=f"peak RSS of the main process {verify.max_rss_mb:,.0f} MB (it holds part of "
             "the cases; see the one-process run for the whole)",
    ))
    ctx.add(Figure(
        key="verify_one_process", section=SECTION_AUDIT,
        label="verify the export offline, one process (`verify --processes 1`) — ratio = "
              "speed-up of the default two processes over it",
        value=events / one.seconds, unit="events/s", count=events, seconds=one.seconds,
        ratio=one.seconds / verify.seconds if verify.seconds else None,
        note=f"peak RSS {one.max_rss_mb:,.0f} MB (10% of the log: "
             f"{p_verify.max_rss_mb:,.0f} MB)",
    ))
    rate = events / (export.seconds + verify.seconds)
    ctx.add(Figure(
        key="export_verify", section=SECTION_AUDIT, label="export + verify, end to end",
        value=rate, unit="events/s", count=events, seconds=export.seconds + verify.seconds,
        ceiling="scan_msgspec", target="≥ 100,000 events/s", met=rate >= 100_000,
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
    tokens = {g.token for s in scripts for g in s.gets}
    use_wrk = ctx.extras.get("client", "auto") != "loadgen" and wrk.available()
    if use_wrk and all(s.command is None for s in scripts) and len(tokens) == 1:
        paths = list(dict.fromkeys(g.path for s in scripts for g in s.gets))
        result = wrk.run_wrk(running.base, paths, tokens.pop(), connections=len(scripts),
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


# ---- the HTTP stack itself ---------------------------------------------------------------------

SECTION_HTTP = "Ceilings: HTTP stack"


def measure_http_ceiling(ctx: Context) -> None:
    """GET /health (no token, no database) through the same server and load generator: what the
    HTTP stack and the client can do at most on this machine."""
    require_routes(ctx, ("GET", "/health"))
    for clients in (1, 16):
        result = load(ctx, [Script(gets=[Get(path="/health", token="none")])  # noqa: S106
                            for _ in range(clients)])
        ctx.add(Figure(
            key=f"http_health_{clients}", section=SECTION_HTTP,
            label=f"GET /health (no token, no database), {clients} client"
                  f"{'s' if clients > 1 else ''}",
            value=result.count / result.seconds, unit="req/s", p50_ms=result.p50_ms,
            p99_ms=result.p99_ms, count=result.count, seconds=result.seconds,
        ))
    running = server(ctx)
    ctx.extras["server_stack"] = running.stack()


# ---- 1. commands over HTTP ---------------------------------------------------------------------


def command_run(ctx: Context, clients: int, *, optimize: bool = False,
                own_projector: bool = False) -> Result:
    """`clients` connections, each reporting major changes on its own certified case."""
    ledger = ctx.ledger()
    scripts = []
    for cid in ctx.certified_clusters(clients):
        cluster = ledger.get_cluster(cid)
        county = cluster.case.dossier.county_code
        body = json.dumps({
            "effective_date": "2030-06-01", "comment": "园区扩区，经县政府研究同意",
            "kind": "spatial_scope", "new_value": "规划范围调整 {n}",
        }, ensure_ascii=False)
        scripts.append(Script(command=CommandLoop(
            path=f"/api/clusters/{cid}/major-changes",
            token=token(ctx, Role.COUNTY, county, f"bench-county-{county}"),
            version=cluster.version, body=body,
        )))
    return load(ctx, scripts, optimize=optimize, own_projector=own_projector)


def measure_http_commands(ctx: Context) -> None:
    require_routes(ctx, ("POST", MAJOR_CHANGE_ROUTE))
    for clients in (1, 16):
        result = command_run(ctx, clients)
        rate = result.count / result.seconds
        threads = min(clients, 4)  # the ceilings' thread counts
        figure = ctx.add(Figure(
            key=f"http_cmd_{clients}", section=SECTION_CMD,
            label=f"POST major change (token, If-Match, Idempotency-Key → event committed), "
                  f"{clients} client{'s' if clients > 1 else ''}",
            value=rate, unit="cmd/s", p50_ms=result.p50_ms, p99_ms=result.p99_ms,
            count=result.count, seconds=result.seconds, ceiling=f"es_bare_cmd_{threads}",
        ))
        # Judged, as issue 6 words it, against the raw eventsourcing get+command+save rate
        # (stock recorder, its table lock held across round trips). The ledger's own verb
        # without HTTP is faster (its append holds the lock only inside PostgreSQL), so the
        # ratio to it is the cost of the HTTP path alone: given beside, not judged.
        notes = []
        ledger = ctx.figures.get(f"ledger_cmd_{threads}")
        if ledger and ledger.value:
            notes.append(f"{rate / ledger.value:.2f}× the ledger's own verb without HTTP "
                         f"({threads} thread{'s' if threads > 1 else ''})")
        insert = ctx.figures.get(f"asyncpg_insert_{clients}")
        if insert and insert.value:
            notes.append(f"{rate / insert.value:.2f}× asyncpg INSERT+COMMIT ({clients})")
        figure.note = "; ".join(notes)
        if clients == 16:
            figure.target = ("≥ 0.5× raw eventsourcing get+command+save (4 threads), ≥ 300/s, "
                             "p99 ≤ 50 ms")
            figure.met = ((figure.ratio or 0) >= 0.5 and rate >= 300
                          and (result.p99_ms or 1e9) <= 50)
    running = ctx.extras.get("server")
    if running is not None:
        ctx.extras["server_rss_mb"] = running.rss_mb()
    # The same with the projections in their own process (CLUSTER_LEDGER_RUN_PROJECTOR=0 and
    # `cluster-ledger project run`): how much of a command's cost is the in-process projector.
    result = command_run(ctx, 16, own_projector=True)
    ctx.add(Figure(
        key="http_cmd_16_own_projector", section=SECTION_CMD,
        label="the same, 16 clients, projections in their own process (`project run`)",
        value=result.count / result.seconds, unit="cmd/s", p50_ms=result.p50_ms,
        p99_ms=result.p99_ms, count=result.count, seconds=result.seconds,
        ceiling="es_bare_cmd_4",
        note=f"{result.count / result.seconds / ctx.figures['http_cmd_16'].value:.2f}× the "
             "in-process projector run" if ctx.figures["http_cmd_16"].value else "",
    ))


# ---- 2. reads over HTTP ------------------------------------------------------------------------


def measure_http_reads(ctx: Context) -> None:
    lists = [("GET", "/api/clusters"), ("GET", "/api/funding")]
    state = ("GET", "/api/clusters/{cluster_id:uuid}/state")
    have = routes(ctx)
    if not any(r in have for r in [*lists, state]):
        raise NotAvailable("no read route (/api/clusters, /api/funding, /state) in the app")
    province = token(ctx, Role.PROVINCE, "350000", "bench-province")
    xiamen = token(ctx, Role.CITY, "350200", "bench-city-xiamen")
    _vacuum_views(ctx)
    if ("GET", "/api/clusters") in have:
        paths = [
            "/api/clusters?limit=50",
            "/api/clusters?limit=50&status=certified",
            "/api/clusters?limit=50&programme=XM",
            "/api/clusters?limit=50&region=350500&sort=-certified_on",
            "/api/clusters?limit=50&region=350100&status=certified",
            "/api/clusters?limit=50&industry=%E6%96%B0%E6%9D%90%E6%96%99",  # 新材料
        ]
        result = load(ctx, [Script(gets=[Get(path=p, token=province) for p in paths[i % 6:]
                                          + paths[: i % 6]]) for i in range(16)])
        rate = result.count / result.seconds
        ctx.add(Figure(
            key="http_list_clusters", section=SECTION_READ,
            label="GET /api/clusters, filtered page of 50 (province user)",
            value=rate, unit="req/s", p50_ms=result.p50_ms, p99_ms=result.p99_ms,
            count=result.count, seconds=result.seconds, ceiling="http_health_16",
            target="≥ 2,000 req/s, p99 ≤ 25 ms",
            met=rate >= 2000 and (result.p99_ms or 1e9) <= 25,
        ))
    else:
        ctx.unavailable("http_list_clusters", SECTION_READ, "GET /api/clusters",
                        "route not in the app")
    if ("GET", "/api/funding") in have:
        paths = ["/api/funding?limit=50", "/api/funding?limit=50&funding_year=1",
                 "/api/funding?limit=50&funding_year=2", "/api/funding?limit=50&region=350203"]
        result = load(ctx, [Script(gets=[Get(path=p, token=xiamen) for p in paths])
                            for _ in range(16)])
        ctx.add(Figure(
            key="http_list_funding", section=SECTION_READ,
            label="GET /api/funding, page of 50 with totals (Xiamen city user)",
            value=result.count / result.seconds, unit="req/s", p50_ms=result.p50_ms,
            p99_ms=result.p99_ms, count=result.count, seconds=result.seconds,
            ceiling="http_health_16",
        ))
    else:
        ctx.unavailable("http_list_funding", SECTION_READ, "GET /api/funding",
                        "route not in the app")
    if state in have:
        _measure_http_state(ctx, province)
    else:
        ctx.unavailable("http_state_at", SECTION_STATE, "GET /api/clusters/{id}/state?as_of=",
                        "route not in the app")


def _vacuum_views(ctx: Context) -> None:
    """The command runs rewrote a few view rows thousands of times. A live database's
    autovacuum clears such dead row versions within a minute (and refreshes the planner's
    statistics); where it is off (as on some machines' PostgreSQL), the read runs would walk
    them instead. So the view tables are vacuumed and analysed first, and the report says so."""
    from projections.schema import VIEWS

    tables = [table for spec in VIEWS.values() for table in spec.data_tables()]
    with psycopg.connect(ctx.conn.url, autocommit=True) as pg:
        setting = pg.execute("SHOW autovacuum").fetchone()
        pg.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")  # constant table names
    ctx.extras["vacuumed_views"] = (
        f"Before the read runs the view tables ({', '.join(tables)}) were VACUUM ANALYZEd, as "
        f"autovacuum would have done after the command runs (autovacuum on this server: "
        f"{setting[0] if setting else 'unknown'})."
    )


def state_gets(ctx: Context, province: str) -> tuple[int, list[Get]]:
    """GETs of the long case's state at 20 dates spread over its history."""
    cid: UUID = ctx.long_case_id
    events: list[Any] = list(ctx.ledger().events.get(cid))
    first: date = events[0].meta.effective_date
    last: date = events[-1].meta.effective_date
    span = max(1, (last - first).days)
    dates = [first + timedelta(days=span * k // 20) for k in range(1, 21)]
    return len(events), [
        Get(path=f"/api/clusters/{cid}/state?as_of={d.isoformat()}", token=province)
        for d in dates
    ]


def _measure_http_state(ctx: Context, province: str) -> None:
    n, gets = state_gets(ctx, province)
    single = load(ctx, [Script(gets=gets)])
    ctx.add(Figure(
        key="http_state_at_1", section=SECTION_STATE,
        label=f"GET /api/clusters/{{id}}/state?as_of= on the {n:,}-event case, 1 client",
        value=single.count / single.seconds, unit="req/s", p50_ms=single.p50_ms,
        p99_ms=single.p99_ms, count=single.count, seconds=single.seconds,
        target="p99 ≤ 20 ms", met=(single.p99_ms or 1e9) <= 20,
    ))
    many = load(ctx, [Script(gets=gets[i:] + gets[:i]) for i in range(16)])
    ctx.add(Figure(
        key="http_state_at_16", section=SECTION_READ,
        label=f"GET /api/clusters/{{id}}/state?as_of= ({n:,}-event case)",
        value=many.count / many.seconds, unit="req/s", p50_ms=many.p50_ms, p99_ms=many.p99_ms,
        count=many.count, seconds=many.seconds, ceiling="http_health_16",
    ))


# ---- the same server under python -O -------------------------------------------------------------


def measure_http_optimized(ctx: Context) -> None:
    """Commands (16 clients) and state at a date (1 client) against `serve` under
    PYTHONOPTIMIZE=1, beside the same runs without it: the figures for the -O decision."""
    require_routes(ctx, ("POST", MAJOR_CHANGE_ROUTE))
    section = "Production mode: python -O"
    result = command_run(ctx, 16, optimize=True)
    ctx.add(Figure(
        key="http_cmd_16_O", section=section,
        label="POST major change, 16 clients, server under python -O",
        value=result.count / result.seconds, unit="cmd/s", p50_ms=result.p50_ms,
        p99_ms=result.p99_ms, count=result.count, seconds=result.seconds,
        ceiling="http_cmd_16", note="ratio = vs the same run without -O",
    ))
    if ("GET", "/api/clusters/{cluster_id:uuid}/state") in routes(ctx):
        n, gets = state_gets(ctx, token(ctx, Role.PROVINCE, "350000", "bench-province"))
        single = load(ctx, [Script(gets=gets)], optimize=True)
        ctx.add(Figure(
            key="http_state_at_1_O", section=section,
            label=f"GET /api/clusters/{{id}}/state?as_of= ({n:,} events), 1 client, server "
                  "under python -O",
            value=single.count / single.seconds, unit="req/s", p50_ms=single.p50_ms,
            p99_ms=single.p99_ms, count=single.count, seconds=single.seconds,
            ceiling="http_state_at_1", note="ratio = vs the same run without -O",
            target="p99 ≤ 20 ms", met=(single.p99_ms or 1e9) <= 20,
        ))
    stop_server(ctx)
