"""HTML written in Python for the parts of a page that repeat by the hundred: a table's rows and
a long list of options.

Why not the template: Jinja spends a call or two per `{{ … }}` (the lookup, then markupsafe's
escape building a `Markup`), so a page of 50 rows of 15 cells costs a millisecond in output
expressions alone, more than the query that read the rows. Here a row is one format string
filled with escaped values, and the template places the whole block as one `Markup`.

Escaping is the template's: `escape` writes exactly what markupsafe (Jinja's autoescape)
writes, so a page reads the same whichever side wrote a cell (`tests/unit/test_web_fragments`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date

from markupsafe import Markup

from api.i18n import Locale, format_date, labels, region_label
from api.scope import RegionOption, region_options
from domain.regions import Regions

EMPTY_CELL = "—"


def escape(value: object) -> str:
    """`value` as text in HTML: & < > ' " as markupsafe escapes them."""
    return (
        str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("'", "&#39;").replace('"', "&#34;")
    )


def escaped(html: str) -> Markup:
    """HTML written here, every value in it passed through `escape`: for the template as it is."""
    return Markup(html)  # noqa: S704 - the one place; its callers escape each value


@functools.lru_cache(maxsize=8192)  # a page's dates repeat (years of reports, validity ends)
def time_tag(day: date | None, lang: Locale) -> str:
    """A date as `<time datetime="2026-03-30">2026年3月30日</time>`; no date as "—"."""
    if not day:
        return EMPTY_CELL
    # Both texts are digits and the catalogue-free month names of `format_date`: nothing to escape.
    return f'<time datetime="{day.isoformat()}">{format_date(day, lang)}</time>'


def option_tags(options: Iterable[RegionOption], current: str | None) -> Markup:
    """`<option>`s of a select, the `current` value selected."""
    return escaped("".join(
        f'<option value="{escape(o.code)}"{" selected" if o.code == current else ""}>'
        f"{escape(o.label)}</option>"
        for o in options
    ))


@functools.cache
def escaped_labels(lang: Locale, group: str) -> Mapping[str, str]:
    """A group's words (`status`, `programme`, …) by value, escaped: once per language."""
    return {value: escape(text) for value, text in labels(lang, group).items()}


@functools.lru_cache(maxsize=4096)
def escaped_region(regions: Regions, code: str, lang: Locale) -> str:
    """A division's name under its city (`region_label`), escaped: once per code."""
    return escape(region_label(regions, code, lang))


@functools.lru_cache(maxsize=256)
def region_option_tags(regions: Regions, jurisdiction: str, current: str | None) -> Markup:
    """The region filter's options: the cities and counties a reader of `jurisdiction` covers
    (a hundred for a province user), written once per jurisdiction and choice."""
    return option_tags(region_options(regions, jurisdiction), current)
