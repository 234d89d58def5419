"""The HTTP measurements: commands, reads, the board page and the HTTP stack's ceiling, against
`cluster-ledger serve` in its own process.

Each function here is one measurement of one round: `bench.run` calls them in
`bench.rounds.ROUNDS` interleaved rounds (round 1 of every one, then round 2, ...) beside the
command ceilings (`bench.ceilings.measure_command_ceilings`), and `Context.finish_rounds` turns
the rounds into the reported figures: median, spread, per-round ratio to the ceiling of the
same round, and the verdict on every target. Targets are ratios to a ceiling (`TARGETS`), or
latency bounds; never an absolute rate.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from bench.context import Context
from bench.features import (
    MAJOR_CHANGE_ROUTE,
    SECTION_CMD,
    SECTION_READ,
    SECTION_STATE,
    admin_connection,
    load,
    require_routes,
    routes,
    server,
    stop_server,
    token,
)
from bench.loadgen import CommandLoop, Get, Result, Script
from bench.rounds import Target
from bench.stats import Figure, NotAvailable
from domain.actors import Role

SECTION_HTTP = "Ceilings: HTTP stack"
SECTION_O = "Production mode: python -O"

# ---- the targets, as ratios to a ceiling of the same round ------------------------------------
#
# Issue 6 set two of its targets as absolute rates "on a 2-core machine" and named the ceilings
# of that kind of machine for orientation; the ratio of the two is the target here, so that a
# verdict holds on a faster or slower machine of the kind:
# - commands: "≥ 300 commands/s" is 0.51× the ~590/s of raw eventsourcing get+command+save at
#   4 threads it names, the ceiling its "≥ 0.5×" target is set against already: one target,
#   ≥ 0.51×;
# - the list page: "≥ 2,000 req/s per worker" is 0.38× the ~5,200 GET/s of Litestar on one
#   uvicorn worker (uvloop + httptools) it names; the ceiling here is `GET /health` through the
#   same server and load client at 16 clients.
COMMANDS_VS_ES = Target(measure="ratio", op=">=", limit=0.51,
                        text="commands at 16 clients ≥ 0.51× raw eventsourcing get+command+save "
                             "at 4 threads (issue 6: ≥ 0.5× and ≥ 300/s of ~590/s)")
COMMANDS_P99 = Target(measure="p99_ms", op="<=", limit=50,
                      text="commands at 16 clients: p99 ≤ 50 ms (latency bound)")
LIST_VS_HEALTH = Target(measure="ratio", op=">=", limit=0.38,
                        text="GET /api/clusters page of 50 at 16 clients ≥ 0.38× GET /health "
                             "(issue 6: 2,000 of ~5,200 req/s)")
LIST_P99 = Target(measure="p99_ms", op="<=", limit=25,
                  text="GET /api/clusters at 16 clients: p99 ≤ 25 ms (latency bound)")
STATE_P99 = Target(measure="p99_ms", op="<=", limit=20,
                   text="state at a date, 1,000-event case, 1 client: p99 ≤ 20 ms "
                        "(latency bound)")
STATE_P99_O = Target(measure="p99_ms", op="<=", limit=20,
                     text="state at a date under python -O: p99 ≤ 20 ms (latency bound)")
BOARD_VS_LIST = Target(measure="inverse_ratio", op="<=", limit=2,
                       text="board page /board at 16 clients within 2× the JSON list page "
                            "(time per request; issue 13)")
AS_OF_VS_LIVE = Target(measure="inverse_ratio", op="<=", limit=2,
                       text="as-of board page at 16 clients within 2× the live board page "
                            "(time per request; issue 15)")

# The filters of the list runs, each with its page of 50: the JSON list and the board page
# read the same six, in the same rotation, for the same province user.
LIST_FILTERS = (
    "",
    "status=certified",
    "programme=XM",
    "region=350500&sort=-certified_on",
    "region=350100&status=certified",
    "industry=%E6%96%B0%E6%9D%90%E6%96%99",  # 新材料
)
AS_OF_DATE = "2025-12-31"  # a year end, as directors ask about


def _rotated(paths: list[str], i: int) -> list[str]:
    k = i % len(paths)
    return paths[k:] + paths[:k]


def json_list_paths(extra: str = "") -> list[str]:
    return [f"/api/clusters?limit=50{extra}" + (f"&{f}" if f else "") for f in LIST_FILTERS]


def board_paths(extra: str = "") -> list[str]:
    return [f"/board?{'&'.join(x for x in (f, extra.lstrip('&')) if x)}".rstrip("?")
            for f in LIST_FILTERS]


def _add_run(ctx: Context, key: str, section: str, label: str, result: Result, *,
             unit: str = "req/s", **extra: Any) -> Figure:
    return ctx.add(Figure(
        key=key, section=section, label=label, value=result.count / result.seconds, unit=unit,
        p50_ms=result.p50_ms, p99_ms=result.p99_ms, count=result.count, seconds=result.seconds,
        **extra,
    ))


# ---- the HTTP stack itself ---------------------------------------------------------------------


def measure_http_ceiling(ctx: Context) -> None:
    """GET /health (no token, no database) through the same server and load generator: what the
    HTTP stack and the client can do at most on this machine."""
    require_routes(ctx, ("GET", "/health"))
    for clients in (1, 16):
        result = load(ctx, [Script(gets=[Get(path="/health", token="none")])  # noqa: S106
                            for _ in range(clients)])
        _add_run(ctx, f"http_health_{clients}", SECTION_HTTP,
                 f"GET /health (no token, no database), {clients} client"
                 f"{'s' if clients > 1 else ''}", result)
    ctx.extras["server_stack"] = server(ctx).stack()


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
            "effective_date": ctx.command_date.isoformat(), "comment": "园区扩区，经县政府研究同意",
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
        threads = min(clients, 4)  # the ceilings' thread counts
        # Judged, as issue 6 words it, against the raw eventsourcing get+command+save rate
        # (stock recorder, its table lock held across round trips). The ledger's own verb
        # without HTTP is faster (its append holds the lock only inside PostgreSQL), so the
        # ratio to it is the cost of the HTTP path alone: given beside (`annotate`), not judged.
        _add_run(
            ctx, f"http_cmd_{clients}", SECTION_CMD,
            f"POST major change (token, If-Match, Idempotency-Key → event committed), "
            f"{clients} client{'s' if clients > 1 else ''}", result, unit="cmd/s",
            ceiling=f"es_bare_cmd_{threads}",
            targets=[COMMANDS_VS_ES, COMMANDS_P99] if clients == 16 else [],
            target=("≥ 0.51× raw eventsourcing get+command+save (4 threads); p99 ≤ 50 ms"
                    if clients == 16 else None),
        )
    running = ctx.extras.get("server")
    if running is not None:
        ctx.extras["server_rss_mb"] = max(ctx.extras.get("server_rss_mb", 0.0), running.rss_mb())


def measure_commands_own_projector(ctx: Context) -> None:
    """The same with the projections in their own process (CLUSTER_LEDGER_RUN_PROJECTOR=0 and
    `cluster-ledger project run`): how much of a command's cost is the in-process projector."""
    require_routes(ctx, ("POST", MAJOR_CHANGE_ROUTE))
    result = command_run(ctx, 16, own_projector=True)
    _add_run(ctx, "http_cmd_16_own_projector", SECTION_CMD,
             "the same, 16 clients, projections in their own process (`project run`) — ratio = "
             "vs the in-process projector run of the same round", result, unit="cmd/s",
             ceiling="http_cmd_16")


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
        paths = json_list_paths()
        result = load(ctx, [Script(gets=[Get(path=p, token=province) for p in _rotated(paths, i)])
                            for i in range(16)])
        _add_run(ctx, "http_list_clusters", SECTION_READ,
                 "GET /api/clusters, filtered page of 50 (province user; six filters: none, "
                 "status, programme, city + sort, city + status, industry)", result,
                 ceiling="http_health_16", targets=[LIST_VS_HEALTH, LIST_P99],
                 target="≥ 0.38× GET /health (16 clients); p99 ≤ 25 ms",
                 note=f"{result.bytes_per_request / 1024:,.1f} KB per response")
    else:
        ctx.unavailable("http_list_clusters", SECTION_READ, "GET /api/clusters",
                        "route not in the app")
    if ("GET", "/api/funding") in have:
        paths = ["/api/funding?limit=50", "/api/funding?limit=50&funding_year=1",
                 "/api/funding?limit=50&funding_year=2", "/api/funding?limit=50&region=350203"]
        result = load(ctx, [Script(gets=[Get(path=p, token=xiamen) for p in paths])
                            for _ in range(16)])
        _add_run(ctx, "http_list_funding", SECTION_READ,
                 "GET /api/funding, page of 50 with totals (Xiamen city user)", result,
                 ceiling="http_health_16")
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
    them instead. So the view tables are vacuumed and analysed first, in every round, and the
    report says so."""
    from projections.schema import VIEWS

    tables = [table for spec in VIEWS.values() for table in spec.data_tables()]
    with admin_connection(ctx.conn.url) as pg:
        setting = pg.execute("SHOW autovacuum").fetchone()
        pg.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")  # constant table names
    ctx.extras["vacuumed_views"] = (
        f"Before the read runs of every round the view tables ({', '.join(tables)}) were "
        "VACUUM ANALYZEd, as autovacuum would have done after the command runs (autovacuum on "
        f"this server: {setting[0] if setting else 'unknown'})."
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
    _add_run(ctx, "http_state_at_1", SECTION_STATE,
             f"GET /api/clusters/{{id}}/state?as_of= on the {n:,}-event case, 1 client", single,
             targets=[STATE_P99], target="p99 ≤ 20 ms")
    many = load(ctx, [Script(gets=gets[i:] + gets[:i]) for i in range(16)])
    _add_run(ctx, "http_state_at_16", SECTION_READ,
             f"GET /api/clusters/{{id}}/state?as_of= ({n:,}-event case)", many,
             ceiling="http_health_16")


# ---- the board page (issue 13) -------------------------------------------------------------------

BOARD_USER = "bench-province"
BOARD_PASSWORD = "基准测试 board pages 2026"  # noqa: S105 - a throwaway account in the bench database


def page_session(ctx: Context) -> str:
    """The Cookie header of a signed-in page session of a province user, made once per run: the
    account through the accounts module (as `cluster-ledger user add` makes it), then the
    sign-in form as a browser fills it (GET /login for the CSRF cookie and field, POST /login),
    against the running server."""
    cached = ctx.extras.get("page_cookie")
    if cached:
        return str(cached)
    from infra.accounts import AccountExists, AccountStore
    from infra.rules import load_regions

    with contextlib.suppress(AccountExists):  # a kept bench database (--keep-db) run again
        AccountStore(ctx.conn.url, load_regions()).add(
            BOARD_USER, role=Role.PROVINCE, jurisdiction="350000",
            organisation="福建省工业和信息化厅", password=BOARD_PASSWORD)
    base = server(ctx).base
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login?next=/board", timeout=30) as response:
        form = response.read().decode("utf-8")
    csrf = _hidden_field(form, "_csrf_token")
    body = urllib.parse.urlencode({
        "username": BOARD_USER, "password": BOARD_PASSWORD, "_csrf_token": csrf, "next": "/board",
    }).encode()
    with opener.open(f"{base}/login", data=body, timeout=30) as response:  # 303 → /board
        if response.status != 200 or not response.url.endswith("/board"):
            msg = f"signing in did not land on /board: {response.status} {response.url}"
            raise RuntimeError(msg)
    # Every cookie a browser would send back: the session and the CSRF token's.
    if not any("session" in c.name for c in jar):
        msg = f"no session cookie after signing in (cookies: {[c.name for c in jar]})"
        raise RuntimeError(msg)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    ctx.extras["page_cookie"] = cookie
    return cookie


def _hidden_field(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.find(marker)
    if start < 0:
        msg = f"no {name} field in the sign-in form"
        raise RuntimeError(msg)
    start += len(marker)
    return html[start:html.index('"', start)]


def _check_pages(ctx: Context, paths: list[str], cookie: str, marker: str,
                 any_of: tuple[str, ...] = ()) -> int:
    """Each page once, without following redirects: 200 with the board's table, not a redirect
    to the sign-in form (wrk would count a 303 as an answer); and, when `any_of` is given, with
    one of those strings in it (the as-of board shows its date). Returns the smallest page's
    size."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect())
    smallest = 1 << 30
    for path in paths:
        request = urllib.request.Request(  # noqa: S310 - the bench server on 127.0.0.1
            f"{server(ctx).base}{path}", headers={"Cookie": cookie})
        try:
            with opener.open(request, timeout=60) as response:
                html = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            msg = f"GET {path} with the page session answered {exc.code}"
            raise RuntimeError(msg) from None
        if marker not in html:
            msg = f"GET {path} answered a page without {marker!r}"
            raise RuntimeError(msg)
        if any_of and not any(m in html for m in any_of):
            msg = f"GET {path} answered a page without any of {any_of!r}"
            raise RuntimeError(msg)
        smallest = min(smallest, len(html))
    return smallest


