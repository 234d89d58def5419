"""The API docs page (`/schema`, Scalar) works on a machine with no internet: its script and
styles come from this server, and it shows the API's operations."""

from __future__ import annotations

import httpx

from api.web.static import SCALAR_URL
from tests.browser.conftest import NewPage, ServedApp
from tests.browser.support import assert_accessible, outside_urls, screenshot


async def test_api_docs_show_the_operations_with_every_outside_request_refused(
    new_page: NewPage,
) -> None:
    """`new_page` aborts every request to another host and fails the test if one was tried,
    or if a script raised."""
    page = await new_page("en")
    response = await page.goto("/schema")
    assert response is not None
    assert response.status == 200
    await page.get_by_role("heading", name="Cluster Ledger API").wait_for(timeout=30_000)
    await page.get_by_role("button", name="Open Group - reads").click()
    await page.get_by_text(
        "Status board: every cluster in the caller's jurisdiction"
    ).first.wait_for(timeout=10_000)
    # The window only: Scalar draws sections as they scroll into view, the rest is blank.
    await screenshot(page, "api-docs", "en", full_page=False)
    await assert_accessible(page)


async def test_api_docs_offer_nothing_that_needs_scalars_own_services(
    new_page: NewPage,
) -> None:
    """Ask AI, SDK generation and the developer tools call Scalar's servers: hidden."""
    page = await new_page("en")
    await page.goto("/schema")
    await page.get_by_role("heading", name="Cluster Ledger API").wait_for(timeout=30_000)
    buttons = await page.get_by_role("button").all_inner_texts()
    assert any("Test Request" in text for text in buttons)  # the page is there
    for cloud_only in ("Ask AI", "Generate SDK", "Developer Tools", "Deploy"):
        assert not any(cloud_only in text for text in buttons), cloud_only


def test_api_docs_page_names_only_this_servers_assets(served_pages: ServedApp) -> None:
    page = httpx.get(f"{served_pages.url}/schema", timeout=10)
    assert page.status_code == 200
    assert f'src="{SCALAR_URL}"' in page.text
    assert outside_urls(page.text) == []
    assert '<html lang="en">' in page.text
    script = httpx.get(f"{served_pages.url}{SCALAR_URL}", timeout=10)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
