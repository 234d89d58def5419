"""The status board (`/board`): every cluster in the reader's jurisdiction, with filters
(programme, city/district, status, industry, name), sorting and pages; as it was on a date
(`as_of`) and as known at a time (`known_at`); and as CSV/XLSX with the same filters
(`format=`).

The live board reads the status view through `projections.queries.list_clusters`, as
`GET /api/clusters` does; the board at a date reads the bitemporal view through the same
query, as `GET /api/clusters?as_of=` does (the same filters, sorts, pages and downloads).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import QueryParameter

from api import i18n
from api.input_policy import query_date, query_text
from api.routes.reads import board_history
from api.scope import read_scope
from api.web import downloads
from api.web.downloads import Kind
from api.web.page import (
    Page,
    PageRequest,
    column,
    download,
    open_page,
    options,
    render_filtered,
    shown_filters,
    wanted_format,
)
from domain.case import Status
from projections.queries import ClusterFilters, ClusterItem, list_clusters

PAGE_SIZE = 50
EXPORT_PAGE = 500
SORTS = ("name", "county_code", "applied_on", "certified_on", "valid_until", "next_due_on")
STATUSES = (*(str(s) for s in Status), "expired")
PROGRAMMES = ("FJ", "XM")

Text = Annotated[str | None, QueryParameter(max_length=100)]
Day = Annotated[date | None, QueryParameter()]


def columns(page: Page) -> list[downloads.Column]:
    t, region = page.t, page.region
    return [
        column("name", t("board.col.name")),
        column("programme", t("board.col.programme"),
               value=lambda i: t(f"programme.{i.programme}")),
        column("city", t("board.col.city"), value=lambda i: region(i.city_code)),
        column("county", t("board.col.county"), value=lambda i: region(i.county_code)),
        column("county_code", t("board.col.county_code")),
        column("leading_industry", t("board.col.industry")),
        column("operating_unit", t("board.col.operating_unit"),
               value=lambda i: i.operating_unit or ""),
        column("status", t("board.col.status"), value=lambda i: t(f"status.{i.status}")),
        column("applied_on", t("board.col.applied_on"), Kind.DATE),
        column("certified_on", t("board.col.certified_on"), Kind.DATE),
        column("valid_until", t("board.col.valid_until"), Kind.DATE),
        column("last_report_year", t("board.col.last_report"), Kind.INT),
        column("last_final_score", t("board.col.last_score"), Kind.DECIMAL),
        column("next_due_kind", t("board.col.next_due"),
               value=lambda i: t(f"deadline_kind.{i.next_due_kind}") if i.next_due_kind else ""),
        column("next_due_on", t("board.col.next_due_on"), Kind.DATE),
        column("next_due_overdue", t("board.col.overdue"), Kind.BOOL),
    ]


class ShownDate(msgspec.Struct, frozen=True):
    iso: str  # for <time datetime>
    text: str  # as the reader reads it


class BoardRow(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the board's table, every cell already in the reader's words: the template
    only places and escapes them (a page of 50 rows would otherwise make some 600 template
    calls for labels, places and dates)."""

    href: str
    name: str
    programme: str
    region: str
    county_code: str
    industry: str
    status: str
    status_text: str
    certified_on: ShownDate | None
    valid_until: ShownDate | None
    last_report: str
    last_score: str
    next_due: str | None  # the kind of the next deadline in words; None: no deadline
    next_due_on: ShownDate | None
    overdue: bool