def measure_board_page(ctx: Context) -> None:
    """`/board` (the server-rendered status board) at 16 clients, signed in as a province user,
    with the six filters of the JSON list run and the same page size (50): against
    `GET /api/clusters?limit=50` of the same round (`http_list_clusters`)."""
    require_routes(ctx, ("GET", "/board"), ("POST", "/login"), ("GET", "/api/clusters"))
    cookie = page_session(ctx)
    paths = board_paths()
    smallest = _check_pages(ctx, paths, cookie, "<table")
    result = load(ctx, [Script(gets=[Get(path=p, cookie=cookie) for p in _rotated(paths, i)])
                        for i in range(16)])
    if result.bytes_per_request < smallest * 0.9:
        msg = (f"the board run's responses average {result.bytes_per_request:,.0f} bytes, "
               f"the smallest page {smallest:,}: some were not the page")
        raise RuntimeError(msg)
    _add_run(ctx, "http_board_page", SECTION_READ,
             "GET /board, page of 50, the JSON list's six filters (province user, session "
             "cookie) — ratio = vs GET /api/clusters of the same round", result,
             ceiling="http_list_clusters", targets=[BOARD_VS_LIST],
             target="time per page ≤ 2× the JSON list's",
             note=f"{result.bytes_per_request / 1024:,.1f} KB per response")


