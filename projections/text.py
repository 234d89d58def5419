r"""Text the read views can always store, whatever an event holds.

PostgreSQL `text` and `jsonb` hold any Unicode string except two kinds of character: U+0000
(NUL), and a surrogate code point (U+D800-U+DFFF: a Python string can hold one alone, UTF-8
cannot encode it). Events are immutable and the domain does not refuse such text, so a log may
hold it; a view that refused it would stop for good, for every reader (the projector and every
rebuild fail on the same event). Instead the read side keeps every free text it takes from an
event (name, leading industry, operating unit, voucher number) in `storable` form: the folds
apply it where the text enters the per-cluster digest, so the digest, every row derived from
it, the offline verifier's replay and the views all agree.

The form is visible, lossless and unambiguous (characters written literally here):

- a text holding no U+0000, no surrogate, no two backslashes in a row and no backslash
  followed by `u` is stored as it is: every ordinary text, also one with a lone backslash;
- any other text has each backslash doubled (`\` -> `\\`), U+0000 written as the six
  characters `\u0000` and each surrogate as `\u` and its four lower-case hex digits
  (U+D800 -> `\ud800`). Nothing else changes: BEL and other control characters, bidi marks and
  zero-width characters are storable and stay as they are (whether to accept them is the input
  policy's decision at the edge, not the storage's).

`restore` inverts it: `restore(storable(t)) == t` for every string `t`. It undoes `\\` and
`\uXXXX` from left to right; a text stored as it was holds neither.
"""

from __future__ import annotations

import re

# What makes a text need the escaped form: a character PostgreSQL cannot hold, or a backslash
# sequence that would read as an escape.
_NEEDS_ESCAPING = re.compile(r"[\x00\ud800-\udfff]|\\[\\u]")
_ESCAPED_CHARACTERS = re.compile(r"[\x00\\\ud800-\udfff]")
_ESCAPE_SEQUENCE = re.compile(r"\\(\\|u[0-9a-f]{4})")


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    return "\\\\" if character == "\\" else f"\\u{ord(character):04x}"


def storable(text: str) -> str:
    """`text` as the views store it (see the module docstring); itself in the common case."""
    # Fast path, two scans in C: no backslash and nothing but printable characters (U+0000
    # and surrogates are not printable). Chinese text, Latin text and digits all take it.
    if "\\" not in text and text.isprintable():
        return text
    if _NEEDS_ESCAPING.search(text) is None:
        return text
    return _ESCAPED_CHARACTERS.sub(_escape, text)


def storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)


def _unescape(match: re.Match[str]) -> str:
    sequence = match.group(1)
    return "\\" if sequence == "\\" else chr(int(sequence[1:], 16))


def restore(stored: str) -> str:
    """The text that `storable` turned into `stored`."""
    if "\\" not in stored:
        return stored
    return _ESCAPE_SEQUENCE.sub(_unescape, stored)
