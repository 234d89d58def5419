"""`GET /lang/{code}?next=/path`: the language switch of the pages.

A plain link (works without JavaScript) that remembers the choice in the `lang` cookie for a
year and sends the browser back to `next`. A GET that sets a preference is harmless to
forge (it changes only the language the pages are shown in), so it needs no CSRF token and
no sign-in: the login page has the switch too. `next` must be a path on this server; anything
else (another host, `//host`, a scheme, a backslash) sends the browser to `/`.
"""

from __future__ import annotations

import re
from typing import Annotated

from litestar import get
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from api.errors import ApiError
from api.i18n.catalogue import LOCALES
from api.i18n.negotiation import LANG_COOKIE

COOKIE_MAX_AGE = 365 * 24 * 3600
# One path on this server: "/" and then no "/" or "\" right after it, no control characters
# or backslashes anywhere (browsers read "\" as "/").
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\\\x00-\x20\x7f]*$")
_MAX_NEXT = 2000


def local_path(candidate: str | None) -> str:
    """`candidate` if it is a path on this server, else "/"."""
    if candidate and len(candidate) <= _MAX_NEXT and _LOCAL_PATH.match(candidate):
        return candidate
    return "/"


@get(
    "/lang/{code:str}",
    operation_id="set_language",
    include_in_schema=False,  # a page link, not part of the JSON API
    exclude_from_auth=True,
    status_code=303,
)
async def set_language(
    code: FromPath[str],
    next_path: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Redirect:
    """Remember the language in the `lang` cookie and go back to `next` (default `/`)."""
    if code not in LOCALES:
        raise ApiError(
            404,
            "unsupported_language",
            f"no language {code!r}; the pages are in {' and '.join(LOCALES)}",
            fields=["code"],
        )
    return Redirect(
        local_path(next_path),
        status_code=303,
        headers={"Cache-Control": "no-store"},
        cookies=[
            Cookie(
                key=LANG_COOKIE, value=code, max_age=COOKIE_MAX_AGE, path="/",
                samesite="lax", httponly=False,
            )
        ],
    )


ROUTES = [set_language]