# ---- the board as of a date (issue 15) -----------------------------------------------------------


def as_of_board_unavailable(ctx: Context) -> str | None:
    """Why the as-of board cannot be measured as issue 15 means it, or None when it can:
    `GET /api/clusters?as_of=D` must answer keyset pages (one cluster and a `next` cursor for
    `limit=1`, and that cursor another cluster) rather than every cluster in scope folded from
    the log. Probed once per run on the county with most cases by D (a county user: a scope
    that even a fold of every case answers within the probe's timeout)."""
    if "as_of_unavailable" in ctx.extras:
        return ctx.extras["as_of_unavailable"]  # type: ignore[no-any-return]
    with admin_connection(ctx.conn.url) as pg:  # the county with most cases
        row = pg.execute("SELECT county_code FROM proj_status WHERE applied_on <= %s "
                         "GROUP BY county_code ORDER BY count(*) DESC LIMIT 1",
                         (AS_OF_DATE,)).fetchone()
    if row is None:
        msg = f"no cluster had applied by {AS_OF_DATE}"
        raise RuntimeError(msg)
    bearer = token(ctx, Role.COUNTY, row[0], f"bench-county-{row[0]}")

    def page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        query = {"as_of": AS_OF_DATE, "limit": "1"} | ({"cursor": cursor} if cursor else {})
        request = urllib.request.Request(  # noqa: S310 - the bench server on 127.0.0.1
            f"{server(ctx).base}/api/clusters?{urllib.parse.urlencode(query)}",
            headers={"Authorization": f"Bearer {bearer}"})
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback
            body = json.loads(response.read())
        return body.get("items", []), body.get("next")

    reason: str | None = None
    items, cursor = page(None)
    if len(items) != 1 or not cursor:
        reason = (f"GET /api/clusters?as_of= answers {len(items)} clusters for limit=1 "
                  f"{'with' if cursor else 'without'} a next page: it folds every case in scope "
                  "from the event log on each request and ignores paging, so there is no as-of "
                  "board page to time (issue 15's bitemporal view is not in the tree)")
    else:
        following, _ = page(cursor)
        if len(following) != 1 or following[0].get("id") == items[0].get("id"):
            reason = (f"GET /api/clusters?as_of= with the `next` cursor of a limit=1 page "
                      f"answers {len(following)} clusters, not the next one: no keyset pages")
    ctx.extras["as_of_unavailable"] = reason
    return reason


