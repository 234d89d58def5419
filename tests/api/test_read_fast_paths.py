"""The read path's shortcuts give exactly what the long way gave: the spelt-out status filter,
literal county lists, funding totals added up from the county sums, the cached jurisdiction
scopes, the Accept short cut and the cache of verified tokens."""

from __future__ import annotations

import itertools
import random
import time
from datetime import date, timedelta
from typing import Any

import anyio
import asyncpg
import jwt
import pytest
from litestar import Request
from litestar.exceptions import NotAuthorizedException

from api.auth import ALGORITHM, TokenIssuer, TokenVerifier
from api.routes.reads import CSV, wants_csv
from api.scope import region_scope, visible_counties
from domain.actors import Actor, Role
from domain.status import Status, lapses_on, status_on
from infra.database import ConnectionInfo
from infra.rules import load_regions
from projections.queries import (
    STATUS_VALUES,
    FundingFilters,
    _funding_query,
    _funding_totals,
    _Query,
    status_filter_sql,
    status_on_sql,
)

ISSUER, AUDIENCE = "cluster-ledger", "cluster-ledger-api"


async def _connect(info: ConnectionInfo) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(**info.asyncpg_kwargs())
    return conn


# ---- status filter ---------------------------------------------------------------------------


def test_the_spelt_out_status_filter_selects_what_the_derived_status_selects(
    migrated: ConnectionInfo,
) -> None:
    """Over rows as the fold stores them (every recorded status, validity ending before, on and
    after the date or not at all, renewal pending or not, `lapses_on` by the domain), the SQL
    CASE, the spelt-out filter and `domain.status.status_on` select the same rows."""
    on = date(2030, 6, 15)
    valid = [None, on - timedelta(days=2), on - timedelta(days=1), on, on + timedelta(days=1)]
    rows = [
        (str(s), v, p, lapses_on(s, v, p))
        for s, v, p in itertools.product(Status, valid, [False, True])
    ]
    values = ", ".join(f"({i}, '{s}', {_date_sql(lapse)})" for i, (s, _, _, lapse) in
                       enumerate(rows))
    table = f"(VALUES {values}) AS t(id, status, lapses_on)"
    statuses = sorted(STATUS_VALUES)  # the recorded ones and "expired"

    async def scenario() -> None:
        conn = await _connect(migrated)
        try:
            for status in statuses:
                in_python = [i for i, (s, _, _, lapse) in enumerate(rows)
                             if status_on(s, lapse, on) == status]
                derived = await conn.fetch(
                    f"SELECT id FROM {table} WHERE {status_on_sql('$1')} = $2 ORDER BY id",  # noqa: S608
                    on, status,
                )
                literal = f"'{status}'"
                spelt = await conn.fetch(
                    f"SELECT id FROM {table} "  # noqa: S608
                    f"WHERE $1::date IS NOT NULL AND {status_filter_sql('$1', status, literal)} "
                    "ORDER BY id",
                    on,
                )
                assert [r["id"] for r in derived] == in_python, status
                assert spelt == derived, status
            assert any(status_on(s, lapse, on) == "expired" for s, _, _, lapse in rows)
        finally:
            await conn.close()

    anyio.run(scenario)


def _date_sql(value: date | None) -> str:
    return f"'{value}'::date" if value else "NULL::date"


# ---- county lists ----------------------------------------------------------------------------


def test_county_codes_go_into_the_sql_as_a_literal_and_anything_else_is_bound() -> None:
    codes = _Query()
    codes.scope(["350203", "350205"], None)
    assert codes.clauses == ["county_code = ANY('{350203,350205}'::text[])"]
    assert codes.params == []
    odd = _Query()
    odd.scope(["350203", "3502'; --"], "35")
    assert odd.clauses == [
        "county_code = ANY($1::text[])", "starts_with(county_code, $2)"
    ]
    assert odd.params == [["350203", "3502'; --"], "35"]
    nothing = _Query()
    nothing.scope([], None)
    assert nothing.clauses == ["county_code = ANY('{}'::text[])"]


