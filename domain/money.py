"""Money is integer fen (分), never float: 1 yuan = 100 fen.

The rulebook states amounts in fen (XM Art. 13's 100万元 is 100_000_000 fen), payments and
approvals add up exactly, and formatting happens only at the edge.
"""

from __future__ import annotations

from typing import TypeAlias

Fen: TypeAlias = int  # an alias, not a NewType: rulebook and event fields are plain ints

FEN_PER_YUAN = 100


def yuan_to_fen(yuan: int) -> Fen:
    """Whole yuan to fen; amounts in the sources are whole yuan (e.g. 60万元)."""
    if isinstance(yuan, bool) or not isinstance(yuan, int):
        raise TypeError(f"yuan must be an int, got {type(yuan).__name__}")
    return yuan * FEN_PER_YUAN


def format_fen(fen: Fen) -> str:
    """Human-readable yuan with thousands separators: 60_000_000 -> "¥600,000.00"."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}¥{yuan:,}.{cents:02d}"