def measure_as_of_board(ctx: Context) -> None:
    """Issue 15's target: the as-of board page (`/board?as_of=D`) at 16 clients within 2× of
    the live board page (`http_board_page`, same round, filters and user); with the JSON pair
    (`/api/clusters?as_of=D` against `http_list_clusters`) beside it. Reported "not available"
    until `GET /api/clusters?as_of=` answers keyset pages."""
    require_routes(ctx, ("GET", "/board"), ("GET", "/api/clusters"))
    label = (f"GET /board?as_of={AS_OF_DATE}, page of 50, the JSON list's six filters (province "
             "user) — ratio = vs the live /board of the same round")
    reason = as_of_board_unavailable(ctx)
    if reason:
        raise NotAvailable(reason, key="http_board_page_as_of", section=SECTION_READ,
                           label=label)
    from bench.features import bitemporal_views

    reads_from = ", ".join(bitemporal_views(ctx)) or "no table with valid- and recorded-time " \
                                                      "columns was found"
    province = token(ctx, Role.PROVINCE, "350000", "bench-province")
    json_paths = json_list_paths(f"&as_of={AS_OF_DATE}")
    result = load(ctx, [Script(gets=[Get(path=p, token=province)
                                     for p in _rotated(json_paths, i)]) for i in range(16)])
    _add_run(ctx, "http_list_clusters_as_of", SECTION_READ,
             f"GET /api/clusters?as_of={AS_OF_DATE}, page of 50, the list's six filters — "
             f"ratio = vs the live list of the same round; reads from: {reads_from}", result,
             ceiling="http_list_clusters",
             note=f"{result.bytes_per_request / 1024:,.1f} KB per response")
    cookie = page_session(ctx)
    paths = board_paths(f"as_of={AS_OF_DATE}")
    # The page as of the date, not the live board under another URL: its date in the form's
    # field or in the links to the cases as of it.
    smallest = _check_pages(ctx, paths, cookie, "<table",
                            any_of=(f'value="{AS_OF_DATE}"', f"as_of={AS_OF_DATE}"))
    result = load(ctx, [Script(gets=[Get(path=p, cookie=cookie) for p in _rotated(paths, i)])
                        for i in range(16)])
    if result.bytes_per_request < smallest * 0.9:
        msg = f"the as-of board run's responses average {result.bytes_per_request:,.0f} bytes"
        raise RuntimeError(msg)
    _add_run(ctx, "http_board_page_as_of", SECTION_READ, label, result,
             ceiling="http_board_page", targets=[AS_OF_VS_LIVE],
             target="time per page ≤ 2× the live board page's",
             note=f"reads from: {reads_from}; {result.bytes_per_request / 1024:,.1f} KB per "
                  "response")


