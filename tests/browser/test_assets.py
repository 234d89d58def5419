"""Nothing a page loads comes from outside the server: third-party scripts are vendored, pinned
and checked against their sha256, served by the app itself, and no template or stylesheet of
ours names another host."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from api.web.static import HTMX_URL, HTMX_VERSION, STATIC_DIR, STATIC_PATH, VENDOR_DIR
from infra.settings import PROJECT_ROOT
from tests.browser.conftest import NewPage, ServedApp
from tests.browser.support import AXE_SCRIPT, AXE_VERSION, VENDOR, outside_urls

MANIFESTS = (VENDOR_DIR / "SHA256SUMS", VENDOR / "SHA256SUMS")
TEMPLATES = STATIC_DIR.parent / "templates"


def _manifest(path: Path) -> dict[str, str]:
    """`sha256sum` lines: `<hex digest>  <path relative to the manifest's folder>`."""
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        entries[name] = digest
    return entries


def _files_under(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "SHA256SUMS"
    }


@pytest.mark.parametrize(
    "manifest", MANIFESTS, ids=lambda p: p.parent.relative_to(PROJECT_ROOT).as_posix()
)
def test_every_vendored_file_is_listed_with_its_sha256(manifest: Path) -> None:
    listed = _manifest(manifest)
    assert listed, f"{manifest} lists nothing"
    assert _files_under(manifest.parent) == set(listed), "files and manifest differ"
    for name, digest in listed.items():
        actual = hashlib.sha256((manifest.parent / name).read_bytes()).hexdigest()
        assert actual == digest, f"{name}: sha256 {actual}, manifest says {digest}"


def test_htmx_is_the_pinned_2_0_release() -> None:
    """htmx 2.0.x: the npm `latest` tag is 4.x, whose request headers Litestar's htmx plugin
    does not read."""
    assert HTMX_VERSION.startswith("2.0.")
    script = STATIC_DIR / HTMX_URL.removeprefix(f"{STATIC_PATH}/")
    assert f'version:"{HTMX_VERSION}"' in script.read_text(encoding="utf-8")
    assert (script.parent / "LICENSE").is_file()


def test_axe_core_is_the_pinned_release() -> None:
    assert AXE_SCRIPT.read_text(encoding="utf-8").startswith(f"/*! axe v{AXE_VERSION}\n")
    assert (AXE_SCRIPT.parent / "LICENSE").is_file()


def test_no_template_or_stylesheet_of_ours_names_another_host() -> None:
    """Everything under `api/web/templates/` and `api/web/static/` except the vendored files
    (which mention addresses in their documentation strings and are checked by sha256)."""
    ours = [
        p for folder in (TEMPLATES, STATIC_DIR) if folder.is_dir()
        for p in folder.rglob("*") if p.is_file() and VENDOR_DIR not in p.parents
    ]
    assert ours, "nothing to check"
    offending = {
        p.relative_to(STATIC_DIR.parent).as_posix(): urls
        for p in ours
        if (urls := outside_urls(p.read_text(encoding="utf-8")))
    }
    assert not offending


def test_the_address_check_finds_scripts_styles_and_fonts_from_elsewhere() -> None:
    text = """
        <script src="https://unpkg.com/htmx.org@2.0.11"></script>
        <link rel="stylesheet" href="//cdn.example.org/site.css">
        <style>@font-face { src: url(https://fonts.example.com/a.woff2) }</style>
        <svg xmlns="http://www.w3.org/2000/svg"></svg>
        <a href="http://127.0.0.1:8000/board">local</a> <a href="/board">relative</a>
        <script>// a comment, and a//b in a path</script>
    """
    assert outside_urls(text) == [
        "https://unpkg.com/htmx.org@2.0.11", "//cdn.example.org/site.css",
        "https://fonts.example.com/a.woff2",
    ]


def test_the_server_serves_every_vendored_file_as_it_is_on_disk_without_a_token(
    served_pages: ServedApp,
) -> None:
    with httpx.Client(base_url=served_pages.url, timeout=10) as client:
        for name in _manifest(VENDOR_DIR / "SHA256SUMS"):
            response = client.get(f"{STATIC_PATH}/vendor/{name}")
            assert response.status_code == 200, name
            assert response.content == (VENDOR_DIR / name).read_bytes(), name


@pytest.mark.parametrize("path", [
    "/static/%2e%2e/static.py", "/static/vendor/%2e%2e/%2e%2e/static.py",
    "/static/..%2fstatic.py", "/static/missing.js",
])
def test_nothing_outside_the_static_folder_is_served(served_pages: ServedApp, path: str) -> None:
    response = httpx.get(f"{served_pages.url}{path}", timeout=10)
    assert response.status_code == 404
    assert b"def static_files_router" not in response.content


async def test_vendored_htmx_runs_in_the_browser_against_the_app(new_page: NewPage) -> None:
    """htmx loaded from the server swaps in an answer of the app (`/health`)."""
    page = await new_page("en")
    await page.goto("/health")  # any page of this server, so that the script loads from it
    await page.set_content(f"""<!DOCTYPE html><html lang="en"><head><title>htmx</title>
        <script src="{HTMX_URL}"></script></head>
        <body><button hx-get="/health" hx-target="#out">check</button><output id="out"></output>
        </body></html>""")
    assert await page.evaluate("() => window.htmx.version") == HTMX_VERSION
    await page.get_by_role("button", name="check").click()
    await page.locator("#out").get_by_text('"status":"ok"').wait_for(timeout=10_000)
