"""Browser tests: Playwright's async API driving Debian's chromium against the real app.

- `served_pages`: the app served by uvicorn over HTTP on a free port, on a database of its
  own holding the demo data, its read views caught up before any test runs.
- `browser`: one headless chromium for the session (`/usr/bin/chromium`: `make system-deps`
  installs it; Playwright's own browser download is never used).
- `new_page(lang)`: a page in a fresh context (no cookies) speaking `zh` or `en`
  (`Accept-Language` and the browser's locale), its relative URLs on the served app. Every
  request to another host is aborted and recorded, and so is every uncaught script error:
  either fails the test when its page closes.

Helpers (axe-core, screenshots, keyboard, login) are in `tests/browser/support.py`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
import uvicorn
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Route,
    WebError,
    async_playwright,
)

from api.app import create_app
from infra.database import ConnectionInfo
from infra.demo import load_demo
from infra.keys import generate_ed25519_pem
from infra.settings import Settings
from tests.integration.audit_support import fresh_database

CHROMIUM: Final = Path("/usr/bin/chromium")
# Headless, as root, on a machine with no internet: without the background-networking flags
# chromium keeps trying (and failing) to reach Google's services.
CHROMIUM_ARGS: Final = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
ACCEPT_LANGUAGE: Final = {"zh": "zh-CN,zh;q=0.9", "en": "en-GB,en;q=0.9"}
LOCALE: Final = {"zh": "zh-CN", "en": "en-GB"}
START_SECONDS: Final = 60  # generous bounds on start-up, not performance assertions
CATCH_UP_SECONDS: Final = 120

NewPage = Callable[..., Awaitable[Page]]


class ServedApp(msgspec.Struct, frozen=True, kw_only=True):
    url: str  # http://127.0.0.1:<port>
    conn: ConnectionInfo  # the app's own database (for creating accounts, say)
    settings: Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_caught_up(url: str, thread: threading.Thread) -> None:
    """`/ready` is 200 once every read view has processed the whole log (the app is started
    with `ready_max_lag=0`), so that pages show all the demo data."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        assert thread.is_alive(), "the server stopped"
        response = httpx.get(f"{url}/ready", timeout=10)
        if response.status_code == 200:
            return
        assert time.monotonic() < deadline, f"views not caught up: {response.text}"
        time.sleep(0.2)


@pytest.fixture(scope="session")
def served_pages(
    pg: ConnectionInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApp]:
    """The app over real HTTP on a database of its own, with the demo data loaded."""
    database = fresh_database(pg)
    own = next(database)
    try:
        load_demo(own.ledger)
        private, public = generate_ed25519_pem()
        settings = Settings(
            database_url=own.conn.url, data_dir=tmp_path_factory.mktemp("browser-data"),
            jwt_public_key=public, jwt_private_key=private, ready_max_lag=0,
        )
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(
            create_app(settings, conn=own.conn), host="127.0.0.1", port=port,
            log_level="warning", lifespan="on", access_log=False,
        ))
        thread = threading.Thread(target=server.run, name="browser-test-server", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + START_SECONDS
            while not server.started:
                assert thread.is_alive(), "the server stopped while starting"
                assert time.monotonic() < deadline, f"not started within {START_SECONDS} s"
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port}"
            _wait_until_caught_up(url, thread)
            yield ServedApp(url=url, conn=own.conn, settings=settings)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    finally:
        next(database, None)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: run `make system-deps` (as root), or "
        "`apt-get install -y --no-install-recommends chromium fonts-wqy-microhei`"
    )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True,
        )
        try:
            yield chromium
        finally:
            await chromium.close()


class _Watch:
    """What a context's pages tried that a page of this app must not: a request to another
    host, or an uncaught script error."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.outside: list[str] = []
        self.errors: list[str] = []

    async def route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in {"data", "blob", "about"} or f"{parts.scheme}://{parts.netloc}" == (
            self.origin
        ):
            await route.continue_()
            return
        self.outside.append(url)
        await route.abort("blockedbyclient")

    def web_error(self, error: WebError) -> None:
        name, message = error.error.name, error.error.message
        self.errors.append(f"{name}: {message}" if name else message)

    def problems(self) -> list[str]:
        return [f"request outside the server: {url}" for url in self.outside] + [
            f"script error: {error}" for error in self.errors
        ]


@pytest.fixture
async def new_page(browser: Browser, served_pages: ServedApp) -> AsyncIterator[NewPage]:
    """`await new_page("zh")` / `await new_page("en")`: a page in a fresh context. When the test
    ends, every context is closed, and the test fails if one of its pages tried to reach
    another host or raised an uncaught script error."""
    opened: list[tuple[BrowserContext, _Watch]] = []

    async def open_page(lang: str = "zh") -> Page:
        context = await browser.new_context(
            base_url=served_pages.url, locale=LOCALE[lang],
            extra_http_headers={"Accept-Language": ACCEPT_LANGUAGE[lang]},
        )
        watch = _Watch(served_pages.url)
        opened.append((context, watch))
        await context.route("**/*", watch.route)
        context.on("weberror", watch.web_error)
        return await context.new_page()

    try:
        yield open_page
    finally:
        problems = []
        for context, watch in opened:
            await context.close()
            problems.extend(watch.problems())
    assert not problems, "\n".join(problems)
