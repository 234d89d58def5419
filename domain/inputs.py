"""What a request may carry: the bounds and kinds of every value a command body declares.

The types here only *declare* constraints (msgspec metadata: lengths, patterns, bounds, the kind
of a text). The one input policy at the edge (`api.input_policy.enforce`) walks every decoded
request body and enforces them; the domain trusts what passed it. Bounds live on these input
types and never on the domain's own value types: those also decode the events already stored,
which must keep loading whatever they hold.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import msgspec

FIRST_DATE = date(1990, 1, 1)
LAST_DATE = date(2200, 12, 31)
MAX_FEN = 10**13  # 1,000亿元: far above any subsidy; refuses overflowing sums
MAX_COUNT = 10**15  # counts and yuan figures declared in a dossier or report
MAX_DECIMAL = Decimal(10**15)
MAX_DECIMAL_PLACES = 6
DEFAULT_LINE_LENGTH = 200
DEFAULT_PARAGRAPH_LENGTH = 4000

TEXT_KIND = "text"  # key of msgspec.Meta.extra naming a string's TextKind
DECIMAL_BOUNDS = "decimal_bounds"  # key of msgspec.Meta.extra: (minimum, maximum)


class TextKind(StrEnum):
    LINE = "line"  # names, codes, document numbers: one line, nothing invisible
    PARAGRAPH = "paragraph"  # free text (reasons, summaries): tab and newline allowed


DOCUMENTED_PATTERN = {  # JSON Schema (ECMA-262) spelling of what each kind accepts
    TextKind.LINE: r"^[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b-\u200f"
    r"\u2060-\u2064\ufeff\u00ad\u061c]*$",
    TextKind.PARAGRAPH: r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    r"\u202a-\u202e\u2066-\u2069]*$",
}


def text_meta(
    kind: TextKind = TextKind.LINE,
    *,
    max_length: int | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
) -> msgspec.Meta:
    """Constraints of a text field: its kind and its length bounds (after normalisation)."""
    if max_length is None:
        max_length = DEFAULT_LINE_LENGTH if kind is TextKind.LINE else DEFAULT_PARAGRAPH_LENGTH
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
        description=description,
        examples=examples,
        extra={TEXT_KIND: kind},
        # Documents what the policy refuses; the policy itself enforces it (with the position
        # and the code point in its answer, which a pattern mismatch could not give).
        extra_json_schema=None if pattern else {"pattern": DOCUMENTED_PATTERN[kind]},
    )


def date_meta() -> msgspec.Meta:
    """A date of a request: enforced by the walk, its range documented. (Not as a pattern on
    the year: beside `format: date`, generators then throw away most dates they draw.)"""
    return msgspec.Meta(description=f"a date from {FIRST_DATE} to {LAST_DATE}")


def decimal_meta(
    minimum: Decimal | int, maximum: Decimal | int, *, description: str | None = None
) -> msgspec.Meta:
    """Bounds of a decimal field (msgspec cannot constrain decimals itself): enforced by the
    walk, documented in the OpenAPI schema."""
    low, high = Decimal(minimum), Decimal(maximum)
    return msgspec.Meta(
        description=description,
        extra={DECIMAL_BOUNDS: (low, high)},
        extra_json_schema={
            "minimum": float(low) if low != low.to_integral_value() else int(low),
            "maximum": float(high) if high != high.to_integral_value() else int(high),
        },
    )


Sha256Hex = Annotated[
    str,
    msgspec.Meta(
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 of an attached document, 64 lower-case hex digits",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ),
]
RegionCode = Annotated[
    str,
    msgspec.Meta(pattern=r"^\d{6}$", description="GB/T 2260 six-digit code", examples=["350203"]),
]
Name = Annotated[str, text_meta(min_length=1, max_length=200)]
ShortText = Annotated[str, text_meta(max_length=200)]
LongText = Annotated[str, text_meta(TextKind.PARAGRAPH, max_length=4000)]
DocumentNumber = Annotated[
    str, text_meta(min_length=1, max_length=100, description="文号, as on the document")
]
Year = Annotated[int, msgspec.Meta(ge=1990, le=2200)]
Day = Annotated[date, date_meta()]
FundingYear = Annotated[int, msgspec.Meta(ge=1, le=3, description="year 1 to 3 of the subsidy")]
Fen = Annotated[
    int,
    msgspec.Meta(
        ge=0, le=MAX_FEN, description="amount in fen (1 yuan = 100 fen), at most 10^13 (1,000亿元)"
    ),
]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
Yuan = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT, description="whole yuan")]
Percent = Annotated[Decimal, decimal_meta(0, 100, description="percentage points (60 = 60 %)")]
Growth = Annotated[
    Decimal, decimal_meta(-100, 10_000, description="average annual growth, percentage points")
]
Figure = Annotated[Decimal, decimal_meta(0, 10**9)]
PlanFigure = Annotated[Decimal, decimal_meta(-(10**15), 10**15)]


class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of request values: keyword-only, unknown fields refused (a misspelt field is a 400
    naming it rather than a silently ignored value)."""


class RequestBody(Strict, kw_only=True):
    """A whole request body. The edge passes every decoded one through the input policy
    (`api.input_policy.enforce`), which normalises its text in place or refuses it, before
    anything reads it."""
