"""The storable form of text on the read side (`projections.text`): visible, lossless,
unambiguous, and the text itself whenever PostgreSQL can hold it as it is. Pure: no database."""

from __future__ import annotations

import itertools
from datetime import date
from functools import cache

import msgspec
import pytest

from domain.facts import ChangeKind
from infra.rules import load_programmes, load_regions, load_rulebook
from projections.folds import Rules, deadline_rows, encode_digest, fold_log, status_row
from projections.text import restore, storable
from tests.factories import fj_dossier
from tests.unit.cluster_steps import fj_applied, fj_certified, fj_county, profile_of


@cache
def rules() -> Rules:
    return Rules(rulebook=load_rulebook(), programmes=load_programmes(), regions=load_regions())


@pytest.mark.parametrize("text", [
    "", "晋江市运动鞋原辅材料产业集群", "Siming Software Park 2025", "闽工信函中小〔2023〕118号",
    "集群\u3000名称",  # ideographic space: not printable, still storable
    "bell\x07", "\u202e右到左", "zero\u200bwidth", "<script>alert(1)</script>", "tab\there",
    "C:\\files", "ends with a backslash\\", "\\n is two characters", "😀 outside the BMP",
])
def test_text_postgresql_can_hold_is_stored_as_it_is(text: str) -> None:
    assert storable(text) is text


@pytest.mark.parametrize(("text", "stored"), [
    ("a\x00b", "a\\u0000b"),
    ("\x00", "\\u0000"),
    ("a\ud800b", "a\\ud800b"),
    ("\udfff", "\\udfff"),
    ("\ud83d\ude00", "\\ud83d\\ude00"),  # a pair of surrogate code points is still two
    ("\\u0000", "\\\\u0000"),  # the six characters, not NUL: the backslash is doubled
    ("a\\\\b", "a\\\\\\\\b"),  # two backslashes in a row would read as an escape
    ("C:\\x\x00", "C:\\\\x\\u0000"),  # once escaping, every backslash is doubled
])
def test_text_that_needs_it_is_escaped_visibly(text: str, stored: str) -> None:
    assert storable(text) == stored
    assert restore(stored) == text


def test_the_stored_form_is_lossless_and_unambiguous() -> None:
    """Every string of up to 5 characters over an alphabet of every kind of character that
    matters comes back from its stored form, which PostgreSQL can hold."""
    alphabet = ["a", "\\", "u", "0", "d", "8", "\x00", "\ud800", "\udc00", "\x07", "集"]
    seen: dict[str, str] = {}
    for length in range(6):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            stored = storable(text)
            assert restore(stored) == text
            assert "\x00" not in stored
            stored.encode("utf-8")  # no surrogate left
            assert seen.setdefault(stored, text) == text  # no two texts share a stored form


def test_folds_keep_the_storable_form_of_every_text_from_an_event() -> None:
    dossier = msgspec.structs.replace(
        fj_dossier("晋江\x00集群"), leading_industry="鞋\x00业", operating_unit="运营\ud800单位"
    )
    events = fj_applied(dossier).collect_events()
    (digest,) = fold_log(enumerate(events, start=1), rules()).values()
    assert (digest.name, digest.leading_industry, digest.operating_unit) == (
        "晋江\\u0000集群", "鞋\\u0000业", "运营\\ud800单位"
    )
    encoded = encode_digest(digest)  # JSON PostgreSQL's jsonb accepts: no \u0000 escape
    assert "\\u0000" not in encoded.replace("\\\\", "")
    row = status_row(digest, rules())
    assert (row.name, row.leading_industry) == (digest.name, digest.leading_industry)
    assert all(d.name == digest.name for d in deadline_rows(digest, rules()))


def test_a_major_change_keeps_the_storable_form() -> None:
    cluster = fj_certified()
    on = date(2024, 6, 3)
    cluster.report_major_change(fj_county(on), ChangeKind.LEADING_INDUSTRY, "智能\x00系统",
        profile=profile_of(cluster))
    cluster.report_major_change(fj_county(on), ChangeKind.OPERATING_UNIT, "\\u0000",
        profile=profile_of(cluster))
    (digest,) = fold_log(enumerate(cluster.collect_events(), start=1), rules()).values()
    assert (digest.leading_industry, digest.operating_unit) == ("智能\\u0000系统", "\\\\u0000")
