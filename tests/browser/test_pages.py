"""The pages in chromium, as a programme officer uses them: signing in through the form, every
page in Chinese and in English with no serious or critical axe finding and a screenshot of
each (`var/test-output/screenshots/<lang>/`), the board's filters worked by keyboard alone
(htmx swapping the table in, the address following), a download, and the print stylesheet.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page

from tests.api.web_support import PASSWORD, new_account
from tests.browser.conftest import NewPage, ServedApp
from tests.browser.support import assert_accessible, login, screenshot, tab_to

PAGES = (
    ("overview", "/"), ("board", "/board"), ("funding", "/funding"),
    ("deadlines", "/deadlines"), ("audit", "/audit"), ("account", "/account"),
    ("board-as-of", "/board?as_of=2024-06-30"),
)


@pytest.fixture(scope="module")
def province_officer(served_pages: ServedApp) -> str:
    return new_account(served_pages.conn.url, role="province", jurisdiction="350000")


async def _signed_in(new_page: NewPage, lang: str, username: str) -> Page:
    page = await new_page(lang)
    await login(page, username, PASSWORD)
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_is_accessible_in_both_languages(
    new_page: NewPage, province_officer: str, lang: str
) -> None:
    page = await _signed_in(new_page, lang, province_officer)
    await screenshot(page, "overview-after-sign-in", lang)
    for name, path in PAGES:
        response = await page.goto(path)
        assert response is not None
        assert response.status == 200, (path, response.status)
        assert await page.locator("html").get_attribute("lang") == (
            "zh-CN" if lang == "zh" else "en"
        )
        await assert_accessible(page)
        await screenshot(page, name, lang)
    await page.goto("/board?name=思明区")
    await page.locator("table.data tbody a").first.click()
    await page.wait_for_load_state()
    assert re.search(r"/clusters/[0-9a-f-]{36}$", page.url)
    await assert_accessible(page)
    await screenshot(page, "case", lang)
    await page.goto(page.url + "?as_of=2025-03-01")
    await assert_accessible(page)
    await screenshot(page, "case-as-of", lang)


async def test_the_sign_in_form_is_accessible_and_refuses_a_wrong_password(
    new_page: NewPage, province_officer: str
) -> None:
    page = await new_page("zh")
    await page.goto("/board")
    assert urlsplit(page.url).path == "/login"  # anonymous: sent to the form
    await assert_accessible(page)
    await screenshot(page, "login", "zh")
    with pytest.raises(AssertionError, match="用户名或密码不正确"):
        await login(page, province_officer, "not the password at all")


async def test_the_board_is_filtered_by_keyboard_alone(
    new_page: NewPage, province_officer: str
) -> None:
    page = await _signed_in(new_page, "zh", province_officer)
    await page.goto("/board")
    everything = await page.locator("table.data tbody tr").count()
    await tab_to(page, "#f-status")
    await page.keyboard.press("ArrowDown")  # the first status after 全部
    chosen = await page.locator("#f-status").input_value()
    assert chosen
    await tab_to(page, "form.filters button[type=submit]")
    async with page.expect_response(lambda r: "/board?" in r.url):
        await page.keyboard.press("Enter")
    await page.wait_for_function(
        "expected => new URLSearchParams(location.search).get('status') === expected", arg=chosen
    )
    assert parse_qs(urlsplit(page.url).query)["status"] == [chosen]
    shown = await page.locator("table.data tbody tr").count()
    assert 0 < shown <= everything
    statuses = set(await page.locator("table.data tbody .status").all_inner_texts())
    assert len(statuses) <= 1  # one status, in words


async def test_a_table_downloads_from_its_link(new_page: NewPage, province_officer: str) -> None:
    page = await _signed_in(new_page, "zh", province_officer)
    await page.goto("/board?status=certified")
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Excel (XLSX)").click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".xlsx")
    assert download.suggested_filename.startswith("集群台账")


async def test_a_printed_page_shows_its_filters_and_date_and_hides_the_controls(
    new_page: NewPage, province_officer: str
) -> None:
    page = await _signed_in(new_page, "zh", province_officer)
    await page.goto("/board?status=certified")
    await page.emulate_media(media="print")
    assert await page.locator("header.top nav").is_hidden()
    assert await page.locator("form.filters").is_hidden()
    assert await page.locator(".applied-filters").is_visible()
    assert "已认定" in await page.locator(".applied-filters").inner_text()
    assert await page.locator(".as-of").is_visible()
    await screenshot(page, "board-print", "zh")
