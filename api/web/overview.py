"""The overview (`/`): clusters by status (each figure links to the board filtered by it),
what is overdue and what falls due within 30 days, and the funding entitled, approved, paid and
remaining — all within the reader's jurisdiction, from the same view queries as the API's
`/api/stats`, `/api/deadlines` and `/api/funding`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import get

from api.scope import read_scope
from api.web.charts import Series, bar_chart
from api.web.page import PageRequest, open_page, render
from projections.queries import FundingFilters, count_deadlines, fetch_summary, list_funding

SOON_DAYS = 30
STATUS_ORDER = ("applied", "recommended", "under_notice", "certified", "expired",
                "renewal_failed", "revoked", "rejected", "not_recommended", "withdrawn")


@get("/", name="overview", include_in_schema=False)
async def overview_page(request: PageRequest) -> Any:
    """The reader's jurisdiction at a glance."""
    page = await open_page(request)
    counties, prefix = read_scope(page.runtime, page.actor, None)
    async with page.runtime.pool.acquire() as conn:
        summary = await fetch_summary(conn, on=page.today, counties=counties, prefix=prefix)
        due = await count_deadlines(conn, on=page.today, within_days=SOON_DAYS,
                                    counties=counties, prefix=prefix)
        funding = await list_funding(conn, counties=counties, prefix=prefix,
                                     filters=FundingFilters(), limit=1, cursor=None)
    by_status: Counter[str] = Counter()
    for count in summary.clusters:
        by_status[count.status] += count.clusters
    statuses = [s for s in STATUS_ORDER if by_status[s]] + sorted(
        s for s in by_status if s not in STATUS_ORDER
    )
    chart = bar_chart(
        page.t("overview.status_chart"),
        [page.t(f"status.{s}") for s in statuses],
        [Series(key="clusters", label=page.t("overview.clusters"),
                values=tuple(by_status[s] for s in statuses))],
    )
    return render(
        page, "overview.html", statuses=statuses, by_status=by_status,
        total=sum(by_status.values()), chart=chart, due=due, soon_days=SOON_DAYS,
        funding=funding.totals.overall,
    )


ROUTES = [overview_page]
