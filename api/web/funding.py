"""The funding ledger (`/funding`): entitled, approved, paid and remaining by city or district
and budget year, as a bar chart and the same figures in a table; below, the clusters' funding
years with every voucher (`region`, `year`, `funding_year` narrow them: a region or a year in
the summary links there). Downloads carry the clusters' rows with the same filters.

Everything is read from the funding view through `projections.queries.list_funding`, as
`GET /api/funding` reads it; amounts are integer fen, shown in yuan (tables) and 万元 (chart).
As it stood on a date (`as_of`) and as known at a time (`known_at`), the same query reads the
bitemporal view, as `GET /api/funding?as_of=` does (the same filters, pages, chart, totals and
downloads).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from litestar import get
from litestar.params import QueryParameter

from api import i18n
from api.routes.reads import board_history
from api.scope import read_scope
from api.web import downloads
from api.web.charts import Series, bar_chart
from api.web.downloads import Kind
from api.web.page import (
    Page,
    PageRequest,
    column,
    download,
    open_page,
    render_filtered,
    shown_filters,
    wanted_format,
)
from projections.queries import FundingFilters, FundingSum, list_funding

PAGE_SIZE = 50
EXPORT_PAGE = 500
AMOUNTS = ("entitled", "approved", "paid", "remaining")


def _summary_rows(page: Page, totals: Any, region: str | None) -> list[FundingSum]:
    """By district within one city (or a district itself), else by city."""
    regions = page.runtime.ledger.services.regions
    if (
        region and len(region) == 6 and any(r.code == region for r in regions)
        and regions.get(region).level != "province"
    ):
        return list(totals.by_county)
    return list(totals.by_city)


def _chart(page: Page, rows: list[FundingSum]) -> Any:
    by_region: dict[str, list[int]] = {}
    for row in rows:
        code = row.county_code or row.city_code or ""
        sums = by_region.setdefault(code, [0, 0, 0, 0])
        for i, amount in enumerate(
            (row.entitled_fen, row.approved_fen, row.paid_fen, row.remaining_fen)
        ):
            sums[i] += amount
    codes = sorted(by_region)
    return bar_chart(
        page.t("funding.chart_title"),
        [page.region(code) for code in codes],
        [
            Series(key=name, label=page.t(f"funding.col.{name}"),
                   values=tuple(by_region[code][i] for code in codes))
            for i, name in enumerate(AMOUNTS)
        ],
        format_value=lambda fen: i18n.format_wan(fen, page.lang),
    )


def columns(page: Page) -> list[downloads.Column]:
    t, region = page.t, page.region
    return [
        column("name", t("board.col.name")),
        column("city", t("board.col.city"), value=lambda r: region(r.city_code)),
        column("county", t("board.col.county"), value=lambda r: region(r.county_code)),
        column("funding_year", t("funding.col.funding_year"), Kind.INT),
        column("budget_year", t("funding.col.budget_year"), Kind.INT),
        column("plan_submitted_on", t("funding.col.plan_submitted_on"), Kind.DATE),
        column("requested_fen", t("funding.col.requested"), Kind.MONEY_FEN),
        column("entitled_fen", t("funding.col.entitled"), Kind.MONEY_FEN),
        column("approved_fen", t("funding.col.approved"), Kind.MONEY_FEN),
        column("approved_on", t("funding.col.approved_on"), Kind.DATE),
        column("paid_fen", t("funding.col.paid"), Kind.MONEY_FEN),
        column("remaining_fen", t("funding.col.remaining"), Kind.MONEY_FEN),
        column("payments", t("funding.col.vouchers"), value=lambda r: "; ".join(
            f"{p.voucher} {p.paid_on.isoformat()} {i18n.format_yuan(p.amount_fen)}"
            for p in r.payments
        )),
    ]


@get("/funding", name="funding", include_in_schema=False)
async def funding_page(
    request: PageRequest,
    region: Annotated[str | None, QueryParameter(pattern=r"^\d{0,6}$")] = None,
    year: Annotated[int | None, QueryParameter(ge=1990, le=2200)] = None,
    funding_year: Annotated[int | None, QueryParameter(ge=1, le=3)] = None,
    cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
    as_of: Annotated[date | None, QueryParameter()] = None,
    known_at: Annotated[datetime | None, QueryParameter()] = None,
) -> Any:
    """The summary by region and year with its chart, and the clusters' funding years; with
    `as_of` / `known_at`, as they stood then."""
    page = await open_page(request)
    fmt = wanted_format(request)
    history = board_history(as_of, known_at)
    as_of, known_at = (history.as_of, history.known_at) if history else (None, None)
    region = region or None
    counties, prefix = read_scope(page.runtime, page.actor, region)
    filters = FundingFilters(year=year, funding_year=funding_year)
    shown = shown_filters(page, {
        "region": region and page.region(region), "year": str(year) if year else None,
        "funding_year": page.t("funding.year_n", n=funding_year) if funding_year else None,
        "as_of": as_of.isoformat() if as_of else None,
        "known_at": known_at.isoformat() if known_at else None,
    })
    if fmt is not None:
        async with downloads.snapshot(page.runtime.pool) as snap:
            rows = downloads.all_pages(lambda c: list_funding(
                snap.conn, counties=counties, prefix=prefix, filters=filters,
                limit=EXPORT_PAGE, cursor=c, history=history,
            ))
            return await download(page, fmt, title_key="funding.title", ascii_name="funding",
                                  columns=columns(page), rows=rows, filters=shown,
                                  snapshot=snap, totals=True)
    async with page.runtime.pool.acquire() as conn:
        ledger = await list_funding(conn, counties=counties, prefix=prefix, filters=filters,
                                    limit=PAGE_SIZE, cursor=cursor, history=history)
    summary = _summary_rows(page, ledger.totals, region)
    values = {
        "ledger": ledger, "summary": summary, "chart": _chart(page, summary),
        "region": region or "", "year": year, "funding_year": funding_year,
        "as_of": as_of, "known_at": known_at, "historical": history is not None,
        "shown_filters": shown,
        "funding_year_options": [(n, page.t("funding.year_n", n=n)) for n in (1, 2, 3)],
    }
    return render_filtered(page, "funding.html", "funding_rows.html", **values)


ROUTES = [funding_page]