def test_the_cached_jurisdiction_scopes_equal_a_fresh_computation() -> None:
    regions = load_regions()
    for region in regions:
        actor = Actor(user_id="u", role=Role.CITY, organisation="", jurisdiction=region.code)
        fresh = sorted(r.code for r in regions
                       if r.level == "county" and regions.covers(region.code, r.code))
        assert visible_counties(regions, actor) == fresh
        assert visible_counties(regions, actor) == fresh  # from the cache, and not shared
        visible_counties(regions, actor).clear()
        assert visible_counties(regions, actor) == fresh
    province = visible_counties(
        regions, Actor(user_id="u", role=Role.PROVINCE, organisation="", jurisdiction="350000")
    )
    for region in [*regions, None]:
        code = region.code if region else None
        expected: tuple[list[str], str | None] = (province, None)
        if code is not None:
            inside = {r.code for r in regions.counties_in(code)}
            expected = ([c for c in province if c in inside], None)
        assert region_scope(regions, province, code) == expected
    assert region_scope(regions, province, "3502") == (province, "3502")
    assert region_scope(regions, province, "359999") == (province, "359999")


# ---- funding totals --------------------------------------------------------------------------


def test_funding_totals_equal_the_grouping_sets_over_the_same_rows(
    migrated: ConnectionInfo,
) -> None:
    rng = random.Random(6)  # noqa: S311 - test data, not secrets
    places = [("350200", "350203"), ("350200", "350205"), ("350500", "350582"),
              ("350128", "350128")]
    rows = []
    for _ in range(300):
        city, county = rng.choice(places)
        entitled = None if rng.random() < 0.2 else rng.randrange(0, 10**9)
        rows.append((city, county, rng.choice([2024, 2025, 2026]), rng.randint(1, 3), entitled,
                     rng.randrange(0, 10**9), rng.randrange(0, 10**9), rng.randrange(0, 10**9)))

    async def scenario() -> None:
        conn = await _connect(migrated)
        try:
            # A temporary table of the view's name hides the view for this connection only.
            await conn.execute(
                "CREATE TEMP TABLE proj_funding (city_code text NOT NULL, county_code text NOT "
                "NULL, budget_year int NOT NULL, funding_year int NOT NULL, entitled_fen bigint, "
                "approved_fen bigint NOT NULL, paid_fen bigint NOT NULL, remaining_fen bigint "
                "NOT NULL)"
            )
            await conn.executemany(
                "INSERT INTO proj_funding VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", rows
            )
            for counties, prefix, filters in (
                (["350203", "350205", "350582", "350128"], None, FundingFilters()),
                (["350203", "350205"], None, FundingFilters(funding_year=2)),
                (["350203", "350582"], "3505", FundingFilters(year=2025)),
                (["350203"], None, FundingFilters(year=1999)),  # no rows: zeros
            ):
                query, source = _funding_query(counties, prefix, filters)
                totals = await _funding_totals(conn, query, source)
                expected = await _grouping_sets(conn, query)
                assert {
                    "by_county": [_sums(s) for s in totals.by_county],
                    "by_city": [_sums(s) for s in totals.by_city],
                    "by_year": [_sums(s) for s in totals.by_year],
                    "overall": [_sums(totals.overall)],
                } == expected
        finally:
            await conn.close()

    anyio.run(scenario)


def _sums(s: Any) -> tuple[Any, ...]:
    return (s.city_code, s.county_code, s.year, s.entitled_fen, s.approved_fen, s.paid_fen,
            s.remaining_fen)


