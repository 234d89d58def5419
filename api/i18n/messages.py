"""Texts from the catalogue: UI strings (`t`), values in words (`label`), problems
(`problem_text`), with their placeholders filled.

A placeholder's value is written by its kind (`{role:role}`: the role in words; `{on:date}`:
a date; `{amount_fen:yuan}`: money from fen); a list is written item by item and joined
(、 in Chinese). A value the catalogue has no word for is shown as it is: the read side never
stops on a stored value.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.i18n.catalogue import Locale, catalogue
from api.i18n.formatting import format_date, format_datetime, format_wan, format_yuan

_LIST_SEPARATOR = {"zh": "、", "en": ", "}
_MISSING_VALUE = "…"


def label(locale: Locale, group: str, value: object) -> str:
    """`value` (a status, role, programme…) in words, or as it is when the catalogue has no
    word for it."""
    if value is None:
        return ""
    text = labels(locale, group).get(str(value))
    return text if text is not None else str(value)


def t(locale: Locale, key: str, **params: Any) -> str:
    """The UI string `key` in `locale` with its placeholders filled. An unknown key or a missing
    parameter is a programming error and raises KeyError (the page tests render every page)."""
    if not params:
        plain = plain_texts(locale).get(key)
        if plain is not None:
            return plain
    template = catalogue().ui[key].get(locale)
    return _Formatter(locale, strict=True).vformat(template, (), params)


@functools.cache
def plain_texts(locale: Locale) -> Mapping[str, str]:
    """Every UI string without placeholders, as `t` writes it (`{{` as `{`), by key: a page asks
    for a hundred or more of them, so each is formatted once per process, not per page."""
    formatter = _Formatter(locale, strict=True)
    return {
        key: formatter.vformat(text.get(locale), (), {})
        for key, text in catalogue().ui.items()
        if not any(name is not None for _, name, _, _ in formatter.parse(text.get(locale)))
    }


@functools.cache
def labels(locale: Locale, group: str) -> Mapping[str, str]:
    """The words of one group (`status`, `programme`, …) by value, e.g. for a table's rows."""
    prefix = f"{group}."
    return {
        key.removeprefix(prefix): text.get(locale)
        for key, text in catalogue().ui.items()
        if key.startswith(prefix)
    }


def problem_text(
    locale: Locale, code: str, details: Mapping[str, Any] | None = None, *,
    status: int | None = None,
) -> tuple[str, str]:
    """(title, detail) of the problem `code` in `locale`, the detail filled from `details`.

    A code without an entry (which the catalogue test does not allow for codes raised in the
    source) falls back to the HTTP status's title and a detail naming the code; a placeholder
    without a value shows "…" rather than failing an error answer."""
    params = dict(details or {})
    entry = catalogue().problems.get(code)
    formatter = _Formatter(locale, strict=False)
    if entry is None:
        ui = catalogue().ui
        status_text = ui.get(f"http_status.{status}")
        title = (status_text or ui["problem.unknown_title"]).get(locale)
        detail = formatter.vformat(ui["problem.unknown_detail"].get(locale), (), {"code": code})
        return title, detail
    return (
        formatter.vformat(entry.title.get(locale), (), params),
        formatter.vformat(entry.detail.get(locale), (), params),
    )


class _Missing:
    pass


_MISSING = _Missing()


class _Formatter(string.Formatter):
    def __init__(self, locale: Locale, *, strict: bool) -> None:
        self.locale = locale
        self.strict = strict

    def get_value(self, key: int | str, _args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if key in kwargs or self.strict:
            return kwargs[str(key)]
        return _MISSING

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is _MISSING:
            return _MISSING_VALUE
        if isinstance(value, list | tuple | set | frozenset):
            items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
            written = (self.format_field(item, format_spec) for item in items)
            return _LIST_SEPARATOR[self.locale].join(written)
        return write_value(self.locale, value, format_spec)


def write_value(locale: Locale, value: Any, kind: str) -> str:
    """One value of a placeholder, written according to its kind: a table of ui.toml (the
    value in words), or one of the value formats; a value of another type as it is."""
    if value is None:
        return "—"
    if kind in _WRITERS:
        return _WRITERS[kind](locale, value)
    return label(locale, kind, value) if kind else str(value)


def _date(locale: Locale, value: Any) -> str:
    if isinstance(value, date):
        return format_date(value, locale)
    try:
        return format_date(date.fromisoformat(str(value)), locale)
    except ValueError:
        return str(value)


def _datetime(locale: Locale, value: Any) -> str:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return format_datetime(value, locale)
    return str(value)  # not an instant: shown as it is rather than failing an error answer


def _yuan(locale: Locale, value: Any) -> str:
    if not _is_fen(value):
        return str(value)
    amount = format_yuan(value)
    return f"{amount}元" if locale == "zh" else f"CNY {amount}"


def _wan(locale: Locale, value: Any) -> str:
    return format_wan(value, locale) if _is_fen(value) else str(value)


_WRITERS: dict[str, Callable[[Locale, Any], str]] = {
    "date": _date, "datetime": _datetime, "yuan": _yuan, "wan": _wan,
}


def _is_fen(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral())
