"""Static files served by the app itself: nothing a page or the API docs load comes from outside
the server (the users' intranet has no internet).

Third-party scripts live under `static/vendor/<package>/<version>/`, each beside its licence,
byte for byte as published on npm; `static/vendor/SHA256SUMS` lists every one of them (checked
by `tests/browser/test_assets.py`, and by `sha256sum -c SHA256SUMS` in that folder). To update
one: add the new version's folder, point the constant below at it, delete the old folder,
regenerate SHA256SUMS.

- htmx 2.0.11 (npm `htmx.org`, `dist/htmx.min.js`): the newest 2.0 release. Not the npm
  `latest` tag (4.x), whose request headers Litestar's htmx plugin does not read.
- Scalar API Reference 1.76.0 (npm `@scalar/api-reference`, `dist/browser/standalone.js`):
  the API docs page at `/schema`, one self-contained bundle (its styles included).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
VENDOR_DIR = STATIC_DIR / "vendor"

HTMX_VERSION = "2.0.11"
SCALAR_VERSION = "1.76.0"
HTMX_URL = f"{STATIC_PATH}/vendor/htmx/{HTMX_VERSION}/htmx.min.js"
SCALAR_URL = f"{STATIC_PATH}/vendor/scalar-api-reference/{SCALAR_VERSION}/standalone.js"
API_DOCS_CSS_URL = f"{STATIC_PATH}/api-docs.css"

# Scalar's defaults reach out to its own services: web fonts, telemetry, and a proxy for the
# "send request" client. Off here; requests from the docs page go to this server directly.
SCALAR_OPTIONS = {
    "withDefaultFonts": False, "telemetry": False, "proxyUrl": "",
    "showDeveloperTools": "never", "agent": {"disabled": True},
}


def static_files_router() -> Router:
    """`/static/...` from `api/web/static/`, without a token or a session (the login page and
    the API docs need them before anyone signs in)."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        name="static",
        opt={"exclude_from_auth": True},  # AbstractAuthenticationMiddleware's opt key
        include_in_schema=False,
    )


class ApiDocsPage(ScalarRenderPlugin):
    """Litestar's Scalar page, written out here: with `<html lang="en">` (the API's
    descriptions are English; axe-core requires a language), without Litestar's favicon (an
    image on a public CDN), and with the configuration as the script element's attribute
    rather than in an inline script (so a strict Content-Security-Policy can serve it)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        spec_url = html.escape(self.get_openapi_json_route(request))
        options = html.escape(json.dumps(self.options or {}, separators=(",", ":")))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{html.escape(self.css_url)}">
</head>
<body>
<noscript>The API documentation needs JavaScript; the document itself is at
<a href="{spec_url}">{spec_url}</a>.</noscript>
<script id="api-reference" data-url="{spec_url}" data-configuration="{options}"></script>
<script src="{html.escape(self.js_url)}"></script>
</body>
</html>
""".encode()


def api_docs_plugin() -> ScalarRenderPlugin:
    """The `/schema` page (Scalar) from this server's own files."""
    return ApiDocsPage(js_url=SCALAR_URL, css_url=API_DOCS_CSS_URL, options=SCALAR_OPTIONS)
