"""The one input policy at the edge: every request body, query parameter and form passes it.

What a user can type ends up in events, which are immutable, and in read views that everyone
shares, so what enters is checked once, here, and the core trusts what passed:

- **Text** is NFC-normalised and trimmed. Refused everywhere: C0/C1 control characters (tab and
  newline are allowed in paragraphs of free text only; CR LF and CR become LF), lone
  surrogates, and bidi embedding/override/isolate controls (U+202A–U+202E, U+2066–U+2069:
  they reorder what a reviewer sees, and have no use in Chinese administrative text). Refused
  in one-line text (names, codes, document numbers, vouchers): also the implicit bidi marks
  (U+200E, U+200F, U+061C) and zero-width or invisible characters (U+200B–U+200D,
  U+2060–U+2064, U+FEFF, U+00AD), which make two names that look the same differ. Lengths
  are checked after normalisation. A refusal is a 422 problem naming the field, the position
  (counted from 1 in the text as sent) and the code point.
- **Numbers** are bounded where they enter: every integer and decimal of a request body has a
  declared minimum and maximum (`tests/api/test_input_policy.py` checks that no body type
  lacks one); decimals are finite with at most `MAX_DECIMAL_PLACES` places. Money is integer
  fen, non-negative, at most `MAX_FEN`.
- **Dates** lie within `FIRST_DATE`..`LAST_DATE`; instants carry a time zone and lie in the
  same range once in UTC.
- **JSON** nested deeper than `MAX_JSON_DEPTH` is refused (400) before it is decoded.

The constraints are declared on the body types (`domain.inputs`: text kinds, bounds); every route
that takes a body passes it through `enforce` (`api.routes.commands.checked_body`) before it
is used. The walk over a body type is compiled once per type, on first use.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect as mi
from litestar import Request

from api.errors import ApiError, invalid_field
from domain.errors import InvalidInput
from domain.inputs import (
    DECIMAL_BOUNDS,
    FIRST_DATE,
    LAST_DATE,
    MAX_DECIMAL,
    MAX_DECIMAL_PLACES,
    TEXT_KIND,
    TextKind,
)

# Log positions and limits in queries: within PostgreSQL's bigint, and exact in every JSON
# reader (a browser's numbers are doubles; the OpenAPI document's maximum is one too).
MAX_JSON_DEPTH = 32
MAX_POSITION = 2**53 - 1


# ---- text ------------------------------------------------------------------------------------

_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 and C1, without tab, LF and CR
_BIDI = "\u202a-\u202e\u2066-\u2069"
_LINE_ONLY = "\t\n\r\u200e\u200f\u061c\u200b-\u200d\u2060-\u2064\ufeff\u00ad"
_SURROGATES = "\ud800-\udfff"
_REFUSED = {
    TextKind.LINE: re.compile(f"[{_CONTROL}{_BIDI}{_LINE_ONLY}{_SURROGATES}]"),
    TextKind.PARAGRAPH: re.compile(f"[{_CONTROL}{_BIDI}{_SURROGATES}\r]"),
}
_PARAGRAPH_BREAKS = re.compile("\r\n?")

def _character_code(char: str) -> str:
    point = ord(char)
    if 0xD800 <= point <= 0xDFFF:
        return "text_lone_surrogate"
    if point < 0x20 or 0x7F <= point <= 0x9F:
        return "text_control_character"
    if char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        return "text_bidi_control"
    return "text_invisible_character"


def _describe(char: str) -> str:
    return unicodedata.name(char, "") or {
        "\x00": "NULL", "\x07": "BELL", "\t": "CHARACTER TABULATION", "\n": "LINE FEED",
        "\r": "CARRIAGE RETURN",
    }.get(char, "control or unassigned character")


def clean_text(field: str, value: str, kind: TextKind = TextKind.LINE) -> str:
    """`value` trimmed and NFC-normalised, or `InvalidInput` naming the first refused
    character: its position (from 1, in the text as sent) and its code point."""
    if kind is TextKind.PARAGRAPH and "\r" in value:
        value = _PARAGRAPH_BREAKS.sub("\n", value)
    stripped = value.strip()
    bad = _REFUSED[kind].search(stripped)
    if bad is not None:
        char = bad.group()
        position = len(value) - len(value.lstrip()) + bad.start() + 1
        code_point = f"U+{ord(char):04X}"
        where = "a one-line text" if kind is TextKind.LINE else "this text"
        raise InvalidInput(
            _character_code(char),
            f"{field}: character {position} ({code_point} {_describe(char)}) is not allowed "
            f"in {where}",
            field=field,
            position=position,
            code_point=code_point,
        )
    return unicodedata.normalize("NFC", stripped) if not stripped.isascii() else stripped


def _length_error(field: str, length: int, low: int | None, high: int | None) -> InvalidInput:
    if low is not None and length < low:
        return InvalidInput(
            "text_too_short",
            f"{field}: at least {low} character(s) are needed once trimmed, got {length}",
            field=field, min_length=low,
        )
    return InvalidInput(
        "text_too_long", f"{field}: at most {high} characters, got {length}",
        field=field, max_length=high,
    )


# ---- numbers and dates -----------------------------------------------------------------------


def _bad_value(field: str, message: str) -> ApiError:
    return invalid_field(field, message)


def _check_decimal(field: str, value: Decimal, bounds: tuple[Decimal, Decimal] | None) -> None:
    if not value.is_finite():
        raise _bad_value(field, "Expected a finite number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise _bad_value(field, f"Expected at most {MAX_DECIMAL_PLACES} decimal places")
    low, high = bounds or (-MAX_DECIMAL, MAX_DECIMAL)
    if not low <= value <= high:
        raise _bad_value(field, f"Expected a number between {low} and {high}")


def check_date(field: str, value: date, *, source: str = "body") -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise invalid_field(
            field, f"Expected a date between {FIRST_DATE} and {LAST_DATE}", source=source
        )
    return value


def check_instant(field: str, value: datetime, *, source: str = "query") -> datetime:
    """A timezone-aware instant within the plausible range."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "known_at_needs_time_zone",
            f"{field} is an instant: give its time zone (e.g. 2025-06-01T08:00:00Z)",
            field=field,
        )
    if not FIRST_DATE <= value.date() <= LAST_DATE:  # before any conversion, which may overflow
        raise invalid_field(
            field, f"Expected an instant between {FIRST_DATE} and {LAST_DATE}", source=source
        )
    return value


