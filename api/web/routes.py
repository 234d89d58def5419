"""The pages' route handlers, gathered for `create_app` (each module exposes ROUTES)."""

from __future__ import annotations

import importlib
from typing import Any

PAGE_MODULES = (
    "api.web.overview",
    "api.web.board",
    "api.web.case",
    "api.web.funding",
    "api.web.deadlines",
    "api.web.audit",
)


def page_routes() -> list[Any]:
    handlers: list[Any] = []
    for module_name in PAGE_MODULES:
        handlers.extend(importlib.import_module(module_name).ROUTES)
    return handlers