async def _grouping_sets(conn: asyncpg.Connection, query: _Query) -> dict[str, Any]:
    """The totals as the read API computed them before: one GROUPING SETS query."""
    records = await conn.fetch(
        "SELECT city_code, county_code, budget_year AS year, "  # noqa: S608
        "GROUPING(city_code, county_code, budget_year) AS level, "
        "coalesce(sum(coalesce(entitled_fen, 0)), 0)::bigint, "
        "coalesce(sum(approved_fen), 0)::bigint, coalesce(sum(paid_fen), 0)::bigint, "
        f"coalesce(sum(remaining_fen), 0)::bigint FROM proj_funding{query.where_sql} "
        "GROUP BY GROUPING SETS ((city_code, county_code, budget_year), "
        "(city_code, budget_year), (budget_year), ())",
        *query.params,
    )
    levels: dict[int, list[tuple[Any, ...]]] = {0: [], 2: [], 6: [], 7: []}
    for r in records:
        levels[r["level"]].append(tuple(v for k, v in r.items() if k != "level"))

    def ordered(sums: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted(sums, key=lambda s: (s[1] or "", s[0] or "", s[2] or 0))

    return {"by_county": ordered(levels[0]), "by_city": ordered(levels[2]),
            "by_year": ordered(levels[6]), "overall": levels[7]}


# ---- Accept ----------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [
    None, "", "*/*", "application/json", "text/csv", "TEXT/CSV", "text/*", "*/csv",
    "application/json, text/csv", "text/csv;q=0.5, application/json", "text/html",
    "application/*", "text/csv; charset=utf-8", "image/png", "application/json;q=0, */*",
    "text/plain, */*;q=0.1", "*/*;q=0.1, text/csv",
])
def test_the_accept_short_cut_agrees_with_full_content_negotiation(accept: str | None) -> None:
    headers = [(b"host", b"x")] + ([(b"accept", accept.encode())] if accept is not None else [])
    scope: Any = {"type": "http", "method": "GET", "path": "/api/clusters", "headers": headers,
                  "query_string": b"", "state": {}}
    full = Request[Any, Any, Any](scope).accept.best_match(
        ["application/json", CSV], default="application/json"
    ) == CSV
    assert wants_csv(Request(scope)) is full


# ---- verified tokens -------------------------------------------------------------------------


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "u", "role": "county", "org": "", "jur": "350203", "iss": ISSUER,
            "aud": AUDIENCE, "iat": now, "exp": now + 3600, **extra}


def test_a_verified_token_is_accepted_again_until_it_expires(jwt_keys: tuple[str, str]) -> None:
    private, public = jwt_keys
    verifier = TokenVerifier(public, ISSUER, AUDIENCE, regions=load_regions())
    expires = int(time.time()) + 2
    token = jwt.encode(_claims(exp=expires), private, algorithm=ALGORITHM)
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # from the cache
    while time.time() < expires:
        time.sleep(0.05)
    with pytest.raises(NotAuthorizedException, match="token expired"):
        verifier.verify(token)


def test_rejected_tokens_are_rejected_every_time(jwt_keys: tuple[str, str]) -> None:
    private, public = jwt_keys
    verifier = TokenVerifier(public, ISSUER, AUDIENCE, regions=load_regions())
    good = jwt.encode(_claims(), private, algorithm=ALGORITHM)
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    future = jwt.encode(_claims(nbf=int(time.time()) + 3600), private, algorithm=ALGORITHM)
    wrong_audience = jwt.encode(_claims(aud="elsewhere"), private, algorithm=ALGORITHM)
    for token, message in ((tampered, "invalid token"), (future, "not yet valid"),
                           (wrong_audience, "invalid token")):
        for _ in range(2):
            with pytest.raises(NotAuthorizedException, match=message):
                verifier.verify(token)
    assert verifier.verify(good).jurisdiction == "350203"


def test_the_token_cache_is_bounded(jwt_keys: tuple[str, str]) -> None:
    private, public = jwt_keys
    verifier = TokenVerifier(public, ISSUER, AUDIENCE, regions=load_regions(), cache_size=3)
    issuer = TokenIssuer(private, ISSUER, AUDIENCE)
    tokens = [
        issuer.mint(Actor(user_id=f"u{i}", role=Role.COUNTY, organisation="",
                          jurisdiction="350203"))
        for i in range(10)
    ]
    for token in tokens * 2:
        assert verifier.verify(token).user_id == f"u{tokens.index(token)}"
    assert len(verifier._cache) == 3


def test_a_verifier_with_an_unusable_key_refuses_every_token(
    jwt_keys: tuple[str, str],
) -> None:
    private, _ = jwt_keys
    verifier = TokenVerifier("not a key", ISSUER, AUDIENCE, regions=load_regions())
    with pytest.raises(NotAuthorizedException, match="invalid token"):
        verifier.verify(jwt.encode(_claims(), private, algorithm=ALGORITHM))
