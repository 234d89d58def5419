"""What every page shares: who is reading, in which language, on which date, how far the views
have got ("data as of"), and one way to answer a page: as HTML, as the table alone for htmx,
or as a CSV/XLSX download of the same table with the same filters.

Pages read what the JSON API reads (the same queries over the same views, the same
jurisdiction scope); they never load an aggregate for a list.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import MediaType, Request
from litestar.response import Stream, Template

from api import i18n
from api.errors import invalid_field
from api.runtime import Runtime, runtime_of
from api.web import downloads
from api.web.fragments import region_option_tags
from api.web.static import HTMX_URL
from domain.actors import Actor
from projections.positions import LOWEST_POSITION_SQL

PageRequest = Request[Actor, Any, Any]


class NavItem(msgspec.Struct, frozen=True):
    path: str
    label_key: str


NAV = (
    NavItem("/", "nav.overview"),
    NavItem("/board", "nav.board"),
    NavItem("/funding", "nav.funding"),
    NavItem("/deadlines", "nav.deadlines"),
    NavItem("/audit", "nav.audit"),
)


class Page(msgspec.Struct, kw_only=True):
    """The reader and the moment a page is about."""

    request: Any
    runtime: Runtime
    actor: Actor
    lang: i18n.Locale
    today: date
    position: int  # the log position every view has processed: what the figures reflect
    read_at: datetime

    def t(self, key: str, **params: Any) -> str:
        return i18n.t(self.lang, key, **params)

    def region(self, code: str | None) -> str:
        return i18n.region_label(self.runtime.ledger.services.regions, code, self.lang)

    def query(self, **changes: Any) -> str:
        """This page's query string with `changes` (None removes a parameter)."""
        params = dict(self.request.query_params)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        return "?" + urlencode(params) if params else ""


async def open_page(request: PageRequest) -> Page:
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        position = await conn.fetchval(LOWEST_POSITION_SQL)
    read_at = datetime.now(UTC)
    return Page(
        request=request, runtime=runtime, actor=request.user,
        lang=i18n.negotiate(request, "zh"), today=read_at.date(),
        position=int(position or 0), read_at=read_at,
    )


def render(page: Page, template: str, **values: Any) -> Template:
    context = {
        "page": page, "lang": page.lang, "html_lang": i18n.LANGUAGE_TAGS[page.lang],
        "actor": page.actor, "nav": NAV, "path": page.request.url.path, "htmx_url": HTMX_URL,
        **values,
    }
    return Template(template_name=template, context=context, media_type=MediaType.HTML,
                    headers={"Content-Language": i18n.LANGUAGE_TAGS[page.lang]})


def render_filtered(page: Page, template: str, table_template: str, **values: Any) -> Template:
    """A page with filters: the whole page, or its table alone for htmx (the filters changed);
    the region filter's options are the reader's cities and counties (`region`: the chosen
    one)."""
    values.setdefault("region_option_tags", region_option_tags(
        page.runtime.ledger.services.regions, page.actor.jurisdiction, values.get("region") or None
    ))
    return render(page, table_template if is_partial(page.request) else template, **values)


def is_partial(request: Request[Any, Any, Any]) -> bool:
    """An htmx request for the table alone (the page's filters changed)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def wanted_format(request: Request[Any, Any, Any]) -> downloads.Format | None:
    value = request.query_params.get("format")
    if value is None:
        return None
    if value not in set(downloads.Format):
        raise invalid_field("format", "Expected `csv` or `xlsx`", source="query")
    return downloads.Format(value)


def options(page: Page, group: str, values: Iterable[str]) -> list[tuple[str, str]]:
    """(value, words) pairs of a filter's select, e.g. every status in the page's language."""
    return [(value, page.t(f"{group}.{value}")) for value in values]


def shown_filters(page: Page, values: Mapping[str, str | None]) -> dict[str, str]:
    """The filters a page applies, as its readers (and printouts) see them: name -> value."""
    return {page.t(f"filter.{key}"): value for key, value in values.items() if value}


async def download(
    page: Page,
    fmt: downloads.Format,
    *,
    title_key: str,
    ascii_name: str,
    columns: Sequence[downloads.Column],
    rows: Iterable[Any] | AsyncIterable[Any],
    filters: Mapping[str, str],
    snapshot: downloads.Snapshot | None = None,
    totals: bool = False,
) -> Stream:
    """The table of a page as CSV or XLSX, with the page's filters and the moment it reflects
    (the snapshot the rows were read in, else the page's own reading)."""
    title = page.t(title_key)
    table = downloads.Table(
        title=title, sheet=title, ascii_name=ascii_name, columns=columns,
        totals=page.t("download.totals") if totals else None,
    )
    provenance = downloads.Provenance(
        exported_by=downloads.ExportedBy(
            user=page.actor.user_id, role=page.t(f"role.{page.actor.role}"),
            organisation=page.actor.organisation,
        ),
        exported_at=datetime.now(UTC),
        locale=page.lang,
        as_of_position=snapshot.position if snapshot else page.position,
        as_of_time=snapshot.read_at if snapshot else page.read_at,
        filters=tuple(filters.items()),
    )
    return await downloads.download(fmt, table, rows, provenance)


def column(key: str, header: str, kind: downloads.Kind = downloads.Kind.TEXT,
           value: Callable[[Any], Any] | None = None) -> downloads.Column:
    return downloads.Column(key=key, header=header, kind=kind, value=value)