def board_rows(page: Page, items: Sequence[ClusterItem], as_of: date | None) -> list[BoardRow]:
    lang = page.lang
    programmes = i18n.labels(lang, "programme")
    statuses = i18n.labels(lang, "status")
    kinds = i18n.labels(lang, "deadline_kind")
    link_suffix = f"?as_of={as_of.isoformat()}" if as_of else ""

    def day(value: date | None) -> ShownDate | None:
        return ShownDate(value.isoformat(), i18n.format_date(value, lang)) if value else None

    return [
        BoardRow(
            href=f"/clusters/{item.id}{link_suffix}",
            name=item.name,
            programme=programmes.get(item.programme, item.programme),
            region=page.region(item.county_code),
            county_code=item.county_code,
            industry=item.leading_industry,
            status=item.status,
            status_text=statuses.get(item.status, item.status),
            certified_on=day(item.certified_on),
            valid_until=day(item.valid_until),
            last_report=str(item.last_report_year or "—"),
            last_score=str(item.last_final_score) if item.last_final_score is not None else "—",
            next_due=kinds.get(item.next_due_kind, item.next_due_kind)
            if item.next_due_kind else None,
            next_due_on=day(item.next_due_on),
            overdue=item.next_due_overdue,
        )
        for item in items
    ]


@get("/board", name="board", include_in_schema=False)
async def board_page(
    request: PageRequest,
    status: Annotated[str | None, QueryParameter(max_length=30)] = None,
    programme: Annotated[str | None, QueryParameter(max_length=20)] = None,
    region: Annotated[str | None, QueryParameter(pattern=r"^\d{0,6}$")] = None,
    industry: Text = None,
    name: Text = None,
    sort: Annotated[str, QueryParameter(max_length=20)] = "name",
    cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    on: Day = None,
    as_of: Day = None,
    known_at: Annotated[datetime | None, QueryParameter()] = None,
) -> Any:
    """The board, its next page (`cursor`), the table alone for htmx, or a download."""
    page = await open_page(request)
    fmt = wanted_format(request)
    on = query_date("on", on) or page.today
    history = board_history(as_of, known_at)
    as_of, known_at = (history.as_of, history.known_at) if history else (None, None)
    region = region or None
    counties, prefix = read_scope(page.runtime, page.actor, region)
    filters = ClusterFilters(
        status=status if status in STATUSES else None,
        programme=programme if programme in PROGRAMMES else None,
        industry=query_text("industry", industry) or None,
        name=query_text("name", name) or None,
    )
    sort = sort if sort.removeprefix("-") in SORTS else "name"
    historical = history is not None
    if history is not None:
        on = history.status_on()
    shown = shown_filters(page, {
        "name": filters.name, "industry": filters.industry,
        "programme": filters.programme and page.t(f"programme.{filters.programme}"),
        "region": region and page.region(region),
        "status": filters.status and page.t(f"status.{filters.status}"),
        "on": page.t("board.now") if on == page.today else on.isoformat(),
        "as_of": as_of.isoformat() if as_of else None,
        "known_at": known_at.isoformat() if known_at else None,
    })
    if fmt is not None:
        async with downloads.snapshot(page.runtime.pool) as snap:
            rows = downloads.all_pages(lambda c: list_clusters(
                snap.conn, on=on, counties=counties, prefix=prefix, filters=filters, sort=sort,
                limit=EXPORT_PAGE, cursor=c, history=history,
            ))
            return await download(page, fmt, title_key="board.title", ascii_name="board",
                                  columns=columns(page), rows=rows, filters=shown,
                                  snapshot=snap)
    async with page.runtime.pool.acquire() as conn:
        board = await list_clusters(
            conn, on=on, counties=counties, prefix=prefix, filters=filters, sort=sort,
            limit=PAGE_SIZE, cursor=cursor, history=history,
        )
    values = {
        "board": board, "rows": board_rows(page, board.items, as_of), "filters": filters,
        "region": region or "", "sort": sort,
        "as_of": as_of, "known_at": known_at, "historical": historical,
        "shown_filters": shown, "sorts": SORTS,
        "status_options": options(page, "status", STATUSES),
        "programme_options": options(page, "programme", PROGRAMMES),
    }
    return render_filtered(page, "board.html", "board_table.html", **values)


ROUTES = [board_page]
