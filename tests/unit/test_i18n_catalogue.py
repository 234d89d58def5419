"""The message catalogue covers every code the system can answer, in both languages.

The source is read, not imported: every call that raises a problem code (a DomainError
subclass, `ApiError` and its subclasses, `invalid_field`, `problem` in api/errors.py) is found
with Python's own parser (a regular expression would miss codes split over lines and cannot
tell a keyword argument from text), with the details each call passes. A code computed at run
time must be resolved in `DYNAMIC_CODES` below, or the test fails naming the call.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.errors import HTTP_CODES
from api.i18n.catalogue import (
    LOCALES,
    PROBLEMS_FILE,
    VALUE_FORMATS,
    build_catalogue,
    catalogue,
    parse_problems,
    parse_ui,
    placeholders,
)
from domain.errors import ConfigError
from domain.programmes import ProgrammeProfile
from infra.db_failures import Failure
from infra.rules import load_programmes

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "infra", "projections", "api")
BASE_ERRORS = {
    "DomainError", "InvalidInput", "RuleViolation", "WrongState", "NotAllowed", "NotFound",
    "VersionConflict", "ConfigError",
}


def _error_classes() -> set[str]:
    """The domain error classes and every class derived from one anywhere in the source (e.g.
    `infra.accounts.AccountExists`): a call of any of them raises a code."""
    bases: dict[str, set[str]] = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases.setdefault(node.name, set()).update(
                        name for base in node.bases if (name := _name(base))
                    )
    found = set(BASE_ERRORS)
    while grown := {c for c, names in bases.items() if names & found and c not in found}:
        found |= grown
    return found
DETAIL_KEYWORDS_NOT_DETAILS = {"fields", "errors", "headers", "details", "title"}

def _profiles() -> list[ProgrammeProfile]:
    return list(load_programmes().profiles.values())


# Codes computed at run time: (file, the code expression as written) -> (codes, details given).
DYNAMIC_CODES: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    ("api/input_policy.py", "_character_code(char)"): (
        {"text_lone_surrogate", "text_control_character", "text_bidi_control",
         "text_invisible_character"},
        {"field", "position", "code_point"},
    ),
    ("domain/stage.py", "f'{code_prefix}_before_certification'"): (
        {"annual_report_before_certification", "assessment_before_certification"}, {"year"},
    ),
    ("domain/stage.py", "f'{code_prefix}_year_not_over'"): (
        {"annual_report_year_not_over", "assessment_year_not_over"}, {"year"},
    ),
    # Codes a programme profile names (domain/rules/programmes.toml), raised by the rule that
    # reads the profile.
    ("domain/cluster.py", "required.code"): (
        {r.code for p in _profiles() for r in p.dossier_requires}, {"field"},
    ),
    ("domain/review.py", "profile.outside_region"): (
        {p.outside_region for p in _profiles()}, {"region", "county_code"},
    ),
    # The exception map passes on the code of the exception it answers.
    ("api/errors.py", "exc.code"): (set(), set()),
    ("api/errors.py", "code"): (set(), set()),
    ("api/errors.py", "failure.value"): ({str(f) for f in Failure}, set()),
}
# Codes answered without a call that names them: by HTTP status, and the fallback.
MAPPED_CODES = {*HTTP_CODES.values(), "http_error"}
# Catalogue entries no source call names (none today).
ALLOWED_ORPHANS: set[str] = set()


@dataclass(frozen=True)
class Raise:
    code: str
    details: frozenset[str]  # the names the call puts into `details` (and `field`)
    where: str


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


DOMAIN_ERRORS = _error_classes()


def _keywords(call: ast.Call) -> set[str]:
    names = {k.arg for k in call.keywords if k.arg and k.arg not in DETAIL_KEYWORDS_NOT_DETAILS}
    for keyword in call.keywords:
        if keyword.arg == "details" and isinstance(keyword.value, ast.Dict):
            names |= {k.value for k in keyword.value.keys if isinstance(k, ast.Constant)}
        if keyword.arg == "fields" and isinstance(keyword.value, ast.List) and keyword.value.elts:
            names.add("field")  # the exception map passes the field to the template
    return names


def _code_argument(call: ast.Call, path: str, in_api_error_class: bool) -> int | None:
    """Where the code is among the call's arguments, if this call raises a problem."""
    name = _name(call.func)
    if name in DOMAIN_ERRORS:
        return 0
    if name == "ApiError" or (name == "problem" and path == "api/errors.py"):
        return 1
    is_super_init = (
        name == "__init__"
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Call)
        and _name(call.func.value.func) == "super"
    )
    return 1 if is_super_init and in_api_error_class else None


