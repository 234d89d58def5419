"""Languages: one message catalogue (Chinese and English) keyed by the stable error codes and
UI keys, locale negotiation, and formatting of dates, money and places.

- `negotiate(request, default)`, `api_locale(request)`: "zh" or "en"; `page_context(request)`
  (`negotiation`);
- `t(locale, key, **params)`, `label(locale, group, value)`, `labels(locale, group)` (a
  group's words by value, for a table's rows),
  `problem_text(locale, code, details)` (`messages`, over the data in `problems.toml` and
  `ui.toml`, see `catalogue`);
- `format_date`, `format_datetime`, `format_yuan`, `format_wan`, `region_label` (`formatting`);
- `install(jinja_env, regions=...)`: all of these in templates (`jinja`);
- `GET /lang/{code}?next=/path`: the language switch (`routes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.i18n.catalogue import LOCALES, Locale
from api.i18n.formatting import format_date, format_datetime, format_wan, format_yuan, region_label
from api.i18n.messages import label, labels, problem_text, t
from api.i18n.negotiation import LANGUAGE_TAGS, api_locale, negotiate, page_context

if TYPE_CHECKING:
    from jinja2 import Environment

    from domain.regions import Regions

__all__ = [
    "LANGUAGE_TAGS", "LOCALES", "Locale", "api_locale", "format_date", "format_datetime",
    "format_wan", "format_yuan", "install", "label", "labels", "negotiate", "page_context",
    "problem_text", "region_label", "t",
]


def install(env: Environment, *, regions: Regions | None = None) -> None:
    """Register the i18n globals and filters on a Jinja environment (see `api.i18n.jinja`)."""
    from api.i18n.jinja import install as install_on

    install_on(env, regions=regions)
