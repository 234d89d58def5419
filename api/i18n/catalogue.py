"""The one message catalogue: data files beside this module, read and validated at first use.

- `problems.toml`: one table per stable error code (`[four_eyes]`), each with a `title` and a
  `detail`, each in `zh` and `en`. The detail is a template whose `{placeholders}` are filled
  from the problem's `details` (and its field).
- `ui.toml`: the words the pages need, as nested tables whose leaves are `{ zh = …, en = … }`;
  a leaf is addressed by its dotted key (`status.certified`). The top-level tables that name a
  kind of value (`status`, `role`, `programme`, …) also format values in templates:
  `{role:role}` writes the role in words, `{allowed:role}` a list of them.

A placeholder is `{name}` or `{name:kind}`, where kind is a top-level table of `ui.toml` or one
of `VALUE_FORMATS` (`{on:date}`, `{amount_fen:yuan}`). Anything else (attribute access,
`!r`, an unknown kind, an empty text) is refused when the files are loaded: a bad catalogue
stops the service with the file and the key, like a bad rulebook.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
import msgspec

from domain.errors import ConfigError

Locale = Literal["zh", "en"]
LOCALES: tuple[Locale, ...] = ("zh", "en")

CATALOGUE_DIR = Path(__file__).resolve().parent
PROBLEMS_FILE = "problems.toml"
UI_FILE = "ui.toml"

# Kinds of placeholder that are not a table of ui.toml.
VALUE_FORMATS = frozenset({"date", "datetime", "yuan", "wan"})

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_KEY_PART = re.compile(r"^[A-Za-z0-9_]+$")  # event class names and programme codes are not lower

NonBlank = Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S")]
Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]


class Text(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One text in both languages."""

    zh: NonBlank
    en: NonBlank

    def get(self, locale: Locale) -> str:
        return self.zh if locale == "zh" else self.en


class ProblemText(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Text
    detail: Text


class Catalogue(msgspec.Struct, frozen=True):
    problems: Mapping[str, ProblemText]  # by error code
    ui: Mapping[str, Text]  # by dotted key
    groups: frozenset[str]  # top-level tables of ui.toml


def placeholders(template: str) -> Iterator[tuple[str, str]]:
    """`(name, kind)` of every placeholder in `template` (kind "" when none is given).
    Raises ValueError for a malformed template."""
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if conversion is not None or not _NAME.match(name):
            raise ValueError(f"placeholder {{{name}}} must be a plain lower-case name")
        yield name, spec or ""


def parse_ui(raw: bytes, *, source_name: str = UI_FILE) -> dict[str, Text]:
    """The leaves of a ui.toml, by dotted key."""
    try:
        tree = msgspec.toml.decode(raw)
    except msgspec.DecodeError as exc:
        raise ConfigError("invalid_catalogue", f"{source_name}: not valid TOML: {exc}") from exc
    leaves: dict[str, Text] = {}
    _collect(tree, "", leaves, source_name)
    return leaves


def _collect(node: Any, prefix: str, leaves: dict[str, Text], source_name: str) -> None:
    where = prefix or "(top)"
    if not isinstance(node, dict) or not node:
        raise ConfigError(
            "invalid_catalogue", f"{source_name}: {where}: expected a table with zh and en"
        )
    if set(node) & set(LOCALES):
        try:
            leaves[prefix] = msgspec.convert(node, Text)
        except msgspec.ValidationError as exc:
            raise ConfigError("invalid_catalogue", f"{source_name}: {where}: {exc}") from exc
        return
    for key, child in node.items():
        if not _KEY_PART.match(key):
            raise ConfigError("invalid_catalogue", f"{source_name}: bad key {key!r} in {where}")
        _collect(child, f"{prefix}.{key}" if prefix else key, leaves, source_name)


def parse_problems(raw: bytes, *, source_name: str = PROBLEMS_FILE) -> dict[str, ProblemText]:
    try:
        return msgspec.toml.decode(raw, type=dict[Code, ProblemText])
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError("invalid_catalogue", f"{source_name}: {exc}") from exc


def check_templates(entries: Mapping[str, Text], kinds: frozenset[str], source_name: str) -> None:
    """Every placeholder is well-formed and of a known kind."""
    for key, text in entries.items():
        for locale in LOCALES:
            problem = _template_problem(text.get(locale), kinds)
            if problem is not None:
                raise ConfigError("invalid_catalogue", f"{source_name}: {key}.{locale}: {problem}")


def _template_problem(template: str, kinds: frozenset[str]) -> str | None:
    try:
        found = list(placeholders(template))
    except ValueError as exc:
        return str(exc)
    unknown = [f"{{{name}:{kind}}}" for name, kind in found if kind and kind not in kinds]
    return f"unknown kind of placeholder: {', '.join(unknown)}" if unknown else None


def build_catalogue(problems_raw: bytes, ui_raw: bytes) -> Catalogue:
    ui = parse_ui(ui_raw)
    groups = frozenset(key.partition(".")[0] for key in ui if "." in key)
    kinds = groups | VALUE_FORMATS
    check_templates(ui, kinds, UI_FILE)
    problems = parse_problems(problems_raw)
    for code, entry in problems.items():
        check_templates({f"{code}.title": entry.title, f"{code}.detail": entry.detail}, kinds,
                        PROBLEMS_FILE)
    return Catalogue(problems=problems, ui=ui, groups=groups)


@functools.cache
def catalogue() -> Catalogue:
    """The shipped catalogue, read and validated once, on first use."""
    return build_catalogue(
        (CATALOGUE_DIR / PROBLEMS_FILE).read_bytes(), (CATALOGUE_DIR / UI_FILE).read_bytes()
    )


async def start(_runtime: object, _stack: AsyncExitStack) -> None:
    """Lifespan hook (`api.app.LIFESPAN_MODULES`): read the catalogue at start-up, off the event
    loop, so that a bad file stops the service instead of the first error answer."""
    await anyio.to_thread.run_sync(catalogue)
