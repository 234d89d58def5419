"""HTML forms submit every field, an empty one as `name=`. On a page an empty filter means "not
given", so the query string of a page request loses its empty parameters before Litestar
parses them (a date or a number parameter would otherwise refuse "" with a 400)."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from api.paths import is_page


class EmptyFieldsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and is_page(scope["path"]):
            query = scope["query_string"]
            if b"=&" in query + b"&":
                kept = [part for part in query.split(b"&") if part and not part.endswith(b"=")]
                scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)