# ---- the same server under python -O -------------------------------------------------------------


def measure_http_optimized(ctx: Context) -> None:
    """Commands (16 clients) and state at a date (1 client) against `serve` under
    PYTHONOPTIMIZE=1, beside the same runs without it in the same round: the figures for the
    -O decision."""
    require_routes(ctx, ("POST", MAJOR_CHANGE_ROUTE))
    result = command_run(ctx, 16, optimize=True)
    _add_run(ctx, "http_cmd_16_O", SECTION_O,
             "POST major change, 16 clients, server under python -O", result, unit="cmd/s",
             ceiling="http_cmd_16", note="ratio = vs the same run without -O")
    if ("GET", "/api/clusters/{cluster_id:uuid}/state") in routes(ctx):
        n, gets = state_gets(ctx, token(ctx, Role.PROVINCE, "350000", "bench-province"))
        single = load(ctx, [Script(gets=gets)], optimize=True)
        _add_run(ctx, "http_state_at_1_O", SECTION_O,
                 f"GET /api/clusters/{{id}}/state?as_of= ({n:,} events), 1 client, server "
                 "under python -O", single, ceiling="http_state_at_1",
                 note="ratio = vs the same run without -O", targets=[STATE_P99_O],
                 target="p99 ≤ 20 ms")
    stop_server(ctx)


# ---- after the rounds ----------------------------------------------------------------------------


def annotate(ctx: Context) -> None:
    """Ratios given beside the judged ones, from the medians: the commands against the ledger's
    own verb without HTTP (the cost of the HTTP path) and against a plain INSERT+COMMIT."""
    for clients in (1, 16):
        figure = ctx.figures.get(f"http_cmd_{clients}")
        if figure is None or not figure.value:
            continue
        threads = min(clients, 4)
        notes = []
        ledger = ctx.figures.get(f"ledger_cmd_{threads}")
        if ledger and ledger.value:
            notes.append(f"{figure.value / ledger.value:.2f}× the ledger's own verb without HTTP "
                         f"({threads} thread{'s' if threads > 1 else ''}, medians)")
        insert = ctx.figures.get(f"asyncpg_insert_{clients}")
        if insert and insert.value:
            notes.append(f"{figure.value / insert.value:.2f}× asyncpg INSERT+COMMIT ({clients}; "
                         "measured once)")
        figure.note = "; ".join(x for x in (figure.note, *notes) if x)