def _calls(tree: ast.AST) -> Iterator[tuple[ast.Call, bool]]:
    """Every call, with whether it lies inside a class deriving from ApiError."""

    def walk(node: ast.AST, in_api_error_class: bool) -> Iterator[tuple[ast.Call, bool]]:
        if isinstance(node, ast.ClassDef):
            in_api_error_class = any(_name(base) == "ApiError" for base in node.bases)
        if isinstance(node, ast.Call):
            yield node, in_api_error_class
        for child in ast.iter_child_nodes(node):
            yield from walk(child, in_api_error_class)

    yield from walk(tree, False)


@functools.cache
def raised() -> tuple[list[Raise], list[str]]:
    """Every problem code raised in the source, and the calls whose code is unresolved."""
    found: list[Raise] = []
    unresolved: list[str] = []
    for layer in LAYERS:
        for file in sorted((ROOT / layer).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            for call, in_api_error_class in _calls(ast.parse(file.read_text(encoding="utf-8"))):
                where = f"{path}:{call.lineno}"
                if _name(call.func) == "invalid_field":
                    found.append(Raise("invalid_request", frozenset({"field"}), where))
                    continue
                index = _code_argument(call, path, in_api_error_class)
                if index is None or len(call.args) <= index:
                    continue
                argument = call.args[index]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.append(Raise(argument.value, frozenset(_keywords(call)), where))
                    continue
                dynamic = DYNAMIC_CODES.get((path, ast.unparse(argument)))
                if dynamic is None:
                    unresolved.append(f"{where}: {ast.unparse(argument)}")
                    continue
                codes, details = dynamic
                found.extend(Raise(code, frozenset(details), where) for code in codes)
    found.extend(Raise(code, frozenset(), "api/errors.py (by status)") for code in MAPPED_CODES)
    return found, unresolved


def available_details() -> dict[str, frozenset[str]]:
    """For each code, the details every place that raises it provides."""
    by_code: dict[str, frozenset[str]] = {}
    for item in raised()[0]:
        by_code[item.code] = by_code.get(item.code, item.details) & item.details
    return by_code


def test_the_scan_finds_the_codes_it_must() -> None:
    codes = available_details()
    # one of each way a code is raised: a domain rule over lines, an API header check, a token
    # subclass, the text policy's computed codes, the exception map's own, by HTTP status
    for code in ("four_eyes", "invalid_if_match", "invalid_token_claims", "text_bidi_control",
                 "malformed_json", "json_too_deep", "database_busy", "unauthenticated",
                 "position_beyond_log_head", "projection_lagging", "invalid_request",
                 "assessment_year_not_over", "unsupported_language"):
        assert code in codes, code
    assert codes["four_eyes"] == {"user_id"}
    assert codes["role_not_permitted"] == {"role", "allowed"}  # auth.py's admin_only: no command
    assert codes["invalid_if_match"] == {"field"}


def test_every_computed_code_is_resolved() -> None:
    assert raised()[1] == []


@pytest.mark.parametrize("code", sorted(available_details()))
def test_every_code_raised_has_both_languages(code: str) -> None:
    entry = catalogue().problems.get(code)
    assert entry is not None, f"{code} has no entry in api/i18n/{PROBLEMS_FILE}"
    for locale in LOCALES:
        assert entry.title.get(locale).strip()
        assert entry.detail.get(locale).strip()


@pytest.mark.parametrize("code", sorted(available_details()))
def test_every_placeholder_of_a_code_is_given_wherever_it_is_raised(code: str) -> None:
    entry = catalogue().problems.get(code)
    assert entry is not None
    given = available_details()[code]
    for text in (entry.title, entry.detail):
        for locale in LOCALES:
            used = {name for name, _ in placeholders(text.get(locale))}
            assert used <= given, (
                f"{code}.{locale} uses {sorted(used - given)}; raised with {sorted(given)}"
            )


def test_no_catalogue_entry_is_orphaned() -> None:
    orphans = set(catalogue().problems) - set(available_details()) - ALLOWED_ORPHANS
    assert orphans == set()


def test_the_chinese_texts_are_chinese() -> None:
    for code, entry in catalogue().problems.items():
        for text in (entry.title.zh, entry.detail.zh):
            assert any("\u4e00" <= char <= "\u9fff" for char in text), code


def test_value_formats_are_the_ones_the_messages_write() -> None:
    from api.i18n import messages

    assert set(messages._WRITERS) == VALUE_FORMATS


# ---- the UI strings ------------------------------------------------------------------------


def test_the_ui_strings_are_in_both_languages() -> None:
    ui = catalogue().ui
    assert len(ui) > 100
    for key, text in ui.items():
        assert text.zh.strip(), key
        assert text.en.strip(), key


def test_adding_a_ui_key_needs_both_languages() -> None:
    added = parse_ui('[page.board]\ntitle = { zh = "集群看板", en = "Board" }\n'.encode())
    assert {key: (text.zh, text.en) for key, text in added.items()} == {
        "page.board.title": ("集群看板", "Board")
    }
    for bad in (
        '[page]\ntitle = { zh = "集群看板" }',  # English missing
        '[page]\ntitle = { zh = "", en = "Board" }',  # empty
        '[page]\ntitle = { zh = "  ", en = "Board" }',  # blank
        '[page]\ntitle = { zh = "看板", en = "Board", fr = "Tableau" }',  # a third language
        '[page]\ntitle = "集群看板"',  # not a pair
        '[page]\ntitle = { zh = "看板", en = 3 }',
        '[page]\n"bad key" = { zh = "看板", en = "Board" }',
        "[page\n",  # not TOML
    ):
        with pytest.raises(ConfigError) as refused:
            parse_ui(bad.encode())
        assert refused.value.code == "invalid_catalogue"


def _problem(detail_zh: str = "d", *, extra: str = "") -> bytes:
    return (
        f'[x]\ntitle.zh = "标题"\ntitle.en = "T"\ndetail.zh = "{detail_zh}"\n'
        f'detail.en = "D"\n{extra}'
    ).encode()


def test_a_problem_entry_needs_title_and_detail_in_both_languages() -> None:
    assert set(parse_problems(_problem())) == {"x"}
    for bad in (
        b'[x]\ntitle.zh = "t"\ntitle.en = "T"\ndetail.zh = "d"\n',
        b'[x]\ntitle.zh = "t"\ntitle.en = "T"\n',
        _problem(extra='note = "n"\n'),
        _problem().replace(b"[x]", b'["Bad-Code"]'),
        _problem().replace(b'title.en = "T"', b'title.en = ""'),
    ):
        with pytest.raises(ConfigError):
            parse_problems(bad)


ROLES = '[role]\ncity = { zh = "市级", en = "city" }\n'.encode()


@pytest.mark.parametrize(
    "template",
    ["{role:nonexistent}", "{role!r}", "{role.__class__}", "{0}", "{Role}", "{role", "{}"],
)
def test_a_malformed_placeholder_stops_the_catalogue(template: str) -> None:
    with pytest.raises(ConfigError, match=r"problems.toml: x\.detail\.zh"):
        build_catalogue(_problem(template), ROLES)


def test_a_placeholder_of_a_ui_kind_or_a_value_format_is_accepted() -> None:
    built = build_catalogue(_problem("{r:role} {d:date} {f:yuan} {n}"), ROLES)
    assert built.groups == {"role"}


async def test_the_lifespan_hook_reads_the_catalogue_once() -> None:
    from contextlib import AsyncExitStack

    from api.i18n.catalogue import start

    catalogue.cache_clear()
    async with AsyncExitStack() as stack:
        await start(None, stack)
    assert catalogue.cache_info().currsize == 1
    assert catalogue() is catalogue()