def query_text(field: str, value: str | None) -> str | None:
    """A one-line query parameter (e.g. a name search), cleaned like body text."""
    return None if value is None else clean_text(field, value)


def query_date(field: str, value: date | None) -> date | None:
    return None if value is None else check_date(field, value, source="query")


def query_instant(field: str, value: datetime | None) -> datetime | None:
    return None if value is None else check_instant(field, value)


# ---- the walk over a decoded body ------------------------------------------------------------

Check = Callable[[str, Any], Any]  # (field path, value) -> the value to keep
Typed = tuple[type | tuple[type, ...], Check]  # the Python type(s) a check applies to


def _unwrap(info: Any) -> tuple[Any, dict[str, Any]]:
    extra: dict[str, Any] = {}
    while isinstance(info, mi.Metadata):
        extra.update(info.extra or {})
        info = info.type
    return info, extra


def _check_for(info: Any) -> Typed | None:  # noqa: PLR0911 - one branch per kind of type
    """The check of one type and the Python type of the values it applies to (None when
    nothing is to be checked), from msgspec's type info."""
    info, extra = _unwrap(info)
    if isinstance(info, mi.StrType):
        return str, _str_check(
            TextKind(extra.get(TEXT_KIND, TextKind.LINE)), info.min_length, info.max_length
        )
    if isinstance(info, mi.DecimalType):
        bounds = extra.get(DECIMAL_BOUNDS)

        def check_decimal(field: str, value: Decimal) -> Decimal:
            _check_decimal(field, value, bounds)
            return value

        return Decimal, check_decimal
    if isinstance(info, mi.DateTimeType):
        return datetime, lambda field, value: check_instant(field, value, source="body")
    if isinstance(info, mi.DateType):
        return date, check_date
    if isinstance(info, mi.StructType):
        return info.cls, _struct_check(info.cls)
    if isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        item = _check_for(info.item_type)
        if item is None:
            return None
        return (list, tuple, set, frozenset), _sequence_check(item[1])
    if isinstance(info, mi.UnionType):
        members = [typed for typed in map(_check_for, info.types) if typed is not None]
        if not members:
            return None
        return object, _union_check(members)
    return None


def _str_check(kind: TextKind, low: int | None, high: int | None) -> Check:
    def check_str(field: str, value: str) -> str:
        cleaned = clean_text(field, value, kind)
        if (low is not None and len(cleaned) < low) or (high is not None and len(cleaned) > high):
            raise _length_error(field, len(cleaned), low, high)
        return cleaned

    return check_str


def _sequence_check(item: Check) -> Check:
    def check_items(field: str, values: Any) -> Any:
        cleaned = [item(f"{field}[{i}]", v) for i, v in enumerate(values)]
        if all(a is b for a, b in zip(cleaned, values, strict=True)):
            return values
        return type(values)(cleaned)

    return check_items


def _union_check(members: list[Typed]) -> Check:
    def check_member(field: str, value: Any) -> Any:
        for python_type, check in members:
            if isinstance(value, python_type):
                return check(field, value)
        return value  # None, or a member nothing is checked on

    return check_member


@functools.cache
def _struct_check(cls: type[msgspec.Struct]) -> Check:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)  # noqa: S101 - msgspec's answer for a Struct
    fields = [
        (f.name, f.encode_name, typed[1])
        for f in info.fields
        if (typed := _check_for(f.type)) is not None
    ]

    def check_struct(prefix: str, value: msgspec.Struct) -> msgspec.Struct:
        for name, encoded, check in fields:
            current = getattr(value, name)
            if current is None:
                continue
            cleaned = check(f"{prefix}.{encoded}" if prefix else encoded, current)
            if cleaned is not current and cleaned != current:
                msgspec.structs.force_setattr(value, name, cleaned)
        return value

    return check_struct


def enforce(body: msgspec.Struct) -> None:
    """Check and normalise a decoded request body in place (text, numbers, dates)."""
    _struct_check(type(body))("", body)


# ---- JSON depth ------------------------------------------------------------------------------

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `body`, read as JSON, nests arrays and objects more than `limit` deep. Counts
    brackets outside strings, without decoding (the decoder itself would recurse)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def refuse_deep_json(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook of the app: a body nested deeper than `MAX_JSON_DEPTH` is a 400
    before any handler decodes it (forms are not JSON and are left to their decoder)."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    if request.headers.get("content-type", "").lower().startswith(_FORM_TYPES):
        return
    if json_too_deep(await request.body()):
        raise ApiError(
            400,
            "json_too_deep",
            f"the request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep",
        )
