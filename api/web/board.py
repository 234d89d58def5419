"""The status board (`/board`): every cluster in the reader's jurisdiction, with filters,
sorting and pages; as it was on a date (`as_of`) and as known at a time (`known_at`); and as
CSV/XLSX with the same filters (`format=`).

The live board reads the status view through `projections.queries.list_clusters`, as
`GET /api/clusters` does; the board at a date is `api.routes.audit.board_as_of`, as
`GET /api/clusters?as_of=` is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any

from litestar import get
from litestar.params import QueryParameter

from api import i18n
from api.input_policy import query_date, query_instant, query_text
from api.routes.audit import board_as_of
from api.scope import read_scope
from api.web import downloads
from api.web.page import Page, PageRequest, download, is_partial, open_page, render, wanted_format
from domain.case import Status
from domain.rulebook import Programme
from projections.queries import ClusterFilters, ClusterItem, ClusterPage, list_clusters

PAGE_SIZE = 50
EXPORT_PAGE = 500
SORTS = ("name", "county_code", "applied_on", "certified_on", "valid_until", "next_due_on")
STATUSES = (*(str(s) for s in Status), "expired")

Text = Annotated[str | None, QueryParameter(max_length=100)]
Day = Annotated[date | None, QueryParameter()]


def board_filters(
    page: Page, *, status: str | None, programme: str | None, industry: str | None,
    name: str | None,
) -> ClusterFilters:
    return ClusterFilters(
        status=status if status in STATUSES else None,
        programme=programme if programme in {str(p) for p in Programme} else None,
        industry=query_text("industry", industry) or None,
        name=query_text("name", name) or None,
    )


def _columns(page: Page) -> list[downloads.Column]:
    t = page.t
    return [
        downloads.Column(t("board.col.name"), "text"),
        downloads.Column(t("board.col.programme"), "text"),
        downloads.Column(t("board.col.city"), "text"),
        downloads.Column(t("board.col.county"), "text"),
        downloads.Column(t("board.col.county_code"), "text"),
        downloads.Column(t("board.col.industry"), "text"),
        downloads.Column(t("board.col.operating_unit"), "text"),
        downloads.Column(t("board.col.status"), "text"),
        downloads.Column(t("board.col.applied_on"), "date"),
        downloads.Column(t("board.col.certified_on"), "date"),
        downloads.Column(t("board.col.valid_until"), "date"),
        downloads.Column(t("board.col.last_report"), "int"),
        downloads.Column(t("board.col.last_score"), "decimal"),
        downloads.Column(t("board.col.next_due"), "text"),
        downloads.Column(t("board.col.next_due_on"), "date"),
        downloads.Column(t("board.col.overdue"), "bool"),
    ]


def _row(page: Page, item: ClusterItem) -> tuple[Any, ...]:
    regions = page.runtime.ledger.services.regions
    return (
        item.name,
        page.t(f"programme.{item.programme}"),
        i18n.region_name(regions, item.city_code),
        i18n.region_name(regions, item.county_code),
        item.county_code,
        item.leading_industry,
        item.operating_unit or "",
        page.t(f"status.{item.status}"),
        item.applied_on,
        item.certified_on,
        item.valid_until,
        item.last_report_year,
        item.last_final_score,
        page.t(f"deadline.{item.next_due_kind}") if item.next_due_kind else "",
        item.next_due_on,
        item.next_due_overdue,
    )


async def _all_items(
    page: Page, counties: tuple[str, ...], prefix: str | None, filters: ClusterFilters,
    sort: str, on: date,
) -> AsyncIterator[ClusterItem]:
    cursor: str | None = None
    while True:
        async with page.runtime.pool.acquire() as conn:
            chunk = await list_clusters(
                conn, on=on, counties=counties, prefix=prefix, filters=filters, sort=sort,
                limit=EXPORT_PAGE, cursor=cursor,
            )
        for item in chunk.items:
            yield item
        if chunk.next is None:
            return
        cursor = chunk.next


def _applied_filters(page: Page, **values: Any) -> dict[str, str]:
    shown = {}
    for key, value in values.items():
        if value in (None, ""):
            continue
        if key == "status":
            value = page.t(f"status.{value}")
        elif key == "programme":
            value = page.t(f"programme.{value}")
        elif key == "region":
            value = i18n.region_label(page.runtime.ledger.services.regions, value, page.lang)
        elif isinstance(value, date | datetime):
            value = i18n.format_date(value, page.lang) if not isinstance(value, datetime) \
                else i18n.format_datetime(value, page.lang)
        shown[page.t(f"filter.{key}")] = str(value)
    return shown


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
    as_of, known_at = query_date("as_of", as_of), query_instant("known_at", known_at)
    region = region or None
    counties, prefix = read_scope(page.runtime, page.actor, region)
    filters = board_filters(page, status=status, programme=programme, industry=industry,
                            name=name)
    sort_key = sort.removeprefix("-")
    sort = sort if sort_key in SORTS else "name"
    historical = as_of is not None or known_at is not None
    if historical:
        items = await _board_then(page, counties, prefix, filters, as_of, known_at)
        board = ClusterPage(items=items, next=None)
    elif fmt is None:
        async with page.runtime.pool.acquire() as conn:
            board = await list_clusters(
                conn, on=on, counties=counties, prefix=prefix, filters=filters, sort=sort,
                limit=PAGE_SIZE, cursor=cursor,
            )
    shown = _applied_filters(
        page, status=filters.status, programme=filters.programme, region=region,
        industry=filters.industry, name=filters.name, on=on if on != page.today else None,
        as_of=as_of, known_at=known_at,
    )
    if fmt is not None:
        if historical:
            rows: Any = (_row(page, item) for item in board.items)
        else:
            rows = _rows_async(page, counties, prefix, filters, sort, on)
        return download(page, fmt, title_key="board.title", file_stem="board",
                        columns=_columns(page), rows=rows, filters=shown)
    values = {
        "board": board, "filters": filters, "region": region or "", "sort": sort, "on": on,
        "as_of": as_of, "known_at": known_at, "historical": historical,
        "shown_filters": shown, "statuses": STATUSES, "programmes": ("FJ", "XM"),
        "region_options": i18n.region_options(
            page.runtime.ledger.services.regions, page.actor.jurisdiction, page.lang
        ),
        "sorts": SORTS,
    }
    if is_partial(request):
        return render(page, "board_table.html", **values)
    return render(page, "board.html", **values)


async def _board_then(
    page: Page, counties: tuple[str, ...], prefix: str | None, filters: ClusterFilters,
    as_of: date | None, known_at: datetime | None,
) -> list[ClusterItem]:
    items = await board_as_of(page.runtime, as_of, known_at, page.actor)
    visible = set(counties)
    return [
        item for item in items
        if item.county_code in visible
        and (prefix is None or item.county_code.startswith(prefix))
        and (filters.status is None or item.status == filters.status)
        and (filters.programme is None or item.programme == filters.programme)
        and (filters.industry is None or filters.industry in item.leading_industry)
        and (filters.name is None or filters.name in item.name)
    ]


async def _rows_async(
    page: Page, counties: tuple[str, ...], prefix: str | None, filters: ClusterFilters,
    sort: str, on: date,
) -> AsyncIterator[tuple[Any, ...]]:
    async for item in _all_items(page, counties, prefix, filters, sort, on):
        yield _row(page, item)


ROUTES = [board_page]
