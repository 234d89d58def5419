"""`t` answers a text without placeholders from a table built once per language; it writes
the same text as formatting it each time, and still refuses what it refused."""

from __future__ import annotations

import pytest

from api.i18n import LOCALES, labels, t
from api.i18n.catalogue import catalogue, placeholders
from api.i18n.messages import _Formatter, plain_texts


@pytest.mark.parametrize("locale", LOCALES)
def test_every_plain_text_is_what_formatting_it_writes(locale: str) -> None:
    ui = catalogue().ui
    plain = plain_texts(locale)  # type: ignore[arg-type]
    for key, text in ui.items():
        template = text.get(locale)  # type: ignore[arg-type]
        if list(placeholders(template)):
            assert key not in plain
        else:
            assert plain[key] == _Formatter(locale, strict=True).vformat(template, (), {})  # type: ignore[arg-type]


def test_a_text_with_placeholders_still_needs_its_values() -> None:
    with pytest.raises(KeyError):
        t("zh", "board.caption")
    assert t("zh", "board.caption", count=3) == t("zh", "board.caption", count=3)


def test_an_unknown_key_is_still_refused() -> None:
    with pytest.raises(KeyError):
        t("zh", "board.no_such_text")


def test_a_groups_labels_are_its_words_by_value() -> None:
    assert labels("zh", "status")["certified"] == t("zh", "status.certified") == "已认定"
    assert labels("en", "programme")["XM"] == t("en", "programme.XM")
