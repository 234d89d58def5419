"""Helpers for the browser tests (Playwright's async API, Debian's chromium).

- `axe_violations(page)` / `assert_accessible(page)`: axe-core, vendored in
  `tests/browser/vendor/`, run in the page; serious and critical violations.
- `screenshot(page, name, lang)`: a full-page PNG in `var/test-output/screenshots/<lang>/`.
- `tab_to(page, selector)`: press Tab until the element has the focus (bounded), to show that a
  page works by keyboard.
- `login(page, username, password)`: the `/login` form (fields `username`, `password`).
- `platform_fonts(page, selector)`: the fonts chromium really drew an element's text with (to
  prove that Chinese is drawn by a CJK font, not as empty boxes).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from playwright.async_api import Page

from infra.settings import PROJECT_ROOT

OUTPUT: Final = PROJECT_ROOT / "var" / "test-output"
SCREENSHOTS: Final = OUTPUT / "screenshots"
VENDOR: Final = Path(__file__).parent / "vendor"
AXE_VERSION: Final = "4.14.1"
AXE_SCRIPT: Final = VENDOR / "axe-core" / AXE_VERSION / "axe.min.js"
SERIOUS: Final = frozenset({"serious", "critical"})
LANGUAGES: Final = ("zh", "en")


@functools.cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


async def axe_violations(page: Page, *, impacts: frozenset[str] = SERIOUS) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, those of the given impacts (serious and
    critical by default). Each is axe's own record: `id`, `impact`, `help`, `helpUrl`, `nodes`
    (with their `target` selectors and `failureSummary`).

    The script is evaluated in the page rather than added as a `<script>` tag, so that a page's
    Content-Security-Policy cannot stop it."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(_axe_source())
    results: dict[str, Any] = await page.evaluate(
        """async () => await window.axe.run(document, {resultTypes: ["violations"]})"""
    )
    return [v for v in results["violations"] if v.get("impact") in impacts]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']}")
        lines.extend(
            f"    {' '.join(node['target'])}: {node.get('failureSummary', '')}".rstrip()
            for node in violation["nodes"]
        )
    return "\n".join(lines)


async def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    violations = await axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n{describe_violations(violations)}"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"


async def screenshot(page: Page, name: str, lang: str, *, full_page: bool = True) -> Path:
    """A PNG of the page (the whole page, or what the window shows) into
    `var/test-output/screenshots/<lang>/<name>.png`, once its web fonts are ready. Returns the
    file's path."""
    assert lang in LANGUAGES, lang
    folder = SCREENSHOTS / lang
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe_name(name)}.png"
    await page.evaluate("async () => { await document.fonts.ready; }")
    await page.screenshot(path=str(path), full_page=full_page)
    return path


_DESCRIBE_FOCUS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return "(body)";
    const id = el.id ? "#" + el.id : "";
    const name = el.getAttribute("name") ? `[name=${el.getAttribute("name")}]` : "";
    const text = (el.innerText || el.value || "").trim().slice(0, 30);
    return `${el.tagName.toLowerCase()}${id}${name}${text ? " " + JSON.stringify(text) : ""}`;
}"""


async def focused(page: Page) -> str:
    """A short description of the element that has the keyboard focus."""
    description: str = await page.evaluate(_DESCRIBE_FOCUS)
    return description


async def tab_to(page: Page, selector: str, *, max_presses: int = 60, shift: bool = False) -> int:
    """Press Tab (Shift+Tab with `shift`) until the element matching `selector` has the focus;
    return how many presses it took. Fails, naming every element the focus passed through, when
    it is not reached within `max_presses`: the element cannot be reached by keyboard."""
    key = "Shift+Tab" if shift else "Tab"
    path: list[str] = []
    for presses in range(1, max_presses + 1):
        await page.keyboard.press(key)
        if await page.evaluate(
            "(selector) => document.activeElement?.matches(selector) ?? false", selector
        ):
            return presses
        path.append(await focused(page))
    raise AssertionError(
        f"{selector!r} not reached by {key} in {max_presses} presses on {page.url}; "
        f"the focus went through: {' -> '.join(path)}"
    )


async def login(page: Page, username: str, password: str) -> None:
    """Sign in through the `/login` form by keyboard alone: type the name and the password,
    press Enter. Fails if the browser is still on `/login` afterwards (wrong password, a CSRF
    refusal, throttling), with the page's text."""
    await page.goto("/login")
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(password)
    async with page.expect_navigation():
        await page.locator("input[name=password]").press("Enter")
    if urlsplit(page.url).path.rstrip("/") == "/login":
        text = await page.locator("body").inner_text()
        raise AssertionError(f"still on /login after signing in as {username!r}: {text[:500]}")


async def platform_fonts(page: Page, selector: str) -> dict[str, int]:
    """The fonts chromium drew the text of the first element matching `selector` with, each
    with how many glyphs it drew (DevTools' `CSS.getPlatformFontsForNode`). Text drawn with no
    font that has its characters shows up as missing glyphs ("tofu") rather than here."""
    session = await page.context.new_cdp_session(page)
    try:
        await session.send("DOM.enable")
        await session.send("CSS.enable")
        document = await session.send("DOM.getDocument", {"depth": 0})
        found = await session.send(
            "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": selector}
        )
        assert found["nodeId"], f"no element matches {selector!r}"
        fonts = await session.send("CSS.getPlatformFontsForNode", {"nodeId": found["nodeId"]})
    finally:
        await session.detach()
    counts: dict[str, int] = {}
    for font in fonts["fonts"]:
        counts[font["familyName"]] = counts.get(font["familyName"], 0) + font["glyphCount"]
    return counts


# XML namespace names look like addresses but are never fetched (inline SVG charts use them).
NAMESPACE_URIS: Final = frozenset({
    "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/XML/1998/namespace",
})
# `http(s)://host...`, or a protocol-relative `//host...` where an address starts (an
# attribute's value, `url(`, `@import "`), not a `// comment` or a `//` inside a path.
_ADDRESS: Final = re.compile(
    r"""https?://[^\s"'<>()`]+|(?<=["'(=])//[^\s"'<>()`/][^\s"'<>()`]*""", re.IGNORECASE
)
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def outside_urls(text: str) -> list[str]:
    """Every address in `text` (a template, a stylesheet, a served page) that points at another
    host. Local addresses and XML namespace names (never fetched) are left out."""
    found = []
    for match in _ADDRESS.finditer(text):
        url = match.group(0).rstrip(".,;")
        host = urlsplit(url if "://" in url else f"http:{url}").hostname or ""
        if url not in NAMESPACE_URIS and host not in _LOCAL_HOSTS:
            found.append(url)
    return found
