"""The catalogue and the formatting functions in templates.

`install(env, regions=...)` on the Jinja environment (Litestar's `JinjaTemplateEngine.engine`)
registers, each taking the language from the template's `lang` variable (Chinese when absent):

- globals: `t("board.title", count=3)`, `label("status", value)`, `format_date(d)`,
  `format_datetime(dt)`, `format_yuan(fen)`, `format_wan(fen)`, `region_label(code)`,
  `LOCALES`, `LANGUAGE_TAGS`;
- filters: `{{ d | date }}`, `{{ dt | datetime }}`, `{{ fen | yuan }}`, `{{ fen | wan }}`,
  `{{ row.status | label("status") }}`, `{{ row.county_code | region }}`.

Every page handler puts `api.i18n.page_context(request)` into its template context: `lang` (the
negotiated locale, Chinese by default) and `html_lang` (for `<html lang="…">`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from api.i18n.catalogue import LOCALES, Locale
from api.i18n.formatting import format_date, format_datetime, format_wan, format_yuan, region_label
from api.i18n.messages import label, t
from api.i18n.negotiation import LANGUAGE_TAGS
from domain.regions import Regions


def _lang(context: Context) -> Locale:
    return "en" if context.get("lang") == "en" else "zh"


def install(env: Environment, *, regions: Regions | None = None) -> None:
    """Register the i18n globals and filters on `env` (`regions`: for `region_label`)."""

    @pass_context
    def t_(context: Context, key: str, **params: Any) -> str:
        return t(_lang(context), key, **params)

    @pass_context
    def label_(context: Context, value: object, group: str) -> str:
        return label(_lang(context), group, value)

    @pass_context
    def date_(context: Context, day: date | None) -> str:
        return format_date(day, _lang(context))

    @pass_context
    def datetime_(context: Context, instant: datetime | None) -> str:
        return format_datetime(instant, _lang(context))

    def yuan_(fen: int | Decimal | None) -> str:
        return "" if fen is None else format_yuan(fen)

    @pass_context
    def wan_(context: Context, fen: int | Decimal | None) -> str:
        return "" if fen is None else format_wan(fen, _lang(context))

    @pass_context
    def region_(context: Context, code: str | None) -> str:
        if regions is None:
            return code or ""
        return region_label(regions, code, _lang(context))

    @pass_context
    def label_global(context: Context, group: str, value: object) -> str:
        return label(_lang(context), group, value)

    filters: dict[str, Callable[..., str]] = {
        "date": date_, "datetime": datetime_, "yuan": yuan_, "wan": wan_, "label": label_,
        "region": region_,
    }
    env.filters.update(filters)
    env.globals.update(
        t=t_, label=label_global, format_date=date_, format_datetime=datetime_,
        format_yuan=yuan_, format_wan=wan_, region_label=region_, LOCALES=LOCALES,
        LANGUAGE_TAGS=LANGUAGE_TAGS,
    )
