"""One case (`/clusters/{id}`): its dossier, status and validity, deadlines, funding per year
with its vouchers, and the timeline of every event (effective date, recorded time, who, role,
organisation, 文号, reason, attachment digests). `as_of=DATE` shows the case as it stood on
that date (valid time, as the record stands now), through the same reconstruction as
`GET /api/clusters/{id}/state`; the timeline then marks the events not yet effective.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import get
from litestar.params import FromPath, QueryParameter

from api.input_policy import query_date
from api.routes.audit import head_cache_of
from api.routes.clusters import case_history
from api.schemas import EventView
from api.scope import read_scope
from api.web import downloads
from api.web.downloads import Kind
from api.web.page import Page, PageRequest, column, download, open_page, render, wanted_format
from domain.case import CaseState
from domain.errors import NotFound
from domain.permissions import check_may_read
from infra.case_history import case_at_date
from projections.queries import DeadlineFilters, list_deadlines


async def _case_as_of(page: Page, cluster_id: UUID, as_of: date) -> tuple[CaseState, int]:
    runtime, actor = page.runtime, page.actor
    regions = runtime.ledger.services.regions
    state = await case_at_date(
        runtime.pool, runtime.call, runtime.ledger.mapper, cluster_id,
        lambda county: check_may_read(actor, county, regions),
        today=page.today, as_of=as_of, known_at=None, heads=head_cache_of(runtime),
    )
    if not state.exists or state.case is None:
        raise NotFound(
            "case_not_yet_applied", f"case {cluster_id} had not been applied for on {as_of}",
            as_of=as_of.isoformat(),
        )
    return state.case, state.version or 0


def timeline_columns(page: Page) -> list[downloads.Column]:
    t = page.t
    return [
        column("version", t("case.col.version"), Kind.INT),
        column("type", t("case.col.event"), value=lambda e: t(f"event.{e.type}")),
        column("effective_date", t("case.col.effective_date"), Kind.DATE),
        column("recorded_at", t("case.col.recorded_at"), Kind.DATETIME),
        column("user", t("case.col.user"), value=lambda e: e.actor.user_id),
        column("role", t("case.col.role"), value=lambda e: t(f"role.{e.actor.role}")),
        column("organisation", t("case.col.organisation"), value=lambda e: e.actor.organisation),
        column("document_number", t("case.col.document_number"),
               value=lambda e: e.document_number or ""),
        column("comment", t("case.col.comment")),
        column("attachments", t("case.col.attachments"), value=lambda e: " ".join(e.attachments)),
        column("position", t("case.col.position"), Kind.INT),
    ]


@get("/clusters/{cluster_id:uuid}", name="case", include_in_schema=False)
async def case_page(
    request: PageRequest,
    cluster_id: FromPath[UUID],
    as_of: Annotated[date | None, QueryParameter()] = None,
) -> Any:
    """The case now, or as it stood on `as_of`; its timeline as a download (`format=`)."""
    page = await open_page(request)
    fmt = wanted_format(request)
    as_of = query_date("as_of", as_of)
    runtime = page.runtime
    current, current_version = await runtime.call(
        runtime.ledger.read_case, cluster_id, page.actor
    )  # 404 unknown, 403 outside the jurisdiction, as the API
    history = await case_history(runtime, cluster_id, page.actor)
    if fmt is not None:
        return await download(
            page, fmt, title_key="case.timeline", ascii_name=f"case-{cluster_id}",
            columns=timeline_columns(page), rows=history.events,
            filters={page.t("case.col.name"): current.dossier.name},
        )
    if as_of is None:
        case, version = current, current_version
        status = case.status_on(page.today)
        deadlines = await _deadlines(page, cluster_id)
    else:
        case, version = await _case_as_of(page, cluster_id, as_of)
        status = case.status_on(as_of)
        deadlines = None  # deadlines are read from the live view: not reconstructed for a date
    return render(
        page, "case.html", cluster_id=cluster_id, case=case, version=version, status=status,
        as_of=as_of, deadlines=deadlines, events=history.events,
        funding=[case.funding[year] for year in sorted(case.funding)],
        payments=_payments(history.events, as_of),
    )


class Voucher(msgspec.Struct, frozen=True, kw_only=True):
    voucher: str
    paid_on: date
    amount_fen: int
    position: int | None


def _payments(events: list[EventView], as_of: date | None) -> dict[int, list[Voucher]]:
    """The vouchers of each funding year, from the `SubsidyPaid` events (as effective on
    `as_of`, when given)."""
    paid: dict[int, list[Voucher]] = {}
    for event in events:
        if event.type != "SubsidyPaid" or (as_of is not None and event.effective_date > as_of):
            continue
        paid.setdefault(int(event.payload["funding_year"]), []).append(Voucher(
            voucher=str(event.payload["voucher_number"]), paid_on=event.effective_date,
            amount_fen=int(event.payload["amount_fen"]), position=event.position,
        ))
    return paid


async def _deadlines(page: Page, cluster_id: UUID) -> list[Any]:
    counties, _ = read_scope(page.runtime, page.actor, None)
    async with page.runtime.pool.acquire() as conn:
        result = await list_deadlines(
            conn, on=page.today, counties=counties, prefix=None,
            filters=DeadlineFilters(cluster_id=cluster_id), limit=100, cursor=None,
        )
    return list(result.items)


ROUTES = [case_page]
