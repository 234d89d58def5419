"""What every page shares: who is reading, in which language, on which date, how far the views
have got ("data as of"), and one way to answer a page: as HTML, as the table alone for htmx,
or as a CSV/XLSX download of the same table with the same filters.

Pages read what the JSON API reads (the same queries over the same views, the same
jurisdiction scope); they never load an aggregate for a list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response
from litestar.response import Template

from api import i18n
from api.runtime import Runtime, runtime_of
from api.web import downloads
from domain.actors import Actor
from projections.positions import LOWEST_POSITION_SQL

PageRequest = Request[Actor, Any, Any]
FORMATS = ("csv", "xlsx")


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
    lang: str
    today: date
    position: int  # the log position every view has processed: what the figures reflect
    read_at: datetime

    @property
    def t(self) -> Callable[..., str]:
        return functools.partial(i18n.t, self.lang)

    def query(self, **changes: Any) -> str:
        """This page's query string with `changes` (None removes a parameter)."""
        params = dict(self.request.query_params)
        params.pop("format", None)
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
        lang=i18n.negotiate(request, default="zh"), today=read_at.date(),
        position=int(position or 0), read_at=read_at,
    )


def render(page: Page, template: str, **values: Any) -> Template:
    context = {
        "page": page, "lang": page.lang, "t": page.t, "actor": page.actor, "nav": NAV,
        "path": page.request.url.path, "regions": page.runtime.ledger.services.regions,
        **values,
    }
    return Template(template_name=template, context=context,
                    headers={"Content-Language": "zh-CN" if page.lang == "zh" else "en"})


def is_partial(request: Request[Any, Any, Any]) -> bool:
    """An htmx request for the table alone (the page's filters changed)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def wanted_format(request: Request[Any, Any, Any]) -> str | None:
    value = request.query_params.get("format")
    if value is None:
        return None
    if value not in FORMATS:
        from api.errors import invalid_field

        raise invalid_field("format", "Expected `csv` or `xlsx`", source="query")
    return value


def download(
    page: Page,
    fmt: str,
    *,
    title_key: str,
    file_stem: str,
    columns: Sequence[downloads.Column],
    rows: Iterable[Sequence[Any]],
    filters: Mapping[str, str],
) -> Response[Any]:
    """The table of a page as CSV or XLSX, with the page's filters and the moment it reflects."""
    header = downloads.Header(
        title=page.t(title_key),
        data_as_of=page.t("page.data_as_of", position=page.position,
                          at=i18n.format_datetime(page.read_at, page.lang)),
        exported_by=f"{page.actor.user_id} · {page.t('role.' + str(page.actor.role))} · "
                    f"{page.actor.organisation}",
        exported_at=i18n.format_datetime(page.read_at, page.lang),
        filters=tuple(filters.items()),
    )
    stem = f"{page.t(title_key)}-{page.today.isoformat()}"
    if fmt == "csv":
        return downloads.csv_response(stem, columns, rows, header, ascii_stem=file_stem)
    return downloads.xlsx_response(stem, columns, rows, header, ascii_stem=file_stem,
                                   sheet=page.t(title_key))
