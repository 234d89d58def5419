"""Which language to answer in: "zh" or "en".

Pages: the `lang` cookie (set by `GET /lang/{code}`) wins, then `Accept-Language`, else
Chinese. The JSON API: `Accept-Language` only, else English. The API ignores the cookie on
purpose: it is a bearer-token interface that never reads cookies (a browser's session cookie
is not accepted there either), so what a script gets depends only on what it sends, and
`Vary: Accept-Language` describes the answer completely.

Accept-Language (RFC 9110 §12.5.4): ranges in order of their q-value (ties: as listed), q=0
meaning "not this one"; every Chinese range (zh, zh-CN, zh-Hans, zh-TW…) reads as the
catalogue's Chinese (simplified: the only one there is), every en-* as English, `*` as the
default. A malformed entry is skipped, never an error.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection

from api.i18n.catalogue import LOCALES, Locale

LANG_COOKIE = "lang"
# What goes into `<html lang>` and `Content-Language`.
LANGUAGE_TAGS: dict[Locale, str] = {"zh": "zh-CN", "en": "en"}

_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
_RANGE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*)$")
_MAX_RANGES = 40  # a header listing more is read up to here


def locale_of(tag: str) -> Locale | None:
    """The catalogue's locale for a language tag, or None."""
    primary = tag.strip().lower().replace("_", "-").partition("-")[0]
    return primary if primary in LOCALES else None  # type: ignore[return-value]


def parse_accept_language(header: str, default: Locale) -> Locale | None:
    """The supported locale the header prefers most, `default` for a preferred `*`, or None
    when it names nothing supported."""
    ranges: list[tuple[float, int, str]] = []
    for index, entry in enumerate(header.split(",")[:_MAX_RANGES]):
        tag, *params = (part.strip() for part in entry.split(";"))
        if not _RANGE.match(tag):
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                quality = float(value) if _QVALUE.match(value.strip()) else -1.0
        if quality > 0:
            ranges.append((-quality, index, tag))
    for _, _, tag in sorted(ranges):
        if tag == "*":
            return default
        locale = locale_of(tag)
        if locale is not None:
            return locale
    return None


def negotiate(
    request: ASGIConnection[Any, Any, Any, Any], default: Locale = "zh", *, cookie: bool = True
) -> Locale:
    """The locale to answer `request` in: the `lang` cookie (when `cookie`), then
    Accept-Language, else `default` (pages: "zh"; the API calls `api_locale`)."""
    if cookie:
        chosen = request.cookies.get(LANG_COOKIE, "")
        if chosen in LOCALES:
            return chosen  # type: ignore[return-value]
    header = request.headers.get("accept-language")
    if header:
        return parse_accept_language(header, default) or default
    return default


def api_locale(request: ASGIConnection[Any, Any, Any, Any]) -> Locale:
    """The JSON API's language: Accept-Language only, English by default."""
    return negotiate(request, "en", cookie=False)


def page_context(request: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """What every page template needs to speak the reader's language: `lang` (the cookie, then
    Accept-Language, else Chinese) and `html_lang` for `<html lang="…">`."""
    lang = negotiate(request, "zh")
    return {"lang": lang, "html_lang": LANGUAGE_TAGS[lang]}
