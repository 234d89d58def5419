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

from litestar import get
from litestar.params import QueryParameter
from markupsafe import Markup

from api.input_policy import query_date, query_text
from api.routes.reads import board_history
from api.scope import read_scope
from api.web import downloads
from api.web.downloads import Kind
from api.web.fragments import (
    EMPTY_CELL,
    escape,
    escaped,
    escaped_labels,
    escaped_region,
    time_tag,
)
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


# One row of the board's table (see api/web/fragments.py for why rows are written here); every
# value is escaped by `board_rows`.
ROW = (
    "    <tr>\n"
    '      <th scope="row"><a href="{href}">{name}</a></th>\n'
    "      <td>{programme}</td>\n"
    '      <td>{region} <span class="code">{county_code}</span></td>\n'
    "      <td>{industry}</td>\n"
    '      <td><span class="status status-{status}">{status_text}</span></td>\n'
    "      <td>{certified_on}</td>\n"
    "      <td>{valid_until}</td>\n"
    '      <td class="num">{last_report}</td>\n'
    '      <td class="num">{last_score}</td>\n'
    "      <td>{next_due}</td>\n"
    "    </tr>"
)


def board_rows(page: Page, items: Sequence[ClusterItem], as_of: date | None) -> Markup:
    """The rows of the board's table, in the reader's words: the programme and status in
    words, the county under its city, dates as `<time>`, the next deadline's kind, its date and
    whether it is overdue; each name links to the case (at `as_of` on an as-of board)."""
    lang = page.lang
    regions = page.runtime.ledger.services.regions
    programmes = escaped_labels(lang, "programme")
    statuses = escaped_labels(lang, "status")
    kinds = escaped_labels(lang, "deadline_kind")
    overdue = f' <strong class="overdue">{escape(page.t("due.overdue"))}</strong>'
    link_suffix = f"?as_of={as_of.isoformat()}" if as_of else ""
    rows = []
    for item in items:
        status = escape(item.status)
        if item.next_due_kind:
            next_due = (f"{kinds.get(item.next_due_kind) or escape(item.next_due_kind)} "
                        f"{time_tag(item.next_due_on, lang)}"
                        f"{overdue if item.next_due_overdue else ''}")
        else:
            next_due = EMPTY_CELL
        rows.append(ROW.format(
            # a UUID, a year, a score (Decimal) and dates need no escaping
            href=f"/clusters/{item.id}{link_suffix}",
            name=escape(item.name),
            programme=programmes.get(item.programme) or escape(item.programme),
            region=escaped_region(regions, item.county_code, lang),
            county_code=escape(item.county_code),
            industry=escape(item.leading_industry),
            status=status,
            status_text=statuses.get(item.status) or status,
            certified_on=time_tag(item.certified_on, lang),
            valid_until=time_tag(item.valid_until, lang),
            last_report=item.last_report_year or EMPTY_CELL,
            last_score=EMPTY_CELL if item.last_final_score is None else item.last_final_score,
            next_due=next_due,
        ))
    return escaped("\n".join(rows))


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
