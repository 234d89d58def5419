"""Which requests are pages: everything but the JSON API, the operations endpoints, the API
docs and the static files. Pages sign in with a session (`api.web.session`) and answer errors
as HTML in the reader's language (`api.errors`); the rest answer problem documents."""

from __future__ import annotations

NOT_PAGES = ("/api/", "/health", "/ready", "/schema", "/static/")
NOT_PAGES_PATTERNS = tuple(f"^{prefix}" for prefix in NOT_PAGES)  # for middleware `exclude`


def is_page(path: str) -> bool:
    return not path.startswith(NOT_PAGES)
