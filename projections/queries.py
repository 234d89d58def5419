"""Read queries over the view tables, for asyncpg: thin SQL, never an aggregate.

Lists are ordered by a unique key and paginated by keyset (`next` is an opaque cursor holding
the last row's key). Every query is restricted to a set of counties: the caller's jurisdiction,
already intersected with any region filter (see `api/routes/reads.py`).

A certification past its validity without a pending renewal reads "expired" on a date: the
status view stores the day it lapses (`lapses_on`, computed by `domain.status.lapses_on` in the
fold), and the SQL here only compares that stored day with the date the caller gives, as
`domain.status.status_on` does in Python.
"""

# SQL text here is assembled from constant table names and SQL fragments only. Every value
# is a bound parameter (or, for lags, an int), except values from closed sets that the server
# itself supplies or has checked: county codes (six digits, from the regions table), a status
# (one of STATUS_VALUES), a programme code (one of `Programme`), the page size (an int) and,
# on the status board, the date the status is read on (a `date`, written digit by digit).
# Those are written into the SQL as literals, so that the planner sees them: asyncpg prepares
# every statement, and after five runs PostgreSQL may switch to a generic plan that, blind to
# `county_code = ANY($1)` and `LIMIT $n`, walks the name index for a city's dozen counties
# instead of reading just their rows; a literal list is also planned once per statement and
# connection rather than on every run.
# ruff: noqa: S608

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from domain.errors import InvalidInput
from domain.rulebook import Programme
from domain.status import EXPIRED, STATUSES_READ, Status
from infra.database import ConnectionInfo
from projections.board_timeline import DeadlineState, FundingState
from projections.folds import DeadlineKind, FundingRow, Payment
from projections.schema import (
    BITEMPORAL,
    DEADLINES,
    FUNDING,
    OPEN_DATE_SQL,
    OPEN_INSTANT_SQL,
    STATUS,
)
from projections.summary import FundingTotal, StatusCount, Summary

STATUS_VALUES = STATUSES_READ
PROGRAMME_VALUES = frozenset(str(p) for p in Programme)
_DIVISION_CODE = re.compile(r"\d{6}", re.ASCII)
_LITERAL = re.compile(r"[a-z_]{1,40}", re.IGNORECASE | re.ASCII)


@functools.lru_cache(maxsize=512)
def _codes_literal(codes: tuple[str, ...]) -> str | None:
    """Division codes as an SQL array literal; None unless every one is six digits."""
    if not all(_DIVISION_CODE.fullmatch(code) for code in codes):
        return None
    return f"'{{{','.join(codes)}}}'"


def _literal(value: str) -> str:
    """A value of a closed set (STATUS_VALUES, PROGRAMME_VALUES) as an SQL string literal."""
    if not _LITERAL.fullmatch(value):
        raise ValueError(value)
    return f"'{value}'"
_FAR_FUTURE = "'infinity'::date"  # asyncpg reads it as date.max and writes date.max back as it


def status_on_sql(on_param: str) -> str:
    """SQL for the status a reader sees on the date bound to `on_param`: `domain.status.
    status_on` over the stored `lapses_on` (NULL: never lapses as recorded)."""
    return f"CASE WHEN lapses_on <= {on_param} THEN '{EXPIRED}' ELSE status END"


def status_filter_sql(on_param: str, status: str, value_sql: str) -> str:
    """SQL for `status_on_sql(on_param) = <status>`, written so that the planner can estimate it.

    The CASE of `status_on_sql` hides the `status` column from the planner's statistics (it
    guesses 0.5% of rows and sorts a bitmap scan instead of walking the sort index). The same
    predicate, spelt out (only a "certified" row has a `lapses_on`, and the CASE turns it into
    "expired" from that day):
      expired   -> lapsed by the date (the partial index of migration 104 finds those rows)
      certified -> recorded "certified" and not lapsed by the date
      any other -> recorded status equals it
    """
    if status == EXPIRED:
        return f"lapses_on <= {on_param}"
    if status == Status.CERTIFIED:
        return f"(status = {value_sql} AND (lapses_on IS NULL OR lapses_on > {on_param}))"
    return f"status = {value_sql}"


