"""The pages' template configuration: Jinja templates in `api/web/templates/`, autoescaped."""

from __future__ import annotations

from pathlib import Path

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's Jinja engine over `TEMPLATES_DIR` (HTML autoescaped; `csrf_token()` and
    `url_for()` available in every template)."""
    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine)
