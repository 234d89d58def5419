"""Deadlines (`/deadlines`): what is overdue and what falls due soon, grouped by the department
that has to act, with the dates the working-day calendar could not fix yet flagged
(provisional). Read from the deadlines view through `projections.queries.list_deadlines`, as
`GET /api/deadlines` reads it; as they stood on a date (`as_of`) and as known at a time
(`known_at`), from the bitemporal view through the same query, as `GET /api/deadlines?as_of=`
reads it: overdue and the window of days are then counted from that date.

Who has to act is read from the permission table: each kind of deadline is discharged by one
command (an annual report by filing it, a renewal by requesting the review, …), and the
department is the one whose role may issue that command in the case's programme, at its
level: the case's county, its city, or the province.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import QueryParameter

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
from domain.actors import Role
from domain.commands import Command
from domain.programmes import Programmes
from domain.rulebook import Programme
from projections.folds import DeadlineKind
from projections.queries import DeadlineFilters, DeadlineItem, list_deadlines

WINDOWS = (30, 90, 365)  # days ahead the page can show; 0: overdue only
SHOWN_AT_MOST = 1000
EXPORT_PAGE = 500
# The command that discharges each kind of deadline (FJ Art. 13-16; XM Art. 8-9, 15).
DISCHARGED_BY: dict[str, Command] = {
    DeadlineKind.ANNUAL_REPORT: Command.FILE_ANNUAL_REPORT,
    DeadlineKind.RENEWAL: Command.REQUEST_RENEWAL,
    DeadlineKind.CERTIFICATION_NOTICE: Command.CERTIFY,
    DeadlineKind.APPEAL_WINDOW: Command.APPEAL,
    DeadlineKind.APPEAL_REPLY: Command.DECIDE_APPEAL,
    DeadlineKind.SUBSIDY_NOTICE: Command.PAY_SUBSIDY,
}
# When several roles may act, the department closest to the cluster is named first.
_NEAREST_FIRST = (Role.COUNTY, Role.OPERATING_UNIT, Role.CITY, Role.MIIT_RECORDER,
                  Role.PROVINCE)


class Department(msgspec.Struct, frozen=True, order=True):
    role: str
    code: str  # the jurisdiction of the department: the county, its city or the province


class Group(msgspec.Struct, kw_only=True):
    department: Department
    label: str
    overdue: int
    items: list[DeadlineItem]


def responsible(item: DeadlineItem, programmes: Programmes) -> Department:
    """The department that discharges a deadline: the nearest level whose role may take the
    step that discharges it, by the programme's permission matrix."""
    roles = programmes.allowed_roles(DISCHARGED_BY[item.kind], item.programme)
    role = next((r for r in _NEAREST_FIRST if r in roles), Role.PROVINCE)
    if role in (Role.COUNTY, Role.OPERATING_UNIT):
        code = item.county_code
    elif role in (Role.CITY, Role.MIIT_RECORDER):
        code = item.city_code
    else:
        code = item.county_code[:2] + "0000"
    return Department(role=str(role), code=code)


def columns(page: Page) -> list[downloads.Column]:
    t = page.t
    programmes = page.runtime.ledger.services.programmes
    return [
        column("department", t("deadlines.col.department"),
               value=lambda d: _department_label(page, responsible(d, programmes))),
        column("name", t("board.col.name")),
        column("county", t("board.col.county"), value=lambda d: page.region(d.county_code)),
        column("kind", t("deadlines.col.kind"), value=lambda d: t(f"deadline_kind.{d.kind}")),
        column("subject", t("deadlines.col.subject")),
        column("due_on", t("deadlines.col.due_on"), Kind.DATE),
        column("provisional", t("due.provisional"), Kind.BOOL),
        column("overdue", t("due.overdue"), Kind.BOOL),
    ]


def _department_label(page: Page, department: Department) -> str:
    return page.t(f"department.{department.role}", region=page.region(department.code))


@get("/deadlines", name="deadlines", include_in_schema=False)
async def deadlines_page(
    request: PageRequest,
    within: Annotated[int, QueryParameter(ge=0, le=3650)] = 30,
    kind: Annotated[str | None, QueryParameter(max_length=30)] = None,
    programme: Annotated[str | None, QueryParameter(max_length=20)] = None,
    region: Annotated[str | None, QueryParameter(pattern=r"^\d{0,6}$")] = None,
    as_of: Annotated[date | None, QueryParameter()] = None,
    known_at: Annotated[datetime | None, QueryParameter()] = None,
) -> Any:
    """Overdue, and due within `within` days, grouped by the department that has to act;
    with `as_of` / `known_at`, the obligations open then, counted from that date."""
    page = await open_page(request)
    fmt = wanted_format(request)
    history = board_history(as_of, known_at)
    as_of, known_at = (history.as_of, history.known_at) if history else (None, None)
    day = history.status_on() if history is not None else page.today
    region = region or None
    counties, prefix = read_scope(page.runtime, page.actor, region)
    filters = DeadlineFilters(
        kind=kind if kind in {str(k) for k in DeadlineKind} else None,
        programme=programme if programme in {str(p) for p in Programme} else None,
        # 0: what is overdue (due before the day); n: also what falls due in the n days after
        due_before=day + timedelta(days=within + 1) if within else None,
        overdue_on=None if within else day,
    )
    shown = shown_filters(page, {
        "within": page.t("deadlines.within_n", n=within) if within
        else page.t("deadlines.overdue_only"),
        "kind": filters.kind and page.t(f"deadline_kind.{filters.kind}"),
        "programme": filters.programme and page.t(f"programme.{filters.programme}"),
        "region": region and page.region(region),
        "as_of": as_of.isoformat() if as_of else None,
        "known_at": known_at.isoformat() if known_at else None,
    })
    if fmt is not None:
        async with downloads.snapshot(page.runtime.pool) as snap:
            rows = downloads.all_pages(lambda c: list_deadlines(
                snap.conn, on=day, counties=counties, prefix=prefix, filters=filters,
                limit=EXPORT_PAGE, cursor=c, history=history,
            ))
            return await download(page, fmt, title_key="deadlines.title",
                                  ascii_name="deadlines", columns=columns(page), rows=rows,
                                  filters=shown, snapshot=snap)
    async with page.runtime.pool.acquire() as conn:
        listed = await list_deadlines(conn, on=day, counties=counties, prefix=prefix,
                                      filters=filters, limit=SHOWN_AT_MOST, cursor=None,
                                      history=history)
    groups: dict[Department, Group] = {}
    for item in listed.items:
        department = responsible(item, page.runtime.ledger.services.programmes)
        group = groups.get(department)
        if group is None:
            group = groups[department] = Group(
                department=department, label=_department_label(page, department), overdue=0,
                items=[],
            )
        group.items.append(item)
        group.overdue += item.overdue
    ordered = sorted(groups.values(), key=lambda g: (-g.overdue, g.label))
    return render_filtered(
        page, "deadlines.html", "deadlines.html", groups=ordered, within=within, windows=WINDOWS,
        truncated=listed.next is not None, shown_at_most=SHOWN_AT_MOST, filters=filters,
        region=region or "", shown_filters=shown,
        as_of=as_of, known_at=known_at, historical=history is not None, day=day,
        kind_options=options(page, "deadline_kind", [str(k) for k in DeadlineKind]),
        programme_options=options(page, "programme", ("FJ", "XM")),
        overdue=sum(g.overdue for g in ordered),
        total=sum(len(g.items) for g in ordered),
    )


ROUTES = [deadlines_page]
