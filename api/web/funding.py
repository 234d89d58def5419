"""The funding ledger (`/funding`): entitled, approved, paid and remaining by city or district
and budget year, as a bar chart and the same figures in a table; below, the clusters' funding
years with every voucher (`region`, `year`, `funding_year` narrow them: a region or a year in
the summary links there). Downloads carry the clusters' rows with the same filters.

Everything is read from the funding view through `projections.queries.list_funding`, as
`GET /api/funding` reads it; amounts are integer fen, shown in yuan (tables) and 万元 (chart).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import get
from litestar.params import QueryParameter

from api import i18n
from api.scope import read_scope
from api.web import downloads
from api.web.charts import Series, bar_chart
from api.web.page import Page, PageRequest, download, is_partial, open_page, render, wanted_format
from projections.folds import FundingRow
from projections.queries import FundingFilters, FundingSum, list_funding

PAGE_SIZE = 50
EXPORT_PAGE = 500
AMOUNTS = ("entitled", "approved", "paid", "remaining")


def _summary_rows(page: Page, totals: Any, region: str | None) -> list[FundingSum]:
    """By district within one city (or a district itself), else by city."""
    regions = page.runtime.ledger.services.regions
    if region and len(region) == 6 and any(r.code == region for r in regions):
        if regions.get(region).level != "province":
            return list(totals.by_county)
    return list(totals.by_city)


def _chart(page: Page, rows: list[FundingSum]) -> Any:
    regions = page.runtime.ledger.services.regions
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
        [i18n.region_name(regions, code) for code in codes],
        [
            Series(key=name, label=page.t(f"funding.col.{name}"),
                   values=tuple(by_region[code][i] for code in codes))
            for i, name in enumerate(AMOUNTS)
        ],
        format_value=i18n.format_wan,
    )


def _columns(page: Page) -> list[downloads.Column]:
    t = page.t
    return [
        downloads.Column(t("board.col.name"), "text"),
        downloads.Column(t("board.col.city"), "text"),
        downloads.Column(t("board.col.county"), "text"),
        downloads.Column(t("funding.col.funding_year"), "int"),
        downloads.Column(t("funding.col.budget_year"), "int"),
        downloads.Column(t("funding.col.plan_submitted_on"), "date"),
        downloads.Column(t("funding.col.requested"), "money_fen"),
        downloads.Column(t("funding.col.entitled"), "money_fen"),
        downloads.Column(t("funding.col.approved"), "money_fen"),
        downloads.Column(t("funding.col.approved_on"), "date"),
        downloads.Column(t("funding.col.paid"), "money_fen"),
        downloads.Column(t("funding.col.remaining"), "money_fen"),
        downloads.Column(t("funding.col.vouchers"), "text"),
    ]


def _row(page: Page, row: FundingRow) -> tuple[Any, ...]:
    regions = page.runtime.ledger.services.regions
    vouchers = "; ".join(
        f"{p.voucher} {p.paid_on.isoformat()} {i18n.format_yuan(p.amount_fen)}"
        for p in row.payments
    )
    return (
        row.name, i18n.region_name(regions, row.city_code),
        i18n.region_name(regions, row.county_code), row.funding_year, row.budget_year,
        row.plan_submitted_on, row.requested_fen, row.entitled_fen, row.approved_fen,
        row.approved_on, row.paid_fen, row.remaining_fen, vouchers,
    )


@get("/funding", name="funding", include_in_schema=False)
async def funding_page(
    request: PageRequest,
    region: Annotated[str | None, QueryParameter(pattern=r"^\d{0,6}$")] = None,
    year: Annotated[int | None, QueryParameter(ge=1990, le=2200)] = None,
    funding_year: Annotated[int | None, QueryParameter(ge=1, le=3)] = None,
    cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
) -> Any:
    """The summary by region and year with its chart, and the clusters' funding years."""
    page = await open_page(request)
    fmt = wanted_format(request)
    region = region or None
    counties, prefix = read_scope(page.runtime, page.actor, region)
    filters = FundingFilters(year=year, funding_year=funding_year)
    shown = {
        page.t(f"filter.{key}"): label
        for key, label in (
            ("region", region and i18n.region_label(
                page.runtime.ledger.services.regions, region, page.lang)),
            ("year", year and str(year)),
            ("funding_year", funding_year and page.t("funding.year_n", n=funding_year)),
        )
        if label
    }
    if fmt is not None:
        return download(page, fmt, title_key="funding.title", file_stem="funding",
                        columns=_columns(page), rows=_all_rows(page, counties, prefix, filters),
                        filters=shown)
    async with page.runtime.pool.acquire() as conn:
        ledger = await list_funding(conn, counties=counties, prefix=prefix, filters=filters,
                                    limit=PAGE_SIZE, cursor=cursor)
    summary = _summary_rows(page, ledger.totals, region)
    values = {
        "ledger": ledger, "summary": summary, "chart": _chart(page, summary),
        "region": region or "", "year": year, "funding_year": funding_year,
        "shown_filters": shown,
        "region_options": i18n.region_options(
            page.runtime.ledger.services.regions, page.actor.jurisdiction, page.lang
        ),
    }
    if is_partial(request):
        return render(page, "funding_rows.html", **values)
    return render(page, "funding.html", **values)


async def _all_rows(
    page: Page, counties: tuple[str, ...], prefix: str | None, filters: FundingFilters
) -> AsyncIterator[tuple[Any, ...]]:
    cursor: str | None = None
    while True:
        async with page.runtime.pool.acquire() as conn:
            chunk = await list_funding(conn, counties=counties, prefix=prefix, filters=filters,
                                       limit=EXPORT_PAGE, cursor=cursor)
        for row in chunk.items:
            yield _row(page, row)
        if chunk.next is None:
            return
        cursor = chunk.next


ROUTES = [funding_page]