class _Query:
    """Collects WHERE clauses and asyncpg's positional parameters."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.clauses: list[str] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def where(self, clause: str) -> None:
        self.clauses.append(clause)

    def scope(self, counties: Sequence[str], prefix: str | None) -> None:
        literal = _codes_literal(tuple(counties))
        if literal is None:  # not codes from the regions table: bound like any other value
            literal = self.bind(list(counties))
        self.where(f"county_code = ANY({literal}::text[])")
        if prefix:
            self.where(f"starts_with(county_code, {self.bind(prefix)})")

    @property
    def where_sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


# ---- cursors -------------------------------------------------------------------------------


def encode_cursor(values: Sequence[Any]) -> str:
    raw = msgspec.json.encode([str(v) for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, parsers: Sequence[Callable[[str], Any]]) -> list[Any]:
    invalid = InvalidInput(
        "invalid_cursor", "the cursor is not one this list returned", field="cursor"
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw, type=list[str])
        parsed = [parse(value) for parse, value in zip(parsers, values, strict=True)]
    except (ValueError, binascii.Error, msgspec.DecodeError, msgspec.ValidationError):
        raise invalid from None
    return parsed


def _text(value: str) -> str:
    if "\x00" in value:  # never in a cursor this list returned: no stored text holds U+0000
        raise ValueError("U+0000 in a cursor")
    return value


# ---- clusters (status board) -----------------------------------------------------------------


class ClusterItem(msgspec.Struct):
    # Not kw_only: `list_clusters` builds items positionally from its rows (see CLUSTER_COLUMNS).
    id: UUID
    name: str
    programme: str
    province_code: str
    city_code: str
    county_code: str
    leading_industry: str
    operating_unit: str | None
    status: str  # as read on the given date ("expired" past validity)
    recorded_status: str
    applied_on: date
    certified_on: date | None
    valid_until: date | None
    renewal_pending: bool
    last_report_year: int | None
    last_final_score: Decimal | None
    next_due_on: date | None
    next_due_kind: str | None
    next_due_overdue: bool
    version: int
    position: int


# ClusterItem's fields in order, each with its SQL over the status view ({status}: the status
# as read on the date bound to {on}).
CLUSTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "cluster_id"),
    *((f, f) for f in ("name", "programme", "province_code", "city_code", "county_code",
                       "leading_industry", "operating_unit")),
    ("status", "{status}"),
    ("recorded_status", "status"),
    *((f, f) for f in ("applied_on", "certified_on", "valid_until", "renewal_pending",
                       "last_report_year", "last_final_score", "next_due_on", "next_due_kind")),
    ("next_due_overdue", "coalesce(next_due_on < {on}, false)"),
    ("version", "version"),
    ("position", "position"),
)
if tuple(f for f, _ in CLUSTER_COLUMNS) != ClusterItem.__struct_fields__:
    raise RuntimeError("CLUSTER_COLUMNS must list ClusterItem's fields in order")


class ClusterPage(msgspec.Struct, kw_only=True):
    items: list[ClusterItem]
    next: str | None  # pass as `cursor` for the next page; None on the last page


class ClusterFilters(msgspec.Struct, frozen=True, kw_only=True):
    status: str | None = None
    programme: str | None = None
    industry: str | None = None  # part of the leading industry's name
    due_before: date | None = None  # next deadline strictly before this date
    name: str | None = None  # part of the cluster's name


class BoardHistory(msgspec.Struct, frozen=True, kw_only=True):
    """The board as it stood on `as_of` (valid time; None: every event known, whatever its
    date) as recorded at `known_at` (transaction time; None: as the record stands now),
    read from the bitemporal view (`projections.bitemporal`)."""

    as_of: date | None = None
    known_at: datetime | None = None

    def status_on(self) -> date:
        """The date statuses are read on, as `domain.history.case_at` reads them: `as_of`,
        else the date of `known_at` (UTC)."""
        if self.as_of is not None:
            return self.as_of
        if self.known_at is None:
            raise ValueError("a board in the past needs as_of or known_at")
        return self.known_at.astimezone(UTC).date()


def valid_sql(as_of_sql: str | None) -> list[str]:
    """The conditions that pick a bitemporal row in force on the date `as_of_sql` (an SQL
    expression; None: the rows without an end, in force from their date on)."""
    if as_of_sql is None:
        return [f"valid_to = {OPEN_DATE_SQL}"]
    return [f"valid_from <= {as_of_sql}", f"valid_to > {as_of_sql}"]


def recorded_sql(known_at_sql: str | None) -> list[str]:
    """The conditions that pick a bitemporal row on record at the instant `known_at_sql` (an
    SQL expression; None: the record as it stands now)."""
    if known_at_sql is None:
        return [f"recorded_to = {OPEN_INSTANT_SQL}"]
    return [f"recorded_from <= {known_at_sql}", f"recorded_to > {known_at_sql}"]


class _Sort(NamedTuple):
    expression: str  # SQL over the status view
    parser: Callable[[str], Any]  # of a cursor value
    field: str  # the ClusterItem field the expression reads
    nulls_last: bool  # NULL sorts as the far future (read by asyncpg as date.max)


# sort name -> how; NULL dates sort last ascending.
CLUSTER_SORTS: dict[str, _Sort] = {
    "name": _Sort("name", _text, "name", nulls_last=False),
    "county_code": _Sort("county_code", _text, "county_code", nulls_last=False),
    "applied_on": _Sort("applied_on", date.fromisoformat, "applied_on", nulls_last=False),
    "certified_on": _Sort(
        f"coalesce(certified_on, {_FAR_FUTURE})", date.fromisoformat, "certified_on",
        nulls_last=True,
    ),
    "valid_until": _Sort(
        f"coalesce(valid_until, {_FAR_FUTURE})", date.fromisoformat, "valid_until",
        nulls_last=True,
    ),
    "next_due_on": _Sort(
        f"coalesce(next_due_on, {_FAR_FUTURE})", date.fromisoformat, "next_due_on",
        nulls_last=True,
    ),
    "position": _Sort("position", int, "position", nulls_last=False),
}


def _sort(sort: str) -> tuple[_Sort, bool]:
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in CLUSTER_SORTS:
        raise InvalidInput(
            "invalid_sort", f"sort by one of {', '.join(CLUSTER_SORTS)} (prefix - to reverse)",
            field="sort",
        )
    return CLUSTER_SORTS[key], descending


def _date_literal(on: date) -> str:
    return f"'{on.year:04d}-{on.month:02d}-{on.day:02d}'::date"


def city_prefix_sql(counties: Sequence[str]) -> str | None:
    """`left(county_code, 4) = '<prefix>'` when the counties (two or more) all lie under one
    four-digit prefix (one city, GB/T 2260), else None.

    The clause is implied by the county list, so it changes no answer; it lets the planner
    walk a city index (migration 103) in the page's sort order and stop after a page, where
    `county_code = ANY(...)` alone makes it read and sort every row of the city. An equality,
    not `= ANY`: only an equality on an index's first column keeps the index order usable.
    One county's rows are few and its own index finds them; the clause would only add a
    second bitmap to AND with.
    """
    if len(counties) < 2 or not all(_DIVISION_CODE.fullmatch(code) for code in counties):
        return None
    prefixes = {code[:4] for code in counties}
    if len(prefixes) != 1:
        return None
    return f"left(county_code, 4) = '{prefixes.pop()}'"


@functools.lru_cache(maxsize=1024)
def _cluster_sql(
    on: date, counties: tuple[str, ...], status: str | None, programme: str | None, *,
    prefix: bool, industry: bool, due_before: bool, cursor: bool, sort: str, limit: int,
    name: bool = False, history: bool = False, as_of: date | None = None, known: bool = False,
) -> tuple[str, tuple[str, ...]]:
    """The SQL of one page of the board and the names of its bound parameters, in order.

    Everything the text depends on is an argument, so the text is built once per shape and
    asyncpg finds its prepared statement by it. The date is a literal like the county list:
    with no parameter left (a first page without an industry or due-date filter), PostgreSQL
    plans the statement once per connection instead of planning a custom plan on every run.

    With `history`, the same page over the bitemporal view: each case's row in force on
    `as_of` as recorded at the bound `known_at` (if `known`), else as recorded now.
    """
    how, descending = _sort(sort)
    query = _Query()
    on_sql = _date_literal(on)
    if history:
        for clause in (
            *valid_sql(None if as_of is None else _date_literal(as_of)),
            *recorded_sql(query.bind("known_at") if known else None),
        ):
            query.where(clause)
    literal = _codes_literal(counties)
    query.where(f"county_code = ANY({literal or query.bind('counties')}::text[])")
    if literal is not None and (city := city_prefix_sql(counties)) is not None:
        query.where(city)
    if prefix:
        query.where(f"starts_with(county_code, {query.bind('prefix')})")
    if status is not None:
        query.where(status_filter_sql(on_sql, status, _literal(status)))
    if programme is not None:
        programme_sql = (
            _literal(programme) if programme in PROGRAMME_VALUES else query.bind("programme")
        )
        query.where(f"programme = {programme_sql}")
    if industry:
        query.where(f"strpos(leading_industry, {query.bind('industry')}) > 0")
    if name:
        query.where(f"strpos(name, {query.bind('name')}) > 0")
    if due_before:
        query.where(f"next_due_on < {query.bind('due_before')}")
    if cursor:
        comparison = "<" if descending else ">"
        query.where(
            f"({how.expression}, cluster_id) {comparison} ({query.bind('cursor_value')}, "
            f"{query.bind('cursor_id')})"
        )
    direction = "DESC" if descending else "ASC"
    status_sql = status_on_sql(on_sql)
    columns = ", ".join(
        f"{column.format(status=status_sql, on=on_sql)} AS {field}"
        for field, column in CLUSTER_COLUMNS
    )
    table = BITEMPORAL.prefix if history else STATUS.prefix
    sql = (
        f"SELECT {columns} FROM {table}{query.where_sql} "
        f"ORDER BY {how.expression} {direction}, cluster_id {direction} "
        f"LIMIT {int(limit) + 1:d}"
    )
    return sql, tuple(query.params)


async def list_clusters(
    conn: Any, *, on: date, counties: Sequence[str], prefix: str | None,
    filters: ClusterFilters, sort: str, limit: int, cursor: str | None,
    history: BoardHistory | None = None,
) -> ClusterPage:
    """One page of the board, status read on `on`; with `history`, the board as it stood
    then (the same filters, sorts and pages; `next_due_*` the case's next deadline then)."""
    how, _ = _sort(sort)
    if filters.status is not None and filters.status not in STATUS_VALUES:
        raise InvalidInput(
            "invalid_status", f"status is one of {', '.join(sorted(STATUS_VALUES))}",
            field="status",
        )
    values: dict[str, Any] = {
        "prefix": prefix, "programme": filters.programme,
        # The view holds, and the board shows, the storable form of the industry
        # (`projections.text`); a search (which passed the edge's text policy) matches it.
        "industry": filters.industry,
        "name": filters.name,
        "due_before": filters.due_before,
        "known_at": history.known_at if history is not None else None,
    }
    if cursor is not None:
        sort_key, values["cursor_value"], values["cursor_id"] = decode_cursor(
            cursor, [_text, how.parser, UUID]
        )
        if sort_key != sort:
            raise InvalidInput(
                "invalid_cursor", "the cursor belongs to another sort order", field="cursor"
            )
    sql, names = _cluster_sql(
        on, tuple(counties), filters.status, filters.programme, prefix=bool(prefix),
        industry=bool(filters.industry), due_before=filters.due_before is not None,
        cursor=cursor is not None, sort=sort, limit=limit, name=bool(filters.name),
        history=history is not None, as_of=history.as_of if history is not None else None,
        known=history is not None and history.known_at is not None,
    )
    records = await conn.fetch(
        sql, *[list(counties) if name == "counties" else values[name] for name in names]
    )
    # The columns are ClusterItem's fields in order: positional construction (asyncpg has
    # already decoded each column to its field's type).
    items = [ClusterItem(*r) for r in records[:limit]]
    after = None
    if len(records) > limit:
        value = getattr(items[-1], how.field)
        if value is None and how.nulls_last:
            value = date.max  # what asyncpg reads for the expression's 'infinity'
        after = encode_cursor([sort, _cursor_value(value), items[-1].id])
    return ClusterPage(items=items, next=after)


def _cursor_value(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


# ---- deadlines -------------------------------------------------------------------------------


class DeadlineItem(msgspec.Struct, kw_only=True):
    cluster_id: UUID
    name: str
    programme: str
    city_code: str
    county_code: str
    kind: str
    subject: str
    due_on: date
    provisional: bool  # the working-day calendar did not know a year the count went through
    overdue: bool  # due before the reference date (the due date itself is in time)
    position: int


class DeadlinePage(msgspec.Struct, kw_only=True):
    items: list[DeadlineItem]
    next: str | None


class DeadlineFilters(msgspec.Struct, frozen=True, kw_only=True):
    kind: str | None = None
    programme: str | None = None
    cluster_id: UUID | None = None
    due_before: date | None = None
    overdue_on: date | None = None  # only obligations overdue on this date


def _history_sql(query: _Query, history: BoardHistory) -> str:
    """The conditions that pick each case's bitemporal row in force on `history.as_of` as
    recorded at `history.known_at` (bound to `query`)."""
    return " AND ".join((
        *valid_sql(None if history.as_of is None else query.bind(history.as_of)),
        *recorded_sql(None if history.known_at is None else query.bind(history.known_at)),
    ))


_CASE_COLUMNS_THEN = "b.cluster_id, b.name, b.programme, b.city_code, b.county_code, b.position"
_DEADLINE_RECORD = "kind text, subject text, due_on date, provisional boolean"


def _record_fields(record: str) -> tuple[str, ...]:
    return tuple(column.split()[0] for column in record.split(", "))


def _deadlines_source(query: _Query, history: BoardHistory | None) -> str:
    """What the deadlines list reads: the deadlines view, or each case's open obligations as
    they stood then (the `deadlines` of its bitemporal row, `projections.board_timeline`),
    in the same columns."""
    if history is None:
        return DEADLINES.prefix
    return (
        f"(SELECT {_CASE_COLUMNS_THEN}, d.* FROM {BITEMPORAL.prefix} b "
        f"CROSS JOIN LATERAL jsonb_to_recordset(b.deadlines) AS d({_DEADLINE_RECORD}) "
        f"WHERE {_history_sql(query, history)}) AS deadlines_then"
    )


async def list_deadlines(
    conn: Any, *, on: date, counties: Sequence[str], prefix: str | None,
    filters: DeadlineFilters, limit: int, cursor: str | None,
    history: BoardHistory | None = None,
) -> DeadlinePage:
    """One page of open obligations by due date; `overdue` read on `filters.overdue_on`,
    else `on`. With `history`, the obligations open on `history.as_of` as recorded at
    `history.known_at` (the bitemporal view): the same filters, order and pages."""
    query = _Query()
    source = _deadlines_source(query, history)
    reference = query.bind(filters.overdue_on or on)
    query.scope(counties, prefix)
    if filters.kind is not None:
        if filters.kind not in {str(k) for k in DeadlineKind}:
            raise InvalidInput(
                "invalid_kind", f"kind is one of {', '.join(DeadlineKind)}", field="kind"
            )
        query.where(f"kind = {query.bind(filters.kind)}")
    if filters.programme is not None:
        query.where(f"programme = {query.bind(filters.programme)}")
    if filters.cluster_id is not None:
        query.where(f"cluster_id = {query.bind(filters.cluster_id)}")
    if filters.due_before is not None:
        query.where(f"due_on < {query.bind(filters.due_before)}")
    if filters.overdue_on is not None:
        query.where(f"due_on < {reference}")
    if cursor is not None:
        due_on, cluster_id, kind, subject = decode_cursor(
            cursor, [date.fromisoformat, UUID, _text, _text]
        )
        query.where(
            f"(due_on, cluster_id, kind, subject) > ({query.bind(due_on)}, "
            f"{query.bind(cluster_id)}, {query.bind(kind)}, {query.bind(subject)})"
        )
    sql = (
        f"SELECT cluster_id, name, programme, city_code, county_code, kind, subject, due_on, "
        f"provisional, due_on < {reference} AS overdue, position "
        f"FROM {source}{query.where_sql} "
        f"ORDER BY due_on, cluster_id, kind, subject LIMIT {int(limit) + 1:d}"
    )
    records = await conn.fetch(sql, *query.params)
    items = [msgspec.convert(dict(r), DeadlineItem) for r in records[:limit]]
    after = None
    if len(records) > limit:
        last = items[-1]
        after = encode_cursor([last.due_on, last.cluster_id, last.kind, last.subject])
    return DeadlinePage(items=items, next=after)


class DeadlineCounts(msgspec.Struct, frozen=True, kw_only=True):
    overdue: int  # due before the reference date
    due_soon: int  # due on it or within the window after it


async def count_deadlines(
    conn: Any, *, on: date, within_days: int, counties: Sequence[str], prefix: str | None
) -> DeadlineCounts:
    """How many open obligations are overdue on `on`, and how many fall due within
    `within_days` days from it (the overview's figures)."""
    query = _Query()
    query.scope(counties, prefix)
    today, horizon = query.bind(on), query.bind(on + timedelta(days=within_days))
    record = await conn.fetchrow(
        f"SELECT count(*) FILTER (WHERE due_on < {today})::int AS overdue, "
        f"count(*) FILTER (WHERE due_on >= {today} AND due_on <= {horizon})::int AS due_soon "
        f"FROM {DEADLINES.prefix}{query.where_sql}",
        *query.params,
    )
    return DeadlineCounts(overdue=record["overdue"], due_soon=record["due_soon"])


# ---- funding ledger --------------------------------------------------------------------------


class FundingSum(msgspec.Struct, kw_only=True):
    city_code: str | None
    county_code: str | None
    year: int | None  # budget year
    entitled_fen: int
    approved_fen: int
    paid_fen: int
    remaining_fen: int


class FundingTotals(msgspec.Struct, kw_only=True):
    by_county: list[FundingSum]  # county x budget year
    by_city: list[FundingSum]  # city x budget year
    by_year: list[FundingSum]
    overall: FundingSum


class FundingPage(msgspec.Struct, kw_only=True):
    items: list[FundingRow]
    next: str | None
    totals: FundingTotals  # over every row the filters select, not only this page


class FundingFilters(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID | None = None
    funding_year: int | None = None
    year: int | None = None  # budget year


_FUNDING_COLUMNS = ", ".join(
    "payments::text AS payments" if column == "payments" else column
    for column in FundingRow.__struct_fields__
)
_SUMS = (
    "coalesce(sum(coalesce(entitled_fen, 0)), 0)::bigint AS entitled_fen, "
    "coalesce(sum(approved_fen), 0)::bigint AS approved_fen, "
    "coalesce(sum(paid_fen), 0)::bigint AS paid_fen, "
    "coalesce(sum(remaining_fen), 0)::bigint AS remaining_fen"
)


_FUNDING_RECORD = (
    "funding_year int, budget_year int, plan_submitted_on date, requested_fen bigint, "
    "district_passed boolean, entitled_fen bigint, entitlement_fixed boolean, "
    "approved_fen bigint, approved_on date, notice_ends_on date, notice_provisional boolean, "
    "paid_fen bigint, remaining_fen bigint, payments jsonb, rulebook_version text"
)
if (_record_fields(_FUNDING_RECORD) != FundingState.__struct_fields__
        or _record_fields(_DEADLINE_RECORD) != DeadlineState.__struct_fields__):
    raise RuntimeError("the jsonb record types must list FundingState's / DeadlineState's fields")


def _funding_source(query: _Query, history: BoardHistory | None) -> str:
    """What the funding ledger reads: the funding view, or each case's funding years as they
    stood then (the `funding` of its bitemporal row), in the same columns."""
    if history is None:
        return FUNDING.prefix
    return (
        f"(SELECT {_CASE_COLUMNS_THEN}, f.* FROM {BITEMPORAL.prefix} b "
        f"CROSS JOIN LATERAL jsonb_to_recordset(b.funding) AS f({_FUNDING_RECORD}) "
        f"WHERE {_history_sql(query, history)}) AS funding_then"
    )


def _funding_query(
    counties: Sequence[str], prefix: str | None, filters: FundingFilters,
    history: BoardHistory | None = None,
) -> tuple[_Query, str]:
    query = _Query()
    source = _funding_source(query, history)
    query.scope(counties, prefix)
    if filters.cluster_id is not None:
        query.where(f"cluster_id = {query.bind(filters.cluster_id)}")
    if filters.funding_year is not None:
        query.where(f"funding_year = {query.bind(filters.funding_year)}")
    if filters.year is not None:
        query.where(f"budget_year = {query.bind(filters.year)}")
    return query, source


def funding_row(record: Any) -> FundingRow:
    data = dict(record)
    data["payments"] = msgspec.json.decode(data["payments"], type=tuple[Payment, ...])
    return msgspec.convert(data, FundingRow)


async def list_funding(
    conn: Any, *, counties: Sequence[str], prefix: str | None, filters: FundingFilters,
    limit: int, cursor: str | None, history: BoardHistory | None = None,
) -> FundingPage:
    """One page of funding years (by county, cluster, year) with the totals of every row the
    filters select. With `history`, the funding years as they stood on `history.as_of` as
    recorded at `history.known_at` (the bitemporal view): paid is what was paid by then as
    known then; the same filters, order, pages and totals. `position` is then that of the
    event that recorded the case's row."""
    query, source = _funding_query(counties, prefix, filters, history)
    totals = await _funding_totals(conn, query, source)
    if cursor is not None:
        county, cluster_id, funding_year = decode_cursor(cursor, [_text, UUID, int])
        query.where(
            f"(county_code, cluster_id, funding_year) > ({query.bind(county)}, "
            f"{query.bind(cluster_id)}, {query.bind(funding_year)})"
        )
    sql = (
        f"SELECT {_FUNDING_COLUMNS} FROM {source}{query.where_sql} "
        f"ORDER BY county_code, cluster_id, funding_year LIMIT {int(limit) + 1:d}"
    )
    records = await conn.fetch(sql, *query.params)
    items = [funding_row(r) for r in records[:limit]]
    after = None
    if len(records) > limit:
        last = items[-1]
        after = encode_cursor([last.county_code, last.cluster_id, last.funding_year])
    return FundingPage(items=items, next=after, totals=totals)


async def _funding_totals(conn: Any, query: _Query, source: str) -> FundingTotals:
    """Sums per county and budget year from SQL; per city and year, per year and overall
    added up here from those (integers: the same totals GROUPING SETS would give, for about
    half of PostgreSQL's work)."""
    sql = (
        f"SELECT city_code, county_code, budget_year AS year, {_SUMS} "
        f"FROM {source}{query.where_sql} GROUP BY city_code, county_code, budget_year"
    )
    records = await conn.fetch(sql, *query.params)
    by_county = [msgspec.convert(dict(record), FundingSum) for record in records]
    by_city: dict[tuple[str | None, int | None], list[int]] = {}
    by_year: dict[int | None, list[int]] = {}
    overall = [0, 0, 0, 0]
    for row in by_county:
        amounts = (row.entitled_fen, row.approved_fen, row.paid_fen, row.remaining_fen)
        for sums in (
            by_city.setdefault((row.city_code, row.year), [0, 0, 0, 0]),
            by_year.setdefault(row.year, [0, 0, 0, 0]),
            overall,
        ):
            for i, amount in enumerate(amounts):
                sums[i] += amount

    def total(city: str | None, year: int | None, sums: list[int]) -> FundingSum:
        return FundingSum(
            city_code=city, county_code=None, year=year, entitled_fen=sums[0],
            approved_fen=sums[1], paid_fen=sums[2], remaining_fen=sums[3],
        )

    def ordered(sums: list[FundingSum]) -> list[FundingSum]:
        return sorted(sums, key=lambda s: (s.county_code or "", s.city_code or "", s.year or 0))

    return FundingTotals(
        by_county=ordered(by_county),
        by_city=ordered([total(city, year, sums) for (city, year), sums in by_city.items()]),
        by_year=ordered([total(None, year, sums) for year, sums in by_year.items()]),
        overall=total(None, None, overall),
    )


async def cluster_county(conn: Any, cluster_id: UUID) -> str | None:
    """The county of a cluster on the status board, or None if the board does not know it."""
    county: str | None = await conn.fetchval(
        f"SELECT county_code FROM {STATUS.prefix} WHERE cluster_id = $1",
        cluster_id,
    )
    return county


# ---- statistics --------------------------------------------------------------------------


async def fetch_summary(
    conn: Any, *, on: date, counties: Sequence[str] | None = None, prefix: str | None = None
) -> Summary:
    """The `Summary` that `projections.summary.summarise` computes, straight from the views.

    `counties=None` covers every county (for the offline verifier's comparison).
    """
    status_query, funding_query = _Query(), _Query()
    on_param = status_query.bind(on)
    for query in (status_query, funding_query):
        if counties is not None:
            query.scope(counties, prefix)
        elif prefix:
            query.where(f"starts_with(county_code, {query.bind(prefix)})")
    status_sql = status_on_sql(on_param)
    status_records = await conn.fetch(
        f"SELECT {status_sql} AS status, city_code, county_code, "
        f"extract(year FROM applied_on)::int AS year, count(*)::int AS clusters "
        f"FROM {STATUS.prefix}{status_query.where_sql} GROUP BY 1, 2, 3, 4",
        *status_query.params,
    )
    funding_records = await conn.fetch(
        f"SELECT city_code, county_code, budget_year AS year, {_SUMS} "
        f"FROM {FUNDING.prefix}{funding_query.where_sql} GROUP BY 1, 2, 3",
        *funding_query.params,
    )
    clusters = sorted(
        (msgspec.convert(dict(r), StatusCount) for r in status_records),
        key=lambda c: (c.status, c.county_code, c.year),
    )
    funding = sorted(
        (msgspec.convert(dict(r), FundingTotal) for r in funding_records),
        key=lambda f: (f.county_code, f.year),
    )
    return Summary(on=on, clusters=tuple(clusters), funding=tuple(funding))


def read_summary(conn_info: ConnectionInfo, *, on: date) -> Summary:
    """`fetch_summary` over the whole province, from synchronous code (the offline verifier)."""
    import asyncio

    import asyncpg

    async def run() -> Summary:
        conn = await asyncpg.connect(**conn_info.asyncpg_kwargs())
        try:
            return await fetch_summary(conn, on=on)
        finally:
            await conn.close()

    return asyncio.run(run())
