"""The helpers that the page tests rely on find what they are there to find: axe-core reports
a serious violation, `tab_to` tells a control the keyboard cannot reach, `login` tells a
refused sign-in, and every page refuses and reports a request to another host."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, Request

from tests.browser.conftest import NewPage, ServedApp, _Watch
from tests.browser.support import assert_accessible, axe_violations, focused, tab_to

FORM = """<!DOCTYPE html><html lang="en"><head><title>form</title></head><body><main>
    <a href="#skip">skip</a>
    <label>Name <input name="username"></label>
    <div id="fake-button" onclick="void 0">not focusable</div>
    <button id="real-button" type="button">go</button>
    </main></body></html>"""
HTML = "text/html; charset=utf-8"


async def _page_with(new_page: NewPage, content: str) -> Page:
    page = await new_page("en")
    await page.goto("/health")  # a page of this server; its content is replaced
    await page.set_content(content)
    return page


async def test_axe_reports_serious_and_critical_violations(new_page: NewPage) -> None:
    page = await _page_with(new_page, """<!DOCTYPE html><html><head><title>t</title></head>
        <body><main><img src="/static/none.png"><p style="color:#bbb;background:#fff">pale</p>
        </main></body></html>""")
    found = {(v["id"], v["impact"]) for v in await axe_violations(page)}
    assert {("image-alt", "critical"), ("html-has-lang", "serious"),
            ("color-contrast", "serious")} <= found
    with pytest.raises(AssertionError, match="image-alt"):
        await assert_accessible(page)


async def test_axe_passes_a_plain_accessible_page(new_page: NewPage) -> None:
    page = await _page_with(new_page, FORM.replace(
        '<div id="fake-button" onclick="void 0">not focusable</div>', ""
    ))
    await assert_accessible(page)


async def test_tab_to_reaches_a_control_by_keyboard_and_counts_the_presses(
    new_page: NewPage,
) -> None:
    page = await _page_with(new_page, FORM)
    assert await tab_to(page, "#real-button") == 3  # the link, the input, the button
    assert await focused(page) == 'button#real-button "go"'
    assert await tab_to(page, "input[name=username]", shift=True) == 1


async def test_tab_to_fails_on_what_the_keyboard_cannot_reach(new_page: NewPage) -> None:
    page = await _page_with(new_page, FORM)
    with pytest.raises(AssertionError, match="not reached by Tab in 5 presses") as refused:
        await tab_to(page, "#fake-button", max_presses=5)
    assert "input[name=username]" in str(refused.value)


async def test_a_request_to_another_host_is_refused_and_reported(
    browser: Browser, served_pages: ServedApp,
) -> None:
    """What `new_page` does to every context: here on a context of the test's own, so that
    the report can be read instead of failing the test."""
    context = await browser.new_context(base_url=served_pages.url)
    try:
        watch = _Watch(served_pages.url)
        await context.route("**/*", watch.route)
        context.on("weberror", watch.web_error)
        page = await context.new_page()
        await page.goto("/health")
        failed: list[Request] = []
        # A lambda: Playwright wraps handlers it can inspect, and list.append is a builtin.
        page.on("requestfailed", lambda request: failed.append(request))  # noqa: PLW0108
        await page.set_content("""<html lang="en"><title>t</title>
            <img alt="" src="https://cdn.example.org/logo.png"><img alt="" src="/health">
            <script>throw new Error("boom")</script>""")  # returns once the images are done
        assert [r.url for r in failed] == ["https://cdn.example.org/logo.png"]
        assert (failed[0].failure or "").startswith("net::ERR_BLOCKED_BY_CLIENT")
        assert watch.problems() == [
            "request outside the server: https://cdn.example.org/logo.png",
            "script error: Error: boom",
        ]
    finally:
        await context.close()
