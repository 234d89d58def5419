"""Which language to answer in: the `lang` cookie, then Accept-Language, else the default."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request
from litestar.testing import RequestFactory

from api.i18n import api_locale, negotiate, page_context
from api.i18n.negotiation import parse_accept_language
from api.i18n.routes import local_path


def _request(
    accept_language: str | None = None, lang_cookie: str | None = None
) -> Request[Any, Any, Any]:
    headers = {"Accept-Language": accept_language} if accept_language is not None else {}
    cookies = f"lang={lang_cookie}" if lang_cookie is not None else None
    return RequestFactory().get("/", headers=headers, cookies=cookies)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-Hans-CN", "zh"),
        ("zh_CN", "zh"),
        ("ZH-cn", "zh"),
        ("zh-TW", "zh"),  # the only Chinese there is: simplified
        ("en", "en"),
        ("en-US", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.5, zh;q=0.8", "zh"),  # by q-value, not by order
        ("en;q=0.8, zh;q=0.8", "en"),  # a tie: as listed
        ("fr-FR, zh;q=0.1", "zh"),  # the best supported one, however low
        ("fr-FR, de", None),
        ("zh;q=0, en;q=0.1", "en"),  # q=0: not Chinese
        ("zh;q=0", None),
        ("zh;q=1.000", "zh"),
        ("zh;q=1.5, en;q=0.5", "en"),  # an impossible q is skipped
        ("zh;q=abc, en", "en"),
        ("zh;q=nan, en;q=0.1", "en"),
        ("*", "default"),
        ("fr, *;q=0.5, en;q=0.1", "default"),
        ("", None),
        (",,;;==", None),
        ("中文, en", "en"),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert parse_accept_language(header, "default") == expected  # type: ignore[arg-type]


def test_a_huge_header_is_read_up_to_a_limit() -> None:
    assert parse_accept_language("fr, " * 100_000 + "zh", "en") is None


@pytest.mark.parametrize(
    ("header", "cookie", "default", "expected"),
    [
        (None, None, "zh", "zh"),  # pages: Chinese by default
        (None, None, "en", "en"),
        ("en-US", None, "zh", "en"),
        ("fr", None, "zh", "zh"),
        ("en-US", "zh", "zh", "zh"),  # the cookie wins
        ("zh-CN", "en", "zh", "en"),
        ("en-US", "fr", "zh", "en"),  # a cookie that names no language is ignored
        ("zh-CN", "", "en", "zh"),
    ],
)
def test_negotiate(header: str | None, cookie: str | None, default: str, expected: str) -> None:
    request = _request(header, cookie)
    assert negotiate(request, default) == expected  # type: ignore[arg-type]


def test_the_api_reads_accept_language_only_and_defaults_to_english() -> None:
    assert api_locale(_request()) == "en"
    assert api_locale(_request(lang_cookie="zh")) == "en"
    assert api_locale(_request("zh-CN", lang_cookie="en")) == "zh"


def test_a_page_gets_its_language_and_html_lang() -> None:
    assert page_context(_request()) == {"lang": "zh", "html_lang": "zh-CN"}
    assert page_context(_request(lang_cookie="en")) == {"lang": "en", "html_lang": "en"}


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/board?status=certified&programme=FJ", "/board?status=certified&programme=FJ"),
        ("/", "/"),
        ("/clusters/4a1c?on=2025-01-01#timeline", "/clusters/4a1c?on=2025-01-01#timeline"),
        ("/%E7%9C%8B%E6%9D%BF", "/%E7%9C%8B%E6%9D%BF"),
        (None, "/"),
        ("", "/"),
        ("board", "/"),  # relative
        ("//evil.example/x", "/"),  # another host
        ("/\\evil.example", "/"),  # browsers read \ as /
        ("/a\\b", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
        ("/a b", "/"),
        ("/" + "a" * 2000, "/"),
    ],
)
def test_the_switch_goes_back_to_a_local_path_only(candidate: str | None, expected: str) -> None:
    assert local_path(candidate) == expected
